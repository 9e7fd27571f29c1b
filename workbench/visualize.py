"""Drawing a flow's DAG with each node's live status (pending / running / done / done with errors / failed).

Pure graphviz, no Streamlit: the UI renders the Digraph with `st.graphviz_chart` (in the browser,
no `dot` binary needed); tests inspect its DOT source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import graphviz
from hamilton import driver as hamilton_driver

STATUS_COLOURS = {
    "pending": ("#f1f3f5", "#868e96"),
    "running": ("#fff3bf", "#f08c00"),
    "done": ("#d3f9d8", "#2b8a3e"),
    "done with errors": ("#ffe8cc", "#d9480f"),  # ran, but some inputs failed in it (files that could not be parsed)
    "failed": ("#ffe3e3", "#c92a2a"),
}


@dataclass
class ExecutionGraph:
    """The function nodes a run will execute (no inputs or config) and the edges between them."""

    nodes: list[str]
    edges: list[tuple[str, str]]
    docs: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)


def _origin(node) -> str:
    """Where a node's code lives: its module, and the @config.when variant ("embedders · openai")."""
    functions = node.originating_functions or ()
    if not functions:
        return ""
    function = functions[0]
    module = function.__module__.removeprefix("dataflows.")
    name = getattr(getattr(function, "__code__", None), "co_name", "")
    variant = name.split("__", 1)[1] if "__" in name else ""
    if variant and module.endswith(f".{variant}"):  # a backend's own module: "embedders.cohere" · cohere → "embedders · cohere"
        module = module.removesuffix(f".{variant}")
    return f"{module} · {variant}" if variant else module


def execution_graph(dr: hamilton_driver.Driver, targets: list[str]) -> ExecutionGraph:
    """The part of a driver's DAG upstream of `targets`, without external inputs and config."""
    upstream = [n for n in dr.what_is_upstream_of(*targets) if not n.is_external_input]
    names = {n.name for n in upstream}
    edges = [
        (dependency, n.name)
        for n in upstream
        for dependency in list(n.required_dependencies) + list(n.optional_dependencies)
        if dependency in names
    ]
    return ExecutionGraph(
        nodes=sorted(names),
        edges=sorted(set(edges)),
        docs={n.name: n.documentation for n in upstream},
        origins={n.name: _origin(n) for n in upstream},
    )


def status_digraph(graph: ExecutionGraph, status: dict[str, tuple[str, float]] | None) -> graphviz.Digraph:
    """The execution graph with each node coloured by its status and labelled with its elapsed time (status None: a plain picture)."""
    digraph = graphviz.Digraph(graph_attr={"rankdir": "TB", "ranksep": "0.25", "nodesep": "0.2"})
    digraph.attr("node", shape="box", style="rounded,filled", fontname="Helvetica", fontsize="10")
    for name in graph.nodes:
        state, elapsed = (status or {}).get(name, ("pending", 0.0))
        fill, border = STATUS_COLOURS.get(state, STATUS_COLOURS["pending"])
        suffix = "" if status is None else f"{state} {elapsed:.2f}s" if state in ("done", "done with errors", "failed") else state
        origin = graph.origins.get(name, "")
        lines = [f"<b>{name}</b>"] + ([f"<font point-size='8'>{origin}</font>"] if origin else []) + ([suffix] if suffix else [])
        label = "<" + "<br/>".join(lines) + ">"
        digraph.node(name, label=label, fillcolor=fill, color=border,
                     tooltip=graph.docs.get(name, "")[:200] or name)
    for source, target in graph.edges:
        digraph.edge(source, target)
    return digraph
