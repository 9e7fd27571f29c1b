"""The facade: what pages, the CLI, bench scripts and tests call. One plain config dict in; results and records out.

Each function resolves the config once (`workbench.config.resolve_config`, a frozen value) and hands
that to the flow builder (`workbench.flows`), which picks the node modules and the chosen backends'
modules from the registries. API keys travel beside the config and are never stored.

Every public function is behind one error boundary (`workbench.facade_boundary`): what it raises carries no
secret; expected failures are `WorkbenchError`s with one-line messages.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from dataflows.embedders import EMBEDDERS
from dataflows.llms import LLMS
from dataflows.rerankers import RERANKERS
from dataflows.stores import STORES
from ragkit.schema import InputFile, Progress
from workbench.catalog import Catalog
from workbench.comparing import compare_evaluations, evaluation
from workbench.config import DEFAULTS, PDF_PARSERS, REGISTRIES, ResolvedConfig, default_data_dir, public_config, resolve_config
from workbench.conversations import conversation, new_conversation_id, save_conversation
from workbench.documents import delete_documents, delete_index, documents, resolve_documents
from workbench.evaluating import evaluate
from workbench.facade_boundary import facade_boundary
from workbench.flows import INGEST_TARGETS, QUERY_TARGETS, dag, driver_for, flow_modules
from workbench.indexes import index_key_for, index_manifest, query_config
from workbench.ingesting import execute, index_state, ingest, ingest_estimate, preview_chunks
from workbench.keys import api_key_env_vars, known_api_keys, required_api_keys, resolve_api_keys
from workbench.lifecycle import NodeStatusListener
from workbench.marking import hit_marks, mark_hit, marked_set_name, marks, unmark_hit
from workbench.querying import answer, run_chunks, search
from workbench.question_drafts import (
    delete_question_draft,
    generate_questions,
    question_draft,
    question_drafts,
    review_questions,
)
from workbench.question_sets import (
    delete_question_set,
    export_questions,
    import_question_upload,
    import_questions,
    question_set,
    question_sets,
    save_question_set,
)
from workbench.repairing import check_index, repair
from workbench.scorecard import diff_scorecards, find_index, scorecard, scorecard_history, scorecard_rows
from workbench.source_view import source_view
from workbench.tuning import delete_retrieval_preset, retrieval_preset, retrieval_presets, tune_retrieval
from workbench.visualize import ExecutionGraph, LiveDag, dag_svg, execution_graph, status_digraph

__all__ = [
    "check_index", "repair", "diff_scorecards", "find_index", "scorecard", "scorecard_history", "scorecard_rows",
    "delete_documents", "delete_index", "documents", "resolve_documents", "source_view",
    "DEFAULTS", "EMBEDDERS", "INGEST_TARGETS", "LLMS", "PDF_PARSERS", "QUERY_TARGETS", "REGISTRIES", "RERANKERS", "STORES",
    "ExecutionGraph", "InputFile", "LiveDag", "dag_svg", "NodeStatusListener", "Progress", "ResolvedConfig",
    "answer", "api_key_env_vars", "conversation", "new_conversation_id", "save_conversation", "delete_question_draft", "generate_questions", "question_draft", "question_drafts",
    "review_questions", "compare_evaluations", "dag", "delete_question_set", "evaluation", "export_questions",
    "import_question_upload", "import_questions", "question_set", "question_sets", "save_question_set", "default_data_dir", "driver_for", "evaluate", "evaluations", "execute",
    "flow_graph", "flow_modules", "hit_marks", "mark_hit", "marked_set_name", "marks", "unmark_hit", "index_key_for", "index_manifest", "index_state", "indexes", "ingest", "ingest_estimate",
    "known_api_keys", "preview_chunks", "public_config", "query_config", "required_api_keys", "resolve_api_keys",
    "resolve_config", "run_chunks", "runs", "search", "status_digraph", "delete_retrieval_preset", "retrieval_preset",
    "retrieval_presets", "tune_retrieval",
]


def flow_graph(config: Mapping[str, Any], purpose: str = "ingest") -> ExecutionGraph:
    """The function nodes (and edges) a flow of this config executes, for drawing it with each node's live status."""
    targets = {"ingest": INGEST_TARGETS, "query": QUERY_TARGETS}.get(purpose, QUERY_TARGETS)
    return execution_graph(driver_for(config, purpose), targets)


def _catalog(data_dir: str) -> Catalog:
    return Catalog(resolve_config({"data_dir": data_dir})["data_dir"])


def evaluations(data_dir: str = "", index_key: str | None = None, limit: int = 100,
                question_set: str | None = None) -> list[dict[str, Any]]:
    """Past evaluation records of a data folder (optionally of one index and question set), newest first."""
    return _catalog(data_dir).evaluations(key=index_key, limit=limit, question_set=question_set)


def runs(data_dir: str = "", limit: int = 100) -> list[dict[str, Any]]:
    """Run records of a data folder, newest first."""
    return _catalog(data_dir).runs(limit=limit)


def indexes(data_dir: str = "") -> list[dict[str, Any]]:
    """Manifests of every index built from a data folder."""
    return _catalog(data_dir).manifests()


def _behind_the_boundary() -> None:
    """Every public function of the facade, behind its error boundary (`workbench.facade_boundary`)."""
    for name in __all__:
        value = globals()[name]
        if inspect.isfunction(value) and not getattr(value, "__facade_boundary__", False):
            globals()[name] = facade_boundary(value)


_behind_the_boundary()
