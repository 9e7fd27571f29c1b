"""Showing a flow's DAG on a page: an SVG image drawn on the server, or Streamlit's graphviz chart without `dot`.

The graphviz chart lays the graph out in the browser, which holds chromium's main thread about 3 s per picture:
the Ingest page redraws its DAG twice a second during a run, so the page froze on one picture. An SVG image
is only painted. (`st.html` would keep the nodes' tooltips, but its sanitiser removes SVG.)"""

from __future__ import annotations

from typing import Any

import graphviz

from workbench.api import dag_svg


def show_dag(place: Any, digraph: graphviz.Digraph | graphviz.Source) -> None:
    """Draw the DAG in `place` (the page, a column, an `st.empty()` slot being redrawn): as an SVG image when `dot`
    is here, at its natural size or shrunk to the column, so a picture redrawn twice a second keeps up."""
    svg = dag_svg(digraph)
    if svg is None:
        place.graphviz_chart(digraph, width="stretch")
    else:
        place.image(svg, width="content")
