"""Command line: `python -m workbench ingest|query|eval|questions|evals|runs|indexes` (also `python -m dataflows ...`).

Flags build the same plain config dict as the UI and hand it to the driver layer. API keys come
from the environment (OPENAI_API_KEY, COHERE_API_KEY, PINECONE_API_KEY, WEAVIATE_API_KEY) or
.streamlit/secrets.toml — never from flags, so they stay out of shell history.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

from ragkit.backends import Registry
from ragkit.errors import WorkbenchError
from ragkit.schema import Progress
from workbench.config import EXECUTORS, HYBRID_FUSIONS, LEXICAL_TOKENIZERS, REGISTRIES, RETRIEVAL_MODES, SOURCES


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def _add_backend_flags(parser: argparse.ArgumentParser, registry: Registry, flag: str, help: str) -> None:
    """The flag that picks a backend of a registry (its choices), and a flag for each top-level setting its backends declare."""
    parser.add_argument(flag, dest=registry.config_key, choices=registry.names(), help=f"{help} (default {registry.names()[0]})")
    seen = {action.dest for action in parser._actions}
    for spec in registry:
        for setting in spec.settings:
            if setting.name not in seen:
                seen.add(setting.name)
                parser.add_argument(f"--{setting.name.replace('_', '-')}", dest=setting.name, help=f"{spec.label}: {setting.help}")


def _store_settings_help() -> str:
    stores = REGISTRIES["vector_db"]
    examples = "; ".join(
        f"{spec.name} " + json.dumps({setting.name: setting.default_for("data") for setting in spec.settings}) for spec in stores
    )
    return f"store settings as JSON: {examples}"


def _add_store_flags(parser: argparse.ArgumentParser) -> None:
    stores = REGISTRIES["vector_db"]
    parser.add_argument("--vector-db", choices=stores.names(), help=f"vector store (default {stores.names()[0]})")
    parser.add_argument("--vector-db-config", type=_json_object, help=_store_settings_help())
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
    parser = argparse.ArgumentParser(prog="python -m workbench", description=__doc__.split("\n")[0])
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
    ingest.add_argument("--display-dag", metavar="PATH", help="also write the DAG picture to PATH (.png, .svg or .dot)")
    _add_store_flags(ingest)

    query = commands.add_parser("query", help="search an index")
    query.add_argument("question")
    query.add_argument("--top-k", type=int, default=5)
    query.add_argument("--preset", help="a retrieval preset of the index (see `tune`); retrieval flags override it")
    _add_retrieval_flags(query)
    _add_store_flags(query)

    evaluate = commands.add_parser("eval", help="score retrieval on an index of SQuAD paragraphs (recall@k, MRR, nDCG, latency)")
    evaluate.add_argument("--sample", type=int, default=200, help="questions to sample (0: all; default 200)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the question sample (default 0)")
    evaluate.add_argument("--k", default="1,5,10,20", help="recall cut-offs, comma-separated (default 1,5,10,20)")
    evaluate.add_argument("--squad-path", help="SQuAD v1.1 JSON the index was built from (default: the index's ingestion)")
    evaluate.add_argument("--questions", help="a stored question set (see `questions list`); default: the index's SQuAD questions")
    evaluate.add_argument("--preset", help="a retrieval preset of the index (see `tune`); retrieval flags override it")
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
        print(f"done: {line}")
    if report["ok"]:
        print(f"{report['index_name']}: ok ({report['stored']} chunks, as the manifest says)")
        return
    for problem, remedy in zip(report["problems"], report["remedies"]):
        print(f"problem: {problem} -> {remedy}")


_CONFIG_FLAGS = (
    "source", "squad_split", "squad_path", "limit", "embedding_service", "model_name", "embedding_batch_size",
    "chunk_size", "chunk_overlap", "openai_base_url", "cohere_base_url", "vector_db", "vector_db_config",
    "index_name", "data_dir", "retrieval_mode", "hybrid_fusion", "hybrid_alpha", "rrf_k", "hybrid_candidates",
    "lexical_tokenizer", "lexical_stem", "lexical_stop_words", "reranker", "reranker_model", "rerank_top_n",
    "executor", "executor_workers", "ray_address", "ingest_batch_documents", "llm_service", "llm_model", "ingest_root",
)


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The config dict for parsed flags: a --config file first, then every flag that was given."""
    config: dict[str, Any] = {}
    if getattr(args, "config_file", None):
        config.update(_json_object(Path(args.config_file).read_text(encoding="utf-8")))
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


