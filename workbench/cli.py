"""Command line: `python -m workbench ingest|query|ask|eval|tune|questions|evals|runs|indexes|documents|delete-document|delete-index`
(also `python -m dataflows ...`).

Flags build the same plain config dict as the UI and hand it to the driver layer. API keys come
from the environment (OPENAI_API_KEY, COHERE_API_KEY, PINECONE_API_KEY, WEAVIATE_API_KEY) or
.streamlit/secrets.toml — never from flags, so they stay out of shell history.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any, TextIO

from ragkit.backends import Registry
from ragkit.errors import ConfigError, FileParseError, WorkbenchError
from ragkit.failures import expected_failure
from ragkit.parsers import PDF_PARSERS
from ragkit.redaction import redact
from ragkit.schema import Progress
from ragkit.terminal_text import terminal_safe
from ragkit.user_files import read_text_file
from ragkit.wording import page_count, plural
from workbench.config import DEFAULTS, EXECUTORS, HYBRID_FUSIONS, LEXICAL_TOKENIZERS, REGISTRIES, RETRIEVAL_MODES, SOURCES


def _out(text: str = "", file: TextIO | None = None, end: str = "\n", data: bool = False) -> None:
    """The CLI's only writer: every line it prints (results, JSON, errors) is redacted and made terminal-safe.

    `data=True` is output meant for a file (`questions export`): it is escaped only when it goes to a terminal.
    """
    stream = file or sys.stdout
    text = redact(text)
    if not data or stream.isatty():
        text = terminal_safe(text)
    stream.write(text + end)
    stream.flush()


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage and error messages (which quote what was typed) written through `_out`."""

    def _print_message(self, message: str, file: TextIO | None = None) -> None:
        if message:
            _out(message, file=file or sys.stderr, end="")


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from None
    except RecursionError:
        raise argparse.ArgumentTypeError("nested too deeply to read (thousands of levels)") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def _add_backend_flags(parser: argparse.ArgumentParser, registry: Registry, flag: str, help: str,
                       aliases: dict[str, str] | None = None) -> None:
    """The flag that picks a backend of a registry (its choices, and aliases of them), and a flag for each top-level setting its backends declare."""
    aliases = aliases or {}
    named = ", ".join(f"{alias} = {name}" for alias, name in aliases.items())
    parser.add_argument(flag, dest=registry.config_key, choices=[*aliases, *registry.names()], type=lambda text: aliases.get(text, text),
                        help=f"{help} (default {registry.names()[0]}{'; ' + named if named else ''})")
    seen = {action.dest for action in parser._actions}
    for spec in registry:
        for setting in spec.settings:
            if setting.name not in seen:
                seen.add(setting.name)
                parser.add_argument(f"--{setting.name.replace('_', '-')}", dest=setting.name, type=_flag_type(setting.default),
                                    help=f"{spec.label}: {setting.help}")


def _flag_type(default: Any) -> type | None:
    """The argparse type of a setting's flag: its default's number type, so the flag and `resolve_config` agree."""
    return type(default) if isinstance(default, (int, float)) and not isinstance(default, bool) else None


def _store_settings_help() -> str:
    stores = REGISTRIES["vector_db"]
    examples = "; ".join(
        f"{spec.name} " + json.dumps({setting.name: setting.default_for("data") for setting in spec.settings}) for spec in stores
    )
    return f"store settings as JSON: {examples}"


