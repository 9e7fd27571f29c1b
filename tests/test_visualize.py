"""The live DAG picture: the nodes a run executes, their origin module, and status colours."""

from workbench import api
from workbench.visualize import STATUS_COLOURS, execution_graph, status_digraph


def _graph(data_dir, **config):
    return execution_graph(api.driver_for({"source": "files", "data_dir": str(data_dir), **config}), api.INGEST_TARGETS)


def test_execution_graph_has_function_nodes_only_and_their_edges(data_dir):
    graph = _graph(data_dir)
    assert {"parsed_files", "chunks", "fresh_embeddings", "written_chunk_ids", "ingestion_counts"} <= set(graph.nodes)
    assert "input_files" not in graph.nodes and "chunk_size" not in graph.nodes  # inputs and config are left out
    assert ("chunks", "new_chunks") in graph.edges and ("written_chunk_ids", "deleted_chunk_ids") in graph.edges
    assert "search_hits" not in graph.nodes  # not upstream of the ingestion targets


def test_swapping_store_or_service_changes_the_picture(data_dir):
    lance = _graph(data_dir)
    pinecone = _graph(data_dir, vector_db="pinecone", embedding_service="cohere")
    assert lance.origins["store_client"] == "stores.lancedb" and pinecone.origins["store_client"] == "stores.pinecone"
    assert pinecone.origins["fresh_embeddings"] == "embedders · cohere"
    assert status_digraph(lance, {}).source != status_digraph(pinecone, {}).source


def test_status_colours_and_elapsed_times(data_dir):
    source = status_digraph(_graph(data_dir), {"chunks": ("done", 1.5), "fresh_embeddings": ("running", 0.0),
                                                "written_chunk_ids": ("failed", 0.25)}).source
    done_fill, running_fill, failed_fill = STATUS_COLOURS["done"][0], STATUS_COLOURS["running"][0], STATUS_COLOURS["failed"][0]
    chunks_line = next(line for line in source.splitlines() if line.strip().startswith("chunks "))
    assert done_fill in chunks_line and "done 1.50s" in chunks_line
    assert running_fill in next(line for line in source.splitlines() if line.strip().startswith("fresh_embeddings "))
    assert "failed 0.25s" in source and failed_fill in source
    assert source.count("pending") >= 20


def test_every_node_of_the_drawn_graph_reports_done_during_an_ingest(data_dir):
    """What the live DAG draws is what fires: after an ingest, no drawn node is left pending."""
    from ragkit.schema import InputFile
    from workbench.lifecycle import NodeStatusListener

    config = {"source": "files", "data_dir": str(data_dir), "index_name": "live"}
    graph = _graph(data_dir, index_name="live")
    events: dict[str, str] = {}
    api.ingest(config, files=[InputFile("owls.txt", b"Owls hunt at night. They have silent feathers.")],
                  adapters=[NodeStatusListener(lambda name, state, elapsed, error: events.__setitem__(name, state))])
    assert {name: events.get(name) for name in graph.nodes} == {name: "done" for name in graph.nodes}


class _Place:
    """Stands in for a Streamlit slot: records what was drawn in it."""

    def __init__(self) -> None:
        self.drawn: list[tuple[str, object]] = []

    def image(self, image: object, **_: object) -> None:
        self.drawn.append(("image", image))

    def graphviz_chart(self, chart: object, **_: object) -> None:
        self.drawn.append(("graphviz_chart", chart))


def test_the_dag_is_an_svg_image_drawn_here_and_a_browser_chart_without_dot(monkeypatch):
    import base64

    import graphviz

    from tests.svg_pictures import SVG_DATA_URL, svg_text
    from ui.dag_view import show_dag
    from workbench.visualize import dag_svg

    digraph = graphviz.Digraph()
    digraph.node("chunks", label="chunks running 2.0s")
    digraph.node("embeddings", label="embeddings & more")
    digraph.edge("chunks", "embeddings")
    svg = dag_svg(digraph)
    assert svg.startswith("<svg") and "<?xml" not in svg
    words = svg_text(SVG_DATA_URL + base64.b64encode(svg.encode()).decode())
    assert words.split("\n") == ["chunks running 2.0s", "embeddings & more"]
    place = _Place()
    show_dag(place, digraph)
    assert place.drawn == [("image", svg)]

    def no_dot(*_: object, **__: object) -> str:
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(graphviz.Digraph, "pipe", no_dot)
    fallback = _Place()
    show_dag(fallback, digraph)
    assert fallback.drawn == [("graphviz_chart", digraph)]