class _Bars:
    """tqdm progress bars, one per batched step, on stderr."""

    def __init__(self) -> None:
        self._bars: dict[str, Any] = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if total <= 0:
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
    print(f"run {record['run_id']}: {record['status']}")
    print("  " + ", ".join(f"{name} {value}" for name, value in counts.items()))
    for error in record.get("file_errors", []):
        print(f"  failed: {error['source_name']}: {error['reason']}")
    slowest = sorted(record.get("timings", {}).items(), key=lambda item: -item[1])[:3]
    print("  slowest steps: " + ", ".join(f"{name} {seconds:.2f}s" for name, seconds in slowest))


def _print_hits(result: dict[str, Any]) -> None:
    latency = result["latency_ms"]
    rerank = f", rerank {latency['rerank']:.0f} ms" if "rerank" in latency else ""
    print(f"{len(result['hits'])} hits in {latency['total']:.0f} ms (embed {latency['embed']:.0f} ms, "
          f"search {latency['search']:.0f} ms{rerank})")
    for rank, hit in enumerate(result["hits"], start=1):
        page = f", page {hit['page']}" if hit["page"] else ""
        print(f"\n{rank}. {hit['score']:.3f}  {hit['title']} ({hit['source_name']}{page})")
        print("   " + hit["text"][:300].replace("\n", " "))


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
    print(f"evaluation {record['eval_id']}: {record['index_key']}, {_retrieval_label(record['config'])}, "
          f"{record['questions']} questions of set {record.get('question_set', 'squad')}{generated} "
          f"(seed {record['sample']['seed']}) in {record['duration_s']:.1f} s")
    labels = record.get("labels") or {}
    if labels.get("unresolved_labels"):
        print(f"  {labels['unresolved_labels']} of {labels['labels']} labels match no chunk of this index; "
              f"{labels['questions_without_a_resolved_label']} questions left out")
    print("  " + ", ".join(f"{name} {value:.3f}" for name, value in metrics.items()))
    print("  latency ms: " + ", ".join(f"{name} {value:.1f}" for name, value in latency.items()))


def _with_preset(args: argparse.Namespace) -> dict[str, Any]:
    """The config of the flags, on top of the retrieval preset named by --preset."""
    from workbench import api

    config = config_from_args(args)
    if not getattr(args, "preset", None):
        return config
    return {**api.retrieval_preset(config, args.preset), **config}  # the preset holds only retrieval settings