def _add_store_flags(parser: argparse.ArgumentParser, index_flag: bool = True) -> None:
    stores = REGISTRIES["vector_db"]
    parser.add_argument("--vector-db", choices=stores.names(), help=f"vector store (default {stores.names()[0]})")
    parser.add_argument("--vector-db-config", type=_json_object, help=_store_settings_help())
    if index_flag:
        parser.add_argument("--index", dest="index_name", help="index name: " + ", ".join(spec.index_label for spec in stores))
    parser.add_argument("--data-dir", help="folder for run records, manifests, cache (default $WORKBENCH_DATA_DIR or ./data)")
    parser.add_argument("--config", dest="config_file", help="a JSON file with a config dict; flags override it")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _add_retrieval_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", dest="retrieval_mode", choices=RETRIEVAL_MODES, help="dense (default), lexical (BM25) or hybrid")
    parser.add_argument("--fusion", dest="hybrid_fusion", choices=HYBRID_FUSIONS, help="hybrid fusion: rrf (default) or linear")
    parser.add_argument("--alpha", dest="hybrid_alpha", type=float, help="weight of the dense side in hybrid fusion, 0..1 (default 0.5)")
    parser.add_argument("--rrf-k", type=int, help="reciprocal rank fusion constant (default 60)")
    parser.add_argument("--hybrid-candidates", type=int, help="hits taken from each side before fusing (default 50)")
    parser.add_argument("--tokenizer", dest="lexical_tokenizer", choices=LEXICAL_TOKENIZERS, help="full-text tokeniser (LanceDB)")
    parser.add_argument("--no-stem", dest="lexical_stem", action="store_const", const=False, help="full text without stemming")
    parser.add_argument("--no-stop-words", dest="lexical_stop_words", action="store_const", const=False,
                        help="full text keeps stop words")
    _add_backend_flags(parser, REGISTRIES["reranker"], "--reranker", "rerank the candidates")
    parser.add_argument("--rerank-top-n", type=int, help="candidates the reranker scores (default 20)")
    parser.add_argument("--cohere-base-url", help="Cohere endpoint (default: api.cohere.com)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its subcommands."""
    parser = _Parser(prog="python -m workbench", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="parse, chunk, embed and store documents")
    ingest.add_argument("files", nargs="*", help="files to ingest with --source files (PDF, TXT, MD, DOCX, HTML)")
    ingest.add_argument("--source", choices=SOURCES, help="squad or files (default: files when paths are given)")
    ingest.add_argument("--root", dest="ingest_root", help="ingestion root: each file is known in the index by its path "
                        "relative to it (default: the current folder; a file outside it by its base name)")
    ingest.add_argument("--squad-split", help="SQuAD split on the hub: validation or train")
    ingest.add_argument("--squad-path", help="local SQuAD v1.1 JSON (.json or .json.gz), used instead of the hub")
    ingest.add_argument("--limit", type=int, help="at most this many SQuAD paragraphs (0: all)")
    _add_backend_flags(ingest, REGISTRIES["embedding_service"], "--embedding-service", "embedding service")
    ingest.add_argument("--model-name", help="embedding model (default: the service's default); all-MiniLM-L6-v2-onnx-int8 is "
                        "the default model as an int8 ONNX model (faster on CPU, built locally on first use)")
    ingest.add_argument("--embedding-batch-size", type=int, help="texts per model call or API request (default: the service's best)")
    ingest.add_argument("--executor", choices=EXECUTORS, help="how batches run: sync (default), threads, processes or ray")
    ingest.add_argument("--workers", dest="executor_workers", type=int, help="parallel batches for threads/processes/ray (default: CPU cores)")
    ingest.add_argument("--ray-address", help="an existing Ray cluster (\"auto\", ray://host:10001); default: a local Ray instance")
    ingest.add_argument("--batch-documents", dest="ingest_batch_documents", type=int,
                        help="documents per ingestion batch (default 256); each batch is embedded and written on its own")
    ingest.add_argument("--chunk-size", type=int, help="chunk size in characters (default 800)")
    ingest.add_argument("--chunk-overlap", type=int, help="overlap in characters (default 100)")
    ingest.add_argument("--pdf-parser", choices=PDF_PARSERS, help=f"PDF text extraction (default {DEFAULTS['pdf_parser']})")
    for flag, what in (("clean-pdf-text", "join letter-spaced runs, rejoin hyphenated words, drop running headers/footers"),
                       ("chunk-by-sections", "cut chunks at headings"),
                       ("keep-slides", "a page whose text fits one chunk stays one chunk (no: such pages are packed together)"),
                       ("contextual-headers", "embed and index 'title › section' before each chunk's text")):
        name = flag.replace("-", "_")
        ingest.add_argument(f"--{flag}", dest=name, action=argparse.BooleanOptionalAction,
                            help=f"{what} (default {'on' if DEFAULTS[name] else 'off'})")
    ingest.add_argument("--display-dag", metavar="PATH", help="also write the DAG picture to PATH (.png, .svg or .dot)")
    ingest.add_argument("--sync", action="store_true", help="the files given are the whole index: its documents not among "
                        "them are deleted after the run (counted in the run record)")
    _add_store_flags(ingest)

    query = commands.add_parser("query", help="search an index")
    query.add_argument("question")
    query.add_argument("--top-k", type=int, default=5)
    query.add_argument("--preset", help="a retrieval preset of the index (see `tune`); retrieval flags override it")
    _add_retrieval_flags(query)
    _add_store_flags(query)

    ask = commands.add_parser("ask", help="answer a question from an index, with citations (offline, or with an LLM)")
    ask.add_argument("question")
    ask.add_argument("--top-k", type=int, default=5, help="chunks retrieved (default 5)")
    _add_backend_flags(ask, REGISTRIES["llm_service"], "--llm", "who answers", aliases=_LLM_ALIASES)
    ask.add_argument("--llm-model", help="the LLM's model (default: the service's default)")
    ask.add_argument("--history", metavar="FILE", help="the conversation so far: a JSON list of {\"role\", \"content\"} turns "
                     "(a follow-up is searched with its context)")
    _add_retrieval_flags(ask)
    _add_store_flags(ask)

    evaluate = commands.add_parser("eval", help="score retrieval on an index of SQuAD paragraphs (recall@k, MRR, nDCG, latency)")
    evaluate.add_argument("--sample", type=int, default=200, help="questions to sample (0: all; default 200)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the question sample (default 0)")
    evaluate.add_argument("--k", default="1,5,10,20", help="recall cut-offs, comma-separated (default 1,5,10,20)")
    evaluate.add_argument("--squad-path", help="SQuAD v1.1 JSON the index was built from (default: the index's ingestion)")
    evaluate.add_argument("--questions", help="a stored question set (see `questions list`); default: the index's SQuAD questions")
    evaluate.add_argument("--preset", help="a retrieval preset of the index (see `tune`); retrieval flags override it")
    evaluate.add_argument("--answers", action="store_true", help="also score the answering step of --llm (default offline): "
                          "share of answers containing a reference answer; SQuAD exact match and F1 for an LLM")
    _add_backend_flags(evaluate, REGISTRIES["llm_service"], "--llm", "the LLM that answers, with --answers")
    evaluate.add_argument("--llm-model", help="the LLM's model (default: the service's default)")
    _add_retrieval_flags(evaluate)
    _add_store_flags(evaluate)

    tune = commands.add_parser("tune", help="search retrieval settings on half of a question set, check them on the other "
                                             "half, save the best as a preset of the index")
    tune.add_argument("--questions", required=True, help="a stored question set (see `questions list`), or squad")
    tune.add_argument("--preset", default="tuned", help="name of the retrieval preset to save (default tuned)")
    tune.add_argument("--metric", default="mrr@10", help="what to maximise: mrr@10 (default), ndcg@10, recall@1/5/10")
    tune.add_argument("--seed", type=int, default=0, help="seed of the split into halves (default 0)")
    tune.add_argument("--max-questions", type=int, default=500, help="questions per half at most (default 500)")
    _add_retrieval_flags(tune)
    _add_store_flags(tune)

    questions = commands.add_parser("questions", help="question sets: import, list, show, export, delete, generate, review")
    verbs = questions.add_subparsers(dest="verb", required=True)
    imported = verbs.add_parser("import", help="store a CSV, JSONL or BEIR (queries.jsonl + --qrels) file as a question set")
    imported.add_argument("file")
    imported.add_argument("--name", help="the set's name (default: the file name without its extension)")
    imported.add_argument("--qrels", help="BEIR qrels.tsv beside a queries.jsonl")
    imported.add_argument("--for-index", dest="for_index", default="", help="the index key the set was made for (see `indexes`)")
    for verb, text in (("list", "every stored set"), ("show", "one set's questions and labels"),
                       ("export", "a set as JSONL or CSV on stdout"), ("delete", "forget a set")):
        parser_ = verbs.add_parser(verb, help=text)
        if verb != "list":
            parser_.add_argument("name")
        if verb == "export":
            parser_.add_argument("--format", dest="file_format", choices=("jsonl", "csv"), default="jsonl")
    verbs.add_parser("drafts", help="drafts of generated questions and their review counts")
    review = verbs.add_parser("review", help="accept or reject generated candidates (the accepted ones are the set)")
    review.add_argument("name")
    review.add_argument("--accept", default="", help="candidate ids to accept, comma-separated, or 'all' (the pending ones)")
    review.add_argument("--reject", default="", help="candidate ids to reject, comma-separated, or 'all' (the pending ones)")
    for parser_ in verbs.choices.values():
        parser_.add_argument("--data-dir")
        parser_.add_argument("--json", action="store_true")
    generate = verbs.add_parser("generate", help="an LLM writes one question per sampled chunk of an index, to review")
    _add_backend_flags(generate, REGISTRIES["llm_service"], "--llm", "the LLM that writes the questions")
    generate.add_argument("--llm-model", help="the LLM's model (default: the service's default)")
    generate.add_argument("--count", type=int, default=20, help="chunks to sample, one question each (default 20)")
    generate.add_argument("--seed", type=int, default=0, help="seed of the chunk sample (default 0)")
    generate.add_argument("--name", default="", help="the set's name (default generated-<index>)")
    _add_store_flags(generate)

    card = commands.add_parser("scorecard", help="an index's scorecard: relevance, ingestion, cost, footprint, latency, "
                               "infrastructure, licences (stored, history kept)")
    card.add_argument("--index", dest="index_name", required=True, help="index name (or key, see `indexes`)")
    card.add_argument("--vector-db", help="the store, when several indexes share the name")
    card.add_argument("--questions", default="", help="relevance from the last evaluation on this question set (default: any)")
    card.add_argument("--probe", action="store_true", help="time a few searches when there is no evaluation")
    card.add_argument("--diff", action="store_true", help="this scorecard beside the previous stored one")
    card.add_argument("--data-dir")
    card.add_argument("--json", action="store_true")
    compare = commands.add_parser("compare", help="two indexes' scorecards side by side, the better figure marked")
    compare.add_argument("a", help="index name or key")
    compare.add_argument("b", help="index name or key")
    compare.add_argument("--questions", default="", help="relevance from the last evaluation on this question set")
    for priced in (card, compare):
        _add_backend_flags(priced, REGISTRIES["llm_service"], "--llm", "the LLM the chat cost is estimated for",
                           aliases=_LLM_ALIASES)
        priced.add_argument("--llm-model", help="the LLM's model (default: the service's default)")
        priced.add_argument("--max-context-chunks", type=int, help="sources a chat prompt carries (default 5)")
    compare.add_argument("--data-dir")
    compare.add_argument("--json", action="store_true")

    evals = commands.add_parser("evals", help="list past evaluations, newest first")
    evals.add_argument("--index-key", help="only this index (the key shown by `indexes`)")
    evals.add_argument("--limit", type=int, default=20)
    evals.add_argument("--data-dir")
    evals.add_argument("--json", action="store_true")

    runs = commands.add_parser("runs", help="list ingestion runs")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--data-dir")
    runs.add_argument("--json", action="store_true")

    indexes = commands.add_parser("indexes", help="list indexes and their manifests")
    indexes.add_argument("--data-dir")
    indexes.add_argument("--json", action="store_true")

    listed = commands.add_parser("documents", help="list the documents of an index: name, title, pages, chunks, last run")
    _add_store_flags(listed)
    deleted = commands.add_parser("delete-document", help="delete documents (by id or source name) from an index, with "
                                  "their chunks, full-text entries and kept source files")
    deleted.add_argument("documents", nargs="+", metavar="DOC", help="a document id or source name (see `documents`)")
    deleted.add_argument("--yes", action="store_true", help="really delete (without it, nothing is deleted)")
    _add_store_flags(deleted)
    dropped = commands.add_parser("delete-index", help="delete an index: the store drops it, its manifest and kept sources go")
    dropped.add_argument("index_name", metavar="NAME", help="the index name")
    dropped.add_argument("--yes", action="store_true", help="really delete (without it, nothing is deleted)")
    _add_store_flags(dropped, index_flag=False)

    for name, text in (("check", "verify an index against its catalog manifest (counts, chunk ids, vector width, full-text index)"),
                       ("repair", "check an index, recount its manifest, rebuild its full-text index or rebuild it from the sources")):
        checker = commands.add_parser(name, help=text)
        if name == "repair":
            checker.add_argument("files", nargs="*", help="with --from-sources: the files to ingest again")
            checker.add_argument("--rebuild-fts", action="store_true", help="build the full-text index with the lexical flags given")
            checker.add_argument("--from-sources", action="store_true", help="empty the index and ingest the sources again")
            checker.add_argument("--source", choices=SOURCES, help="with --from-sources: squad or files")
            checker.add_argument("--squad-path", help="with --from-sources --source squad: the local SQuAD file")
        checker.add_argument("--tokenizer", dest="lexical_tokenizer", choices=LEXICAL_TOKENIZERS, help="full-text tokeniser (LanceDB)")
        checker.add_argument("--no-stem", dest="lexical_stem", action="store_const", const=False, help="full text without stemming")
        checker.add_argument("--no-stop-words", dest="lexical_stop_words", action="store_const", const=False,
                             help="full text keeps stop words")
        _add_store_flags(checker)
    return parser


def _print_check(report: dict[str, Any]) -> None:
    for line in report.get("done", []):
        _out(f"done: {line}")
    if report["ok"]:
        _out(f"{report['index_name']}: ok ({report['stored']} chunks, as the manifest says)")
        return
    for problem, remedy in zip(report["problems"], report["remedies"]):
        _out(f"problem: {problem} -> {remedy}")


_LLM_ALIASES = {"offline": "extractive"}
_MAX_ARGUMENT_FILE_BYTES = 10 * 2**20  # a --config or --history file (a FIFO or /dev/zero is refused before it is read)
_CONFIG_FLAGS = (
    "source", "squad_split", "squad_path", "limit", "embedding_service", "model_name", "embedding_batch_size",
    "chunk_size", "chunk_overlap", "pdf_parser", "clean_pdf_text", "chunk_by_sections", "keep_slides", "contextual_headers",
    "openai_base_url", "cohere_base_url", "vector_db", "vector_db_config",
    "index_name", "data_dir", "retrieval_mode", "hybrid_fusion", "hybrid_alpha", "rrf_k", "hybrid_candidates",
    "lexical_tokenizer", "lexical_stem", "lexical_stop_words", "reranker", "reranker_model", "rerank_top_n",
    "executor", "executor_workers", "ray_address", "ingest_batch_documents", "llm_service", "llm_model", "ingest_root",
)


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The config dict for parsed flags: a --config file first, then every flag that was given."""
    config: dict[str, Any] = {}
    if getattr(args, "config_file", None):
        config.update(_config_file(args.config_file))
    declared = [setting.name for registry in REGISTRIES.values() if registry.config_key != "vector_db"
                for spec in registry for setting in spec.settings]
    for name in dict.fromkeys([*_CONFIG_FLAGS, *declared]):
        value = getattr(args, name, None)
        if value is not None:
            config[name] = value
    files = getattr(args, "files", None)
    if files:
        config["file_paths"] = files
        config.setdefault("source", "files")
    return config


def _config_file(path: str) -> dict[str, Any]:
    """The config dict of a --config file; ConfigError naming the file when it cannot be read or is not a JSON object."""
    try:
        text = read_text_file(path, _MAX_ARGUMENT_FILE_BYTES, "a --config file is at most 10 MB")
    except (OSError, UnicodeDecodeError, FileParseError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConfigError(f"Cannot read the --config file {path}: {reason}. Give the path of a JSON file holding a config dict.") from None
    try:
        return _json_object(text)
    except argparse.ArgumentTypeError as error:
        raise ConfigError(f"The --config file {path} is {error}; it must hold one JSON object such as "
                          '{"index_name": "docs", "chunk_size": 800}.') from None


class _Bars:
    """tqdm progress bars, one per batched step, on stderr when it is a terminal; nothing when it is a file or a pipe.

    A bar redraws itself with carriage returns and cursor moves, which belong on a terminal only; every bar is
    closed when the command ends, so none is left to redraw into what the next command prints.
    """

    def __init__(self) -> None:
        self._bars: dict[str, Any] = {}
        self._drawn = sys.stderr.isatty()

    def __enter__(self) -> _Bars:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()

    def __call__(self, step: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if total <= 0 or not self._drawn:
            return
        bar = self._bars.get(step)
        if bar is None or bar.disable:
            bar = self._bars[step] = tqdm(total=total, desc=step, unit="item", file=sys.stderr, leave=step == "batches")
        elif done < bar.n or total != bar.total:  # the next batch started this step again
            bar.reset(total=total)
        bar.update(done - bar.n)
        if done >= total and step == "batches":
            bar.close()


def write_dag(config: dict[str, Any], path: str) -> str:
    """Write the ingestion DAG of a config to PATH (.png/.svg need Graphviz's `dot`; .dot never does)."""
    from workbench import api

    target = Path(path)
    digraph = api.dag(config, "ingest")
    if target.suffix.lower() == ".dot" or not shutil.which("dot"):
        dot_path = target.with_suffix(".dot")
        dot_path.write_text(digraph.source, encoding="utf-8")
        if target.suffix.lower() != ".dot":
            return f"Graphviz `dot` is not installed (apt-get install graphviz); wrote {dot_path} instead."
        return f"DAG written to {dot_path}"
    digraph.render(outfile=str(target), format=target.suffix.lstrip(".").lower() or "png", cleanup=True)
    return f"DAG written to {target}"


def _print_run(record: dict[str, Any]) -> None:
    counts = record.get("counts", {})
    _out(f"run {record['run_id']}: {record['status']}")
    _out("  " + ", ".join(f"{name} {value}" for name, value in counts.items()))
    for error in record.get("file_errors", []):
        _out(f"  failed: {error['source_name']}: {error['reason']}")
    slowest = sorted(record.get("timings", {}).items(), key=lambda item: -item[1])[:3]
    _out("  slowest steps: " + ", ".join(f"{name} {seconds:.2f}s" for name, seconds in slowest))


def _print_hits(result: dict[str, Any]) -> None:
    latency = result["latency_ms"]
    rerank = f", rerank {latency['rerank']:.0f} ms" if "rerank" in latency else ""
    _out(f"{len(result['hits'])} hits in {latency['total']:.0f} ms (embed {latency['embed']:.0f} ms, "
          f"search {latency['search']:.0f} ms{rerank})")
    for rank, hit in enumerate(result["hits"], start=1):
        page = f", page {hit['page']}" if hit["page"] else ""
        section = f" › {hit['section']}" if hit.get("section") else ""
        _out(f"\n{rank}. {hit['score']:.3f}  {hit['title']}{section} ({hit['source_name']}{page})")
        _out("   " + hit["text"][:300].replace("\n", " "))


def _history(path: str | None) -> list[dict]:
    """The conversation of `--history FILE`: a JSON list of turns, each with a role and its content."""
    from ragkit.errors import ConfigError

    if not path:
        return []
    try:
        turns = json.loads(read_text_file(path, _MAX_ARGUMENT_FILE_BYTES, "a --history file is at most 10 MB"))
    except OSError as error:
        raise ConfigError(f"--history {path}: {error.strerror or error}.") from None
    except (FileParseError, UnicodeDecodeError) as error:
        raise ConfigError(f"--history {path}: {error}.") from None
    except (json.JSONDecodeError, RecursionError) as error:
        raise ConfigError(f"--history {path} is not valid JSON: {error}.") from None
    if not isinstance(turns, list) or not all(isinstance(t, dict) and isinstance(t.get("content"), str) and t.get("role")
                                              for t in turns):
        raise ConfigError(f"--history {path} must be a JSON list of {{\"role\": ..., \"content\": ...}} turns.")
    return turns


def _citations(text: str, chunks: list[dict]) -> list[dict]:
    """The sources an answer cites ([n] in its text), each with its document, page and chunk id, in source order."""
    cited = {int(number) for number in re.findall(r"\[(\d+)\]", text)}
    return [{"number": number, "document": chunk["source_name"], "title": chunk.get("title", ""), "page": chunk.get("page", 0),
             "chunk_id": chunk["chunk_id"], "score": chunk.get("score")}
            for number, chunk in enumerate(chunks, start=1) if number in cited]


def _ask(args: argparse.Namespace) -> int:
    """`ask`: stream the answer (text), or print one JSON object, with its citations and whether it was extracted or generated."""
    from workbench import api

    result = api.answer(config_from_args(args), args.question, history=_history(args.history), top_k=args.top_k)
    text = ""
    for piece in result["stream"]:
        text += piece
        if not args.json:
            _out(piece, end="")
    citations = _citations(text, result["context_chunks"])
    kind = result["answer_kind"]
    if args.json:
        _out(json.dumps({"question": result["question"], "retrieval_question": result["retrieval_question"], "answer": text,
                          "mode": kind, "llm_service": result["llm_service"],
                          "llm_model": "" if kind == "extracted" else result["llm_model"], "citations": citations,
                          "sources": len(result["context_chunks"]), "latency_ms": result["latency_ms"]}, indent=2, ensure_ascii=False))
        return 0
    _out("" if text.endswith("\n") else "\n")
    for citation in citations:
        page = f", page {citation['page']}" if citation["page"] else ""
        _out(f"[{citation['number']}] {citation['document']}{page}, chunk {citation['chunk_id']}")
    if not citations:
        _out(f"(no source cited; {len(result['context_chunks'])} retrieved)")
    by = "offline, no LLM" if kind == "extracted" else f"{result['llm_service']} {result['llm_model']}"
    searched = f"; searched for: {result['retrieval_question']}" if result["retrieval_question"] != args.question.strip() else ""
    _out(f"\n{kind} ({by}){searched}")
    return 0


def _retrieval_label(config: dict[str, Any]) -> str:
    label = config.get("retrieval_mode", "dense")
    if label == "hybrid":
        fusion = config.get("hybrid_fusion", "rrf")
        constant = f", k {config.get('rrf_k')}" if fusion == "rrf" else ""
        label += f" ({fusion}, alpha {config.get('hybrid_alpha')}{constant})"
    if config.get("reranker", "none") != "none":
        label += f" + {config['reranker']} rerank"
    return label


def _print_evaluation(record: dict[str, Any]) -> None:
    metrics, latency = record["metrics"], record["latency_ms"]
    generated = " (generated questions)" if (record.get("question_set_info") or {}).get("generated") else ""
    _out(f"evaluation {record['eval_id']}: {record['index_key']}, {_retrieval_label(record['config'])}, "
          f"{record['questions']} questions of set {record.get('question_set', 'squad')}{generated} "
          f"(seed {record['sample']['seed']}) in {record['duration_s']:.1f} s")
    labels = record.get("labels") or {}
    if labels.get("unresolved_labels"):
        _out(f"  {labels['unresolved_labels']} of {labels['labels']} labels match no chunk of this index; "
              f"{labels['questions_without_a_resolved_label']} questions left out")
    _out("  " + ", ".join(f"{name} {value:.3f}" for name, value in metrics.items()))
    _out("  latency ms: " + ", ".join(f"{name} {value:.1f}" for name, value in latency.items()))
    answers = record.get("answer_quality")
    if answers:
        scores = ", ".join(f"{name} {answers[name]:.3f}" for name in ("answer_contains", "exact_match", "f1")
                           if answers[name] is not None)
        _out(f"  answers ({answers['llm_service']} / {answers['llm_model']}, {answers['questions']} questions with "
              f"reference answers): {scores}; answer ms p50 {answers['answer_ms_p50']:.0f}")


def _print_scorecard(card: dict[str, Any]) -> None:
    from workbench import api

    _out(f"scorecard of {card['index_key']} ({card['stack']['vector_db']}, {card['stack']['embedding_service']} / "
         f"{card['stack']['model_name']}), {card['created_at']}; prices as of {card['cost']['price_table_as_of']}")
    section, rows = "", api.scorecard_rows(card)
    width = max(len(row["label"]) for row in rows)
    for row in rows:
        if row["section"] != section:
            section = row["section"]
            _out(section)
        _out(f"  {row['label']:<{width}} {row['value']}")
    for part in card["licences"]["store_packages"] + card["licences"]["embedding_packages"]:
        _out(f"  {part['package']} {part['version']}: {part['licence']}")
    for note in [*card["cost"]["notes"], f"chat: {card['cost']['chat']['note']}"]:
        _out(f"  note: {note}")


def _print_diff(a: dict[str, Any], b: dict[str, Any], label_a: str, label_b: str) -> None:
    from workbench import api

    rows = api.diff_scorecards(a, b)
    width = max(len(row["label"]) for row in rows)
    _out(f"{'':<{width + 11}} {label_a[:30]:<32} {label_b[:30]:<32}")
    for row in rows:
        mark_a, mark_b = ("✓ " if row["better"] == "a" else "  "), ("✓ " if row["better"] == "b" else "  ")
        _out(f"{row['section'][:10]:<10} {row['label']:<{width}} {mark_a}{row['a'][:30]:<30} {mark_b}{row['b'][:30]:<30}")
    _out("✓ marks the better figure of a row (lower cost, size and latency; higher relevance and speed)")


def _scorecards(args: argparse.Namespace) -> int:
    """The `scorecard` and `compare` commands."""
    from workbench import api

    data_dir = args.data_dir or ""
    chat = {"llm_service": args.llm_service, "llm_model": args.llm_model, "max_context_chunks": args.max_context_chunks,
            "llm_base_url": args.llm_base_url}
    if args.command == "compare":
        cards = [api.scorecard(api.find_index(name, data_dir), data_dir, args.questions, chat=chat) for name in (args.a, args.b)]
        if args.json:
            _out(json.dumps({"a": cards[0], "b": cards[1], "diff": api.diff_scorecards(*cards)}, indent=2, default=str))
        else:
            _print_diff(cards[0], cards[1], args.a, args.b)
        return 0
    manifest = api.find_index(args.index_name, data_dir, args.vector_db or "")
    card = api.scorecard(manifest, data_dir, args.questions, probe=args.probe, chat=chat)
    if args.diff:
        history = api.scorecard_history(manifest["index_key"], data_dir, limit=2)
        if len(history) < 2:
            raise ConfigError(f"Index {args.index_name!r} has one scorecard only: nothing earlier to diff it with.")
        if args.json:
            _out(json.dumps({"a": history[1], "b": history[0], "diff": api.diff_scorecards(history[1], history[0])},
                            indent=2, default=str))
        else:
            _print_diff(history[1], history[0], f"earlier {history[1]['created_at']}", f"now {history[0]['created_at']}")
        return 0
    if args.json:
        _out(json.dumps(card, indent=2, default=str))
    else:
        _print_scorecard(card)
    return 0


def _with_preset(args: argparse.Namespace) -> dict[str, Any]:
    """The config of the flags, on top of the retrieval preset named by --preset."""
    from workbench import api

    config = config_from_args(args)
    if not getattr(args, "preset", None):
        return config
    return {**api.retrieval_preset(config, args.preset), **config}  # the preset holds only retrieval settings


def _print_tuning(result: dict[str, Any]) -> None:
    split = result["split"]
    _out(f"tuned on {split['tuning_questions']} questions of {split['question_set']}"
          f"{' (generated)' if split['generated'] else ''}, checked on the other {split['held_out_questions']}"
          f" (seed {split['seed']}), maximising {split['metric']}")
    _out(f"\n{'settings':<62} {'R@1':>6} {'R@5':>6} {'MRR@10':>7} {'search p50':>11}")
    for row in result["tuning"][:10]:
        metrics = row["metrics"]
        _out(f"{row['label'][:62]:<62} {metrics['recall@1']:>6.3f} {metrics['recall@5']:>6.3f} {metrics['mrr@10']:>7.3f} "
              f"{row['latency_ms']['search_p50']:>8.1f} ms")
    if len(result["tuning"]) > 10:
        _out(f"... and {len(result['tuning']) - 10} more")
    best, default = result["held_out"]["best"]["metrics"], result["held_out"]["default"]["metrics"]
    _out(f"\nheld-out half: preset {result['preset']!r} = {result['label']}")
    for metric, test in result["comparison"]["tests"].items():
        _out(f"  {metric}: default {test['a']:.3f} -> preset {test['b']:.3f} (difference {test['b'] - test['a']:+.3f}, "
              f"95% CI {test['bootstrap']['ci_low']:+.3f}..{test['bootstrap']['ci_high']:+.3f}, "
              f"sign test p {test['sign_test']['p_value']:.3f})")
    _out(f"  recall@10: default {default.get('recall@10', 0):.3f} -> preset {best.get('recall@10', 0):.3f}")
    _out(f"saved: use it with --preset {result['preset']} (query, eval, ask) or pick it on Retrieve, Compare and Chat")


def _k_values(text: str) -> list[int]:
    from ragkit.errors import ConfigError

    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--k takes comma-separated whole numbers such as 1,5,10,20, not {text!r}.") from None


def _questions(args: argparse.Namespace) -> int:
    """The `questions` verbs."""
    from workbench import api

    data_dir = args.data_dir or ""
    if args.verb == "import":
        result = api.import_questions(args.file, name=args.name or "", index_key=args.for_index, qrels=args.qrels or "",
                                      data_dir=data_dir)
        if args.json:
            _out(json.dumps(result, indent=2))
        else:
            _out(f"question set {result['name']}: {result['questions']} questions, {result['labels']} labels")
            for error in result["errors"]:
                _out(f"  skipped {error}")
        return 0 if not result["errors"] else 3
    if args.verb == "list":
        sets = api.question_sets(data_dir)
        if args.json:
            _out(json.dumps(sets, indent=2))
        for record in [] if args.json else sets:
            origin = record["origin"].get("kind", "")
            model = f" by {record['origin'].get('model')}" if origin == "generated" else ""
            _out(f"{record['name']}: {record['question_count']} questions ({origin}{model})"
                  f"{' for ' + record['index_key'] if record['index_key'] else ''}, updated {record['updated_at']}")
        return 0
    if args.verb == "show":
        found = api.question_set(args.name, data_dir)
        if args.json:
            _out(json.dumps(found.to_json(), indent=2, ensure_ascii=False))
            return 0
        _out(f"{found.name}: {len(found.questions)} questions, from {found.origin}")
        for question in found.questions:
            _out(f"  {question.question_id}  {question.text}")
            for label in question.labels:
                parts = [f"{name} {value!r}" for name, value in (("document", label.document), ("page", label.page),
                         ("answer", label.answer), ("chunks", ",".join(label.chunk_ids))) if value]
                _out(f"      {'relevant' if label.grade >= 2 else 'partly'}: {', '.join(parts)}")
        return 0
    if args.verb == "generate":
        draft = api.generate_questions(config_from_args(args), count=args.count, seed=args.seed, name=args.name)
        if args.json:
            _out(json.dumps(draft, indent=2, ensure_ascii=False))
            return 0
        _out(f"draft {draft['name']}: {len(draft['candidates'])} candidates by {draft['origin']['llm_service']} / "
              f"{draft['origin']['model']}; none counts until accepted (`questions review {draft['name']} --accept ...`)")
        for candidate in draft["candidates"]:
            answer = f"  [answer: {candidate['answer']}]" if candidate["answer"] else "  [label: the chunk]"
            _out(f"  {candidate['id']}  {candidate['question']}{answer}  ({candidate['document']} p.{candidate['page']})")
        for problem in draft["problems"]:
            _out(f"  skipped {problem}")
        return 0
    if args.verb == "drafts":
        drafts = api.question_drafts(data_dir)
        if args.json:
            _out(json.dumps(drafts, indent=2))
        for draft in [] if args.json else drafts:
            _out(f"{draft['name']}: {draft['accepted']} accepted, {draft['rejected']} rejected, {draft['pending']} pending "
                  f"({draft['origin'].get('llm_service')} / {draft['origin'].get('model')}), updated {draft['updated_at']}")
        return 0
    if args.verb == "review":
        draft = api.question_draft(args.name, data_dir)
        pending = [c["id"] for c in draft["candidates"] if c["status"] == "pending"]
        decisions: dict[str, str] = {}
        for status, ids in (("accepted", args.accept), ("rejected", args.reject)):
            chosen = pending if ids.strip() == "all" else [part.strip() for part in ids.split(",") if part.strip()]
            decisions.update(dict.fromkeys(chosen, status))
        result = api.review_questions(args.name, decisions, data_dir)
        if args.json:
            _out(json.dumps({"name": args.name, "accepted": result["accepted"]}, indent=2))
        else:
            _out(f"question set {args.name}: {result['accepted']} accepted questions (generated)")
        return 0
    if args.verb == "export":
        _out(api.export_questions(args.name, args.file_format, data_dir), end="", data=True)
        return 0
    deleted = api.delete_question_set(args.name, data_dir)
    _out(f"question set {args.name} {'deleted' if deleted else 'was not stored'}", file=sys.stderr)
    return 0 if deleted else 2


def _documents(args: argparse.Namespace) -> int:
    """`documents`, `delete-document` and `delete-index`; a deletion without --yes is refused (exit 2), nothing deleted."""
    from workbench import api

    config = config_from_args(args)
    index = config.get("index_name") or api.DEFAULTS["index_name"]
    if args.command == "delete-index":
        manifest = api.index_manifest(config)
        if not args.yes:
            _out(f"error: not deleting index {index!r} ({manifest['chunk_count']} chunks) without --yes; run again with --yes "
                 "to delete it.", file=sys.stderr)
            return 2
        record = api.delete_index(config)
        _print_deletion(record, args.json, f"index {index} deleted")
        return 0
    stored = api.documents(config)
    if args.command == "documents":
        if args.json:
            _out(json.dumps(stored, indent=2, ensure_ascii=False))
            return 0
        for document in stored:
            _out(f"{document['document_id']}  {document['source_name']}  {document['title']!r}  {page_count(document['pages'])}, "
                 f"{plural(document['chunks'], 'chunk')}, last run {document['last_run']}{'' if document['source_kept'] else ', source not kept'}")
        _out(f"{plural(len(stored), 'document')} in index {index}", file=sys.stderr)
        return 0
    chosen = api.resolve_documents(stored, args.documents, index)
    names = ", ".join(document["source_name"] for document in chosen)
    if not args.yes:
        chunks = sum(document["chunks"] for document in chosen)
        _out(f"error: not deleting {len(chosen)} document(s) ({names}; {chunks} chunks) from index {index!r} without --yes; "
             "run again with --yes to delete.", file=sys.stderr)
        return 2
    record = api.delete_documents(config, [document["document_id"] for document in chosen])
    _print_deletion(record, args.json, f"deleted {names} from index {index}")
    return 0


def _print_deletion(record: dict[str, Any], as_json: bool, what: str) -> None:
    if as_json:
        _out(json.dumps(record, indent=2, default=str))
        return
    _out(f"{what}: " + ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in record["counts"].items())
         + f" (run {record['run_id']})")


class _TerminalFormatter(logging.Formatter):
    """A log line as the terminal may show it: its level, then the message redacted, control and bidi characters escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal_safe(redact(f"{record.levelname.lower()}: {record.getMessage()}"))


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code. The one error boundary of the command line: a `WorkbenchError` is
    one line and exit 2; anything else is one line naming its type (exit 1), never a traceback."""
    from workbench.keys import resolve_api_keys

    resolve_api_keys()  # registers every key of the environment and secrets.toml for redaction before anything is printed
    if not logging.getLogger().handlers:  # warnings (a damaged cache rebuilt, ...) reach stderr escaped and redacted
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_TerminalFormatter())
        handler.setLevel(logging.WARNING)
        logging.getLogger().addHandler(handler)
    hamilton_log = logging.getLogger("hamilton")
    if not hamilton_log.handlers:  # with no logging set up, Python would print Hamilton's failed-node traceback and banner
        hamilton_log.addHandler(logging.NullHandler())  # the CLI reports an error itself, in one line
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except WorkbenchError as error:
        _out(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _out("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the boundary: one line, never a traceback (WORKBENCH_DEBUG=1 shows it)
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        expected = expected_failure(error)  # a full disk, a read-only file, damaged index files, input too deep
        if expected is not None:
            _out(f"error: {expected}", file=sys.stderr)
            return 2
        detail = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        _out(f"error: unexpected {type(error).__name__}{': ' + detail if detail else ''}. This is a bug: please report it "
             "(run again with WORKBENCH_DEBUG=1 for the traceback).", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command; returns its exit code."""
    from workbench import api

    if args.command == "ingest":
        config = config_from_args(args)
        if args.display_dag:
            _out(write_dag(config, args.display_dag), file=sys.stderr)
        with _Bars() as bars:
            record = api.ingest(config, progress=None if args.json else Progress(bars), sync=args.sync)
        if args.json:
            _out(json.dumps(record, indent=2, default=str))
        else:
            _print_run(record)
        return 0 if not record.get("file_errors") else 3
    if args.command == "tune":
        result = api.tune_retrieval(config_from_args(args), args.questions, preset_name=args.preset, metric=args.metric,
                                    seed=args.seed, max_questions=args.max_questions)
        if args.json:
            _out(json.dumps(result, indent=2, default=str))
        else:
            _print_tuning(result)
        return 0
    if args.command == "query":
        result = api.search(_with_preset(args), args.question, top_k=args.top_k)
        if args.json:
            _out(json.dumps(result["hits"], indent=2, default=str))
        else:
            _print_hits(result)
        return 0
    if args.command == "ask":
        return _ask(args)
    if args.command == "questions":
        return _questions(args)
    if args.command == "eval":
        record = api.evaluate(_with_preset(args), sample_size=args.sample, seed=args.seed,
                              k_values=_k_values(args.k), squad_path=args.squad_path or "", questions=args.questions or "",
                              answers=args.answers)
        if args.json:
            _out(json.dumps(record, indent=2, default=str))
        else:
            _print_evaluation(record)
        return 0
    if args.command in ("scorecard", "compare"):
        return _scorecards(args)
    if args.command == "evals":
        records = api.evaluations(args.data_dir or "", index_key=args.index_key, limit=args.limit)
        if args.json:
            _out(json.dumps(records, indent=2, default=str))
        for record in [] if args.json else records:
            metrics = record["metrics"]
            _out(f"{record['started_at']}  {record['eval_id']}  {record['index_key']}  {_retrieval_label(record['config'])}: "
                  f"{record['questions']} q, R@1 {metrics.get('recall@1', 0):.3f} R@5 {metrics.get('recall@5', 0):.3f} "
                  f"R@10 {metrics.get('recall@10', 0):.3f} MRR@10 {metrics.get('mrr@10', 0):.3f}")
        return 0
    if args.command == "runs":
        records = api.runs(args.data_dir or "", limit=args.limit)
        if args.json:
            _out(json.dumps(records, indent=2, default=str))
        for record in [] if args.json else records:
            counts = record["counts"]
            if record["kind"] != "ingest":
                done = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in counts.items())
                _out(f"{record['started_at']}  {record['run_id']}  {record['status']:<11} {record['index_key']}  "
                     f"{record['kind']}: {done or '-'}")
                continue
            _out(f"{record['started_at']}  {record['run_id']}  {record['status']:<11} {record['index_key']}  "
                  f"written {counts.get('written', '-')}, failed {counts.get('failed', '-')}")
        return 0
    if args.command in ("check", "repair"):
        config = config_from_args(args)
        report = (api.check_index(config) if args.command == "check" else
                  api.repair(config, rebuild_fts=args.rebuild_fts, from_sources=args.from_sources))
        if args.json:
            _out(json.dumps(report, indent=2, default=str))
        else:
            _print_check(report)
        return 0 if report["ok"] else 3
    if args.command in ("documents", "delete-document", "delete-index"):
        return _documents(args)
    if args.command == "indexes":
        manifests = api.indexes(args.data_dir or "")
        if args.json:
            _out(json.dumps(manifests, indent=2, default=str))
        for manifest in [] if args.json else manifests:
            _out(f"{manifest['index_key']}: {manifest['embedding_service']}/{manifest['model_name']} "
                  f"dim {manifest['dimension']}, {manifest['chunk_count']} chunks, last run {manifest['last_run_id']}")
        return 0
    return 1


def main() -> None:
    """`python -m workbench` (and `python -m dataflows`): offline by default, then exit with the command's code."""
    import os

    # A hub look-up that cannot succeed costs ~25 s; set these to 0 to allow it.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    sys.exit(run())
