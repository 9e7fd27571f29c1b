"""Drawing a flow's DAG with each node's live status (pending / running / done / done with errors / failed).

Pure graphviz, no Streamlit: the UI shows the picture as SVG that `dot` draws here on the server (`dag_svg`,
about 50 ms), falling back to `st.graphviz_chart` (drawn in the browser) where `dot` is not installed; tests
inspect its DOT source. The browser's own drawing costs chromium's main thread about 3 s per picture, so a
DAG redrawn every half second during a run froze the page; an SVG image is only painted.
"""

from __future__ import annotations

import threading
import time
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


def _suffix(state: str, elapsed: float) -> str:
    if state in ("done", "done with errors", "failed"):
        return f"{state} {elapsed:.2f}s"
    return f"running {elapsed:.1f}s" if state == "running" else state


def status_digraph(graph: ExecutionGraph, status: dict[str, tuple[str, float]] | None,
                   details: dict[str, str] | None = None) -> graphviz.Digraph:
    """The execution graph with each node coloured by its status and labelled with its elapsed time (status None: a plain
    picture); a running node has a thick border; `details` adds a line under a node (its batches, its progress)."""
    digraph = graphviz.Digraph(graph_attr={"rankdir": "TB", "ranksep": "0.25", "nodesep": "0.2"})
    digraph.attr("node", shape="box", style="rounded,filled", fontname="Helvetica", fontsize="10")
    for name in graph.nodes:
        state, elapsed = (status or {}).get(name, ("pending", 0.0))
        fill, border = STATUS_COLOURS.get(state, STATUS_COLOURS["pending"])
        suffix = "" if status is None else _suffix(state, elapsed)
        origin = graph.origins.get(name, "")
        detail = (details or {}).get(name, "")
        lines = ([f"<b>{name}</b>"] + ([f"<font point-size='8'>{origin}</font>"] if origin else []) + ([suffix] if suffix else [])
                 + ([f"<font point-size='9'>{_escape(detail)}</font>"] if detail else []))
        label = "<" + "<br/>".join(lines) + ">"
        extra = {"penwidth": "2.5", "style": "rounded,filled,bold"} if state == "running" else {}
        digraph.node(name, label=label, fillcolor=fill, color=border,
                     tooltip=graph.docs.get(name, "")[:200] or name, **extra)
    for source, target in graph.edges:
        digraph.edge(source, target)
    return digraph


def dag_svg(digraph: graphviz.Digraph | graphviz.Source) -> str | None:
    """The picture as SVG drawn by Graphviz's `dot` here, at its natural size (None when `dot` is not installed)."""
    try:
        svg = digraph.pipe(format="svg", encoding="utf-8")
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError):
        return None
    return svg[svg.find("<svg"):]  # without the XML prolog and doctype


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class LiveDag:
    """What the live DAG shows, built from a run's node events and progress (thread-safe: events may come from a worker thread).

    A node is running from its start event (its elapsed time counted at `status()`), done or done with errors once every
    run of it finished, failed if any run of it failed. A node that runs in the batches shows "n/N batches", and the
    node a progress step is named after shows that step's count while it runs ("120 / 400").
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, list[float]] = {}
        self._done: dict[str, int] = {}
        self._seconds: dict[str, float] = {}
        self._errors: set[str] = set()
        self._failed: set[str] = set()
        self._batched: set[str] = set()
        self.steps: dict[str, tuple[int, int]] = {}

    def node_event(self, name: str, state: str, elapsed: float, error: str = "", batch: int | None = None) -> None:
        """One node event, as `NodeStatusListener` passes it on."""
        with self._lock:
            if batch is not None:
                self._batched.add(name)
            starts = self._running.setdefault(name, [])
            if state == "running":
                starts.append(time.monotonic())
                return
            if starts:
                starts.pop(0)
            self._done[name] = self._done.get(name, 0) + 1
            self._seconds[name] = self._seconds.get(name, 0.0) + elapsed
            if state == "failed":
                self._failed.add(name)
            elif state == "done with errors":
                self._errors.add(name)

    def progress(self, step: str, done: int, total: int) -> None:
        """One progress report, as `Progress` passes it on ("batches", or a batched node's own step)."""
        with self._lock:
            self.steps[step] = (done, total)

    def status(self, now: float | None = None) -> dict[str, tuple[str, float]]:
        """Each node reached, with its state and seconds (a running node: since its earliest run in progress started)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            status = {}
            for name in set(self._running) | set(self._done):
                if name in self._failed:
                    status[name] = ("failed", self._seconds.get(name, 0.0))
                elif self._running.get(name):
                    status[name] = ("running", now - min(self._running[name]))
                elif name in self._done:
                    status[name] = ("done with errors" if name in self._errors else "done", self._seconds[name])
            return status

    def details(self) -> dict[str, str]:
        """The line under each batched node: batches it finished out of the run's, and its own step's count while it runs."""
        with self._lock:
            total = self.steps.get("batches", (0, 0))[1]
            lines = {}
            for name in self._batched:
                parts = [f"{self._done.get(name, 0)}/{total} batches"] if total > 1 else []
                if self._running.get(name) and name in self.steps:
                    done, of = self.steps[name]
                    parts.append(f"{done:,} / {of:,} chunks")
                if parts:
                    lines[name] = " · ".join(parts)
            return lines

    @property
    def has_errors(self) -> bool:
        """Whether a node finished with errors (files that failed)."""
        with self._lock:
            return bool(self._errors)