def _print_tuning(result: dict[str, Any]) -> None:
    split = result["split"]
    print(f"tuned on {split['tuning_questions']} questions of {split['question_set']}"
          f"{' (generated)' if split['generated'] else ''}, checked on the other {split['held_out_questions']}"
          f" (seed {split['seed']}), maximising {split['metric']}")
    print(f"\n{'settings':<62} {'R@1':>6} {'R@5':>6} {'MRR@10':>7} {'search p50':>11}")
    for row in result["tuning"][:10]:
        metrics = row["metrics"]
        print(f"{row['label'][:62]:<62} {metrics['recall@1']:>6.3f} {metrics['recall@5']:>6.3f} {metrics['mrr@10']:>7.3f} "
              f"{row['latency_ms']['search_p50']:>8.1f} ms")
    if len(result["tuning"]) > 10:
        print(f"... and {len(result['tuning']) - 10} more")
    best, default = result["held_out"]["best"]["metrics"], result["held_out"]["default"]["metrics"]
    print(f"\nheld-out half: preset {result['preset']!r} = {result['label']}")
    for metric, test in result["comparison"]["tests"].items():
        print(f"  {metric}: default {test['a']:.3f} -> preset {test['b']:.3f} (difference {test['b'] - test['a']:+.3f}, "
              f"95% CI {test['bootstrap']['ci_low']:+.3f}..{test['bootstrap']['ci_high']:+.3f}, "
              f"sign test p {test['sign_test']['p_value']:.3f})")
    print(f"  recall@10: default {default.get('recall@10', 0):.3f} -> preset {best.get('recall@10', 0):.3f}")
    print(f"saved: use it with --preset {result['preset']} (query, eval, ask) or pick it on Retrieve, Compare and Chat")


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
            print(json.dumps(result, indent=2))
        else:
            print(f"question set {result['name']}: {result['questions']} questions, {result['labels']} labels")
            for error in result["errors"]:
                print(f"  skipped {error}")
        return 0 if not result["errors"] else 3
    if args.verb == "list":
        sets = api.question_sets(data_dir)
        if args.json:
            print(json.dumps(sets, indent=2))
        for record in [] if args.json else sets:
            origin = record["origin"].get("kind", "")
            model = f" by {record['origin'].get('model')}" if origin == "generated" else ""
            print(f"{record['name']}: {record['question_count']} questions ({origin}{model})"
                  f"{' for ' + record['index_key'] if record['index_key'] else ''}, updated {record['updated_at']}")
        return 0
    if args.verb == "show":
        found = api.question_set(args.name, data_dir)
        if args.json:
            print(json.dumps(found.to_json(), indent=2, ensure_ascii=False))
            return 0
        print(f"{found.name}: {len(found.questions)} questions, from {found.origin}")
        for question in found.questions:
            print(f"  {question.question_id}  {question.text}")
            for label in question.labels:
                parts = [f"{name} {value!r}" for name, value in (("document", label.document), ("page", label.page),
                         ("answer", label.answer), ("chunks", ",".join(label.chunk_ids))) if value]
                print(f"      {'relevant' if label.grade >= 2 else 'partly'}: {', '.join(parts)}")
        return 0
    if args.verb == "generate":
        draft = api.generate_questions(config_from_args(args), count=args.count, seed=args.seed, name=args.name)
        if args.json:
            print(json.dumps(draft, indent=2, ensure_ascii=False))
            return 0
        print(f"draft {draft['name']}: {len(draft['candidates'])} candidates by {draft['origin']['llm_service']} / "
              f"{draft['origin']['model']}; none counts until accepted (`questions review {draft['name']} --accept ...`)")
        for candidate in draft["candidates"]:
            answer = f"  [answer: {candidate['answer']}]" if candidate["answer"] else "  [label: the chunk]"
            print(f"  {candidate['id']}  {candidate['question']}{answer}  ({candidate['document']} p.{candidate['page']})")
        for problem in draft["problems"]:
            print(f"  skipped {problem}")
        return 0
    if args.verb == "drafts":
        drafts = api.question_drafts(data_dir)
        if args.json:
            print(json.dumps(drafts, indent=2))
        for draft in [] if args.json else drafts:
            print(f"{draft['name']}: {draft['accepted']} accepted, {draft['rejected']} rejected, {draft['pending']} pending "
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
            print(json.dumps({"name": args.name, "accepted": result["accepted"]}, indent=2))
        else:
            print(f"question set {args.name}: {result['accepted']} accepted questions (generated)")
        return 0
    if args.verb == "export":
        sys.stdout.write(api.export_questions(args.name, args.file_format, data_dir))
        return 0
    deleted = api.delete_question_set(args.name, data_dir)
    print(f"question set {args.name} {'deleted' if deleted else 'was not stored'}", file=sys.stderr)
    return 0 if deleted else 2


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    from workbench import api

    hamilton_log = logging.getLogger("hamilton")
    if not hamilton_log.handlers:  # with no logging set up, Python would print Hamilton's failed-node traceback and banner
        hamilton_log.addHandler(logging.NullHandler())  # the CLI reports an error itself, in one line
    args = build_parser().parse_args(argv)
    try:
        if args.command == "ingest":
            config = config_from_args(args)
            if args.display_dag:
                print(write_dag(config, args.display_dag), file=sys.stderr)
            record = api.ingest(config, progress=None if args.json else Progress(_Bars()))
            if args.json:
                print(json.dumps(record, indent=2, default=str))
            else:
                _print_run(record)
            return 0 if not record.get("file_errors") else 3
        if args.command == "tune":
            result = api.tune_retrieval(config_from_args(args), args.questions, preset_name=args.preset, metric=args.metric,
                                        seed=args.seed, max_questions=args.max_questions)
            if args.json:
                print(json.dumps(result, indent=2, default=str))
            else:
                _print_tuning(result)
            return 0
        if args.command == "query":
            result = api.search(_with_preset(args), args.question, top_k=args.top_k)
            if args.json:
                print(json.dumps(result["hits"], indent=2, default=str))
            else:
                _print_hits(result)
            return 0
        if args.command == "questions":
            return _questions(args)
        if args.command == "eval":
            record = api.evaluate(_with_preset(args), sample_size=args.sample, seed=args.seed,
                                  k_values=_k_values(args.k), squad_path=args.squad_path or "", questions=args.questions or "")
            if args.json:
                print(json.dumps(record, indent=2, default=str))
            else:
                _print_evaluation(record)
            return 0
        if args.command == "evals":
            records = api.evaluations(args.data_dir or "", index_key=args.index_key, limit=args.limit)
            if args.json:
                print(json.dumps(records, indent=2, default=str))
            for record in [] if args.json else records:
                metrics = record["metrics"]
                print(f"{record['started_at']}  {record['eval_id']}  {record['index_key']}  {_retrieval_label(record['config'])}: "
                      f"{record['questions']} q, R@1 {metrics.get('recall@1', 0):.3f} R@5 {metrics.get('recall@5', 0):.3f} "
                      f"R@10 {metrics.get('recall@10', 0):.3f} MRR@10 {metrics.get('mrr@10', 0):.3f}")
            return 0
        if args.command == "runs":
            records = api.runs(args.data_dir or "", limit=args.limit)
            if args.json:
                print(json.dumps(records, indent=2, default=str))
            for record in [] if args.json else records:
                counts = record["counts"]
                print(f"{record['started_at']}  {record['run_id']}  {record['status']:<11} {record['index_key']}  "
                      f"written {counts.get('written', '-')}, failed {counts.get('failed', '-')}")
            return 0
        if args.command in ("check", "repair"):
            config = config_from_args(args)
            report = (api.check_index(config) if args.command == "check" else
                      api.repair(config, rebuild_fts=args.rebuild_fts, from_sources=args.from_sources))
            if args.json:
                print(json.dumps(report, indent=2, default=str))
            else:
                _print_check(report)
            return 0 if report["ok"] else 3
        if args.command == "indexes":
            manifests = api.indexes(args.data_dir or "")
            if args.json:
                print(json.dumps(manifests, indent=2, default=str))
            for manifest in [] if args.json else manifests:
                print(f"{manifest['index_key']}: {manifest['embedding_service']}/{manifest['model_name']} "
                      f"dim {manifest['dimension']}, {manifest['chunk_count']} chunks, last run {manifest['last_run_id']}")
            return 0
    except WorkbenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 1


def main() -> None:
    """`python -m workbench` (and `python -m dataflows`): offline by default, then exit with the command's code."""
    import os

    # A hub look-up that cannot succeed costs ~25 s; set these to 0 to allow it.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    sys.exit(run())
