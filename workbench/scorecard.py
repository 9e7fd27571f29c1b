"""The stack scorecard of an index: relevance, ingestion, cost, footprint, latency, infrastructure and licences, as data.

Assembled from what the catalog already knows (manifest, run records, the last evaluation), the store's own
report of its files (embedded stores only: a hosted store is never asked), the dated price table and package
metadata. Stored in the catalog (`scorecards`, history kept); `diff_scorecards` sets two side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dataflows.generation import SYSTEM_PROMPT
from ragkit.backends import EMBEDDED, OFFLINE
from ragkit.errors import ConfigError
from ragkit.footprint import folder_bytes
from ragkit.licences import model_licence, package_licence
from ragkit.prices import PriceTable, load_price_table
from ragkit.relevance import RANK_METRIC_DEPTH, bootstrap_interval
from ragkit.token_counts import count_tokens
from workbench.catalog import Catalog, now_iso
from workbench.comparing import per_question_values
from workbench.config import REGISTRIES, resolve_config

SCHEMA_VERSION = 2  # 2: cost.chat and cost.per_1000_questions_with_chat
ANSWER_TOKENS = 300  # output tokens a cited answer of a few sentences takes; the chat cost assumes this many
RELEVANCE_METRICS = ("recall@5", f"mrr@{RANK_METRIC_DEPTH}", f"ndcg@{RANK_METRIC_DEPTH}")
# Typical short questions: their tokens price a question when the question set's own texts are not stored here.
SAMPLE_QUESTIONS = ("What is this document about?", "Who founded the organisation and when?",
                    "How does the process described here work?", "Where is the main office located?",
                    "What are the requirements for the second step?")


def find_index(name: str, data_dir: str = "", vector_db: str = "") -> dict[str, Any]:
    """The manifest of the index called `name` (an index name or key); ConfigError when none or several match."""
    catalog = Catalog(resolve_config({"data_dir": data_dir})["data_dir"])
    found = [m for m in catalog.manifests() if name in (m["index_key"], m["index_name"])
             and (not vector_db or m["vector_db"] == vector_db)]
    if not found:
        raise ConfigError(f"No index {name!r} in this data folder (see `indexes`).")
    if len(found) > 1:
        raise ConfigError(f"{len(found)} indexes are called {name!r} ({', '.join(m['index_key'] for m in found)}): "
                          "pass --vector-db, or the index key.")
    return found[0]


def _config_of(manifest: Mapping[str, Any], data_dir: str, chat: Mapping[str, Any]) -> Any:
    """The index's stack from its manifest, with the chat settings (`llm_service`, `llm_model`, ...) the cost assumes."""
    return resolve_config({**chat, "vector_db": manifest["vector_db"], "vector_db_config": manifest["vector_db_config"],
                           "index_name": manifest["index_name"], "data_dir": data_dir,
                           "embedding_service": manifest["embedding_service"], "model_name": manifest["model_name"]})


def _relevance(catalog: Catalog, key: str, question_set: str) -> dict[str, Any]:
    records = catalog.evaluations(key=key, limit=1, question_set=question_set or None)
    if not records:
        return {"available": False, "reason": "no evaluation of this index yet (`eval`, or the benchmark on Compare)"}
    record = catalog.evaluation(records[0]["eval_id"]) or records[0]
    metrics = {}
    for metric in RELEVANCE_METRICS:
        values = list(per_question_values(record, metric).values()) if record.get("per_question") else []
        interval = bootstrap_interval(values) if values else {"mean": record["metrics"].get(metric, 0.0), "ci_low": None,
                                                              "ci_high": None, "questions": 0}
        metrics[metric] = {"value": interval["mean"], "ci_low": interval["ci_low"], "ci_high": interval["ci_high"]}
    return {"available": True, "eval_id": record["eval_id"], "question_set": record.get("question_set", "squad"),
            "questions": record["questions"], "evaluated_at": record["started_at"],
            "retrieval_mode": record["config"].get("retrieval_mode", "dense"), "reranker": record["config"].get("reranker", "none"),
            "metrics": metrics, "latency_ms": record["latency_ms"], "config": record["config"]}


def _ingestion(runs: list[dict[str, Any]]) -> dict[str, Any]:
    done = [r for r in runs if r["status"] == "succeeded" and r.get("kind", "ingest") == "ingest"]  # not deletes
    working = [r for r in done if r["counts"].get("embedded_by_model", 0) > 0 and "tokens_embedded" in r["counts"]]
    wall = sum(float((r.get("resources") or {}).get("wall_s", 0.0)) for r in done)
    embedded = sum(int(r["counts"].get("embedded_by_model", 0)) for r in done)
    last = next((r for r in done if r.get("resources")), None)
    return {
        "runs": len(done),
        "wall_s": round(wall, 2),
        "chunks_embedded": embedded,
        "chunks_per_s": round(embedded / wall, 1) if wall else None,
        "model_calls": sum(int(r["counts"].get("model_calls", 0)) for r in done),
        "tokens_embedded": sum(int(r["counts"].get("tokens_embedded", 0)) for r in done),
        "tokens_estimated": any(int(r["counts"].get("tokens_estimated", 0)) for r in done),
        "documents_embedded": sum(int(r["counts"].get("read", 0)) for r in working),
        "tokens_of_those_documents": sum(int(r["counts"].get("tokens_embedded", 0)) for r in working),
        "cpu_s": round(sum(float((r.get("resources") or {}).get("cpu_s", 0.0)) for r in done), 2),
        "peak_rss_bytes": int((last or {}).get("resources", {}).get("peak_rss_bytes", 0)) or None,
        "peak_rss_method": (last or {}).get("resources", {}).get("peak_rss_method", ""),
        "last_run_id": done[0]["run_id"] if done else "",
        "tokens_per_chunk": (round(sum(int(r["counts"].get("tokens_embedded", 0)) for r in working)
                                       / max(1, sum(int(r["counts"].get("embedded_by_model", 0)) for r in working)), 1)
                                 if working else None),
    }


def _chat_cost(config: Any, ingestion: dict[str, Any], prices: PriceTable, question_texts: list[str]) -> dict[str, Any]:
    """What answering 1,000 questions with the configured LLM costs: an estimate, and it says what it assumed.

    Input per question: the system rules, `max_context_chunks` sources of this index's mean chunk size (tokens the
    ingestion counted per embedded chunk) and a question of the set's mean size; output: `ANSWER_TOKENS`."""
    service, model = config["llm_service"], config["llm_model"]
    chat: dict[str, Any] = {"llm_service": service, "llm_model": model, "llm": f"{service} {model}".strip()}
    if config.spec("llm_service").has(OFFLINE):
        return chat | {"per_1000_questions": 0.0, "note": f"{service}: runs here, no fee"}
    price = prices.price("chat", service, model)
    chunk_tokens = ingestion.get("tokens_per_chunk")
    if price is None or chunk_tokens is None:
        reason = (f"{service} {model} is not in the price table" if price is None
                  else "no run of this index counted its chunks' tokens")
        return chat | {"per_1000_questions": None, "note": reason}
    rules = count_tokens(service, model, [SYSTEM_PROMPT]).tokens
    questions = count_tokens(service, model, question_texts)
    prompt = rules + config["max_context_chunks"] * chunk_tokens + questions.tokens / max(1, len(question_texts))
    chat |= {"prompt_tokens_per_question": round(prompt), "answer_tokens_per_question": ANSWER_TOKENS,
             "per_1000_questions": round(price.for_tokens(round(prompt), ANSWER_TOKENS) * 1000, 6),
             "note": f"estimated: {config['max_context_chunks']} sources of {chunk_tokens:g} tokens, "
                     f"{ANSWER_TOKENS}-token answers, {questions.method}"}
    return chat


def _cost(config: Any, ingestion: dict[str, Any], relevance: dict[str, Any], prices: PriceTable,
          question_texts: list[str]) -> dict[str, Any]:
    service, model = config["embedding_service"], config["model_name"]
    hosted = not config.spec("embedding_service").has(OFFLINE)
    documents = ingestion["documents_embedded"]
    cost: dict[str, Any] = {"hosted": hosted, "price_table_as_of": prices.as_of, "currency": prices.currency, "notes": [],
                            "chat": _chat_cost(config, ingestion, prices, question_texts)}
    if not hosted:
        cost.update(per_1000_documents=0.0, per_1000_questions=0.0, cpu_s=ingestion["cpu_s"],
                    cpu_s_per_1000_documents=round(ingestion["cpu_s"] / documents * 1000, 2) if documents else None)
        cost["per_1000_questions_with_chat"] = cost["chat"]["per_1000_questions"]
        cost["notes"].append("a local model: no fee; CPU seconds instead")
        return cost
    price = prices.price("embedding", service, model)
    if price is None:
        cost.update(per_1000_documents=None, per_1000_questions=None, per_1000_questions_with_chat=None)
        cost["notes"].append(f"{service} {model} is not in the price table ({prices.path})")
        return cost
    cost["embedding_price_per_1k_tokens"] = price.per_unit
    cost["per_1000_documents"] = (round(price.for_tokens(ingestion["tokens_of_those_documents"]) / documents * 1000, 6)
                                  if documents else None)
    tally = count_tokens(service, model, question_texts)
    per_question = price.for_tokens(tally.tokens) / max(1, len(question_texts))
    reranker = (relevance.get("config") or {}).get("reranker", "none")
    if reranker not in ("none", "") and not REGISTRIES["reranker"].get(reranker).has(OFFLINE):
        rerank_price = prices.price("rerank", reranker, (relevance["config"].get("reranker_model") or "rerank-v3.5"))
        if rerank_price is not None:
            per_question += rerank_price.for_searches(1)
    cost["per_1000_questions"] = round(per_question * 1000, 6)
    cost["question_tokens"] = tally.to_json() | {"questions": len(question_texts)}
    chat = cost["chat"]["per_1000_questions"]
    cost["per_1000_questions_with_chat"] = None if chat is None else round(cost["per_1000_questions"] + chat, 6)
    return cost


def _footprint(config: Any, manifest: Mapping[str, Any], ingestion: dict[str, Any], api_keys: Mapping[str, str]) -> dict[str, Any]:
    spec = config.spec("vector_db")
    server = bool((config["vector_db_config"] or {}).get("url"))
    disk: dict[str, Any]
    if spec.has(EMBEDDED) and not server:
        from workbench.ingesting import index_state

        try:
            disk = index_state(config, api_keys=api_keys).get("disk") or {"measured": False, "reason": "the store reports no files"}
        except Exception as error:  # noqa: BLE001 - a missing table: say so, keep the scorecard
            disk = {"measured": False, "reason": f"the index could not be opened: {type(error).__name__}"}
    else:
        disk = {"measured": False, "reason": f"not measured here: {spec.label} keeps the index on its server or service"}
    data_dir = Path(config["data_dir"])
    return {"index": disk, "dimension": int(manifest["dimension"]),
            "data_folder": {"path": str(data_dir), "total_bytes": folder_bytes(data_dir),
                            "catalog_bytes": sum(folder_bytes(p) for p in data_dir.glob("catalog.sqlite*")),
                            "embedding_cache_bytes": sum(folder_bytes(p) for p in data_dir.glob("embedding_cache.sqlite*"))},
            "peak_rss_bytes": ingestion["peak_rss_bytes"], "peak_rss_method": ingestion["peak_rss_method"]}


def _latency(config: Any, relevance: dict[str, Any], probe: bool, api_keys: Mapping[str, str]) -> dict[str, Any]:
    if relevance.get("available"):
        return {"source": f"evaluation {relevance['eval_id']} ({relevance['questions']} questions)", **relevance["latency_ms"]}
    if not probe:
        return {"source": "not measured: no evaluation yet (run `eval`, or `scorecard --probe`)"}
    from workbench.querying import search

    times: dict[str, list[float]] = {}
    search(dict(config.items()), SAMPLE_QUESTIONS[0], top_k=5, api_keys=api_keys)  # warm-up: the model loads
    for question in SAMPLE_QUESTIONS:
        for name, value in search(dict(config.items()), question, top_k=5, api_keys=api_keys)["latency_ms"].items():
            times.setdefault(name, []).append(float(value))
    import numpy as np

    result: dict[str, Any] = {"source": f"probe of {len(SAMPLE_QUESTIONS)} questions"}
    for name in ("embed", "search", "rerank"):
        if name in times:
            result[f"{name}_p50"] = round(float(np.percentile(times[name], 50)), 2)
            result[f"{name}_p95"] = round(float(np.percentile(times[name], 95)), 2)
    return result


def _infrastructure(config: Any) -> dict[str, Any]:
    store, embedder = config.spec("vector_db"), config.spec("embedding_service")
    server = bool((config["vector_db_config"] or {}).get("url")) or not store.has(EMBEDDED)
    keys = [spec.api_key.env_var for spec in (store, embedder) if spec.api_key and (spec.api_key.required or server)]
    return {"store": "server" if server else "embedded", "must_run": [store.description, embedder.description],
            "api_keys": keys, "offline": (not server) and store.has(OFFLINE) and embedder.has(OFFLINE)}


def _licences(config: Any) -> dict[str, Any]:
    store, embedder = config.spec("vector_db"), config.spec("embedding_service")
    return {"model": model_licence(config["embedding_service"], config["model_name"]),
            "store_packages": [package_licence(name) for name in store.packages],
            "embedding_packages": [package_licence(name) for name in embedder.packages],
            "services": [text for text in (store.service_licence, embedder.service_licence) if text]}


def build_scorecard(manifest: Mapping[str, Any], data_dir: str = "", question_set: str = "", probe: bool = False,
                    api_keys: Mapping[str, str] | None = None, price_table: PriceTable | None = None,
                    chat: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The scorecard of an index (its manifest), from the catalog, the store's files, the price table and package metadata.

    `question_set` picks the evaluation relevance and latency come from (default: the latest of any set); `probe` times a
    few searches when there is no evaluation (a hosted embedding service is then paid for them); `chat` holds the LLM
    settings (`llm_service`, `llm_model`, `max_context_chunks`) the chat cost is estimated for (default: offline)."""
    config = _config_of(manifest, data_dir, _chat_settings(chat))
    catalog = Catalog(config["data_dir"])
    key = manifest["index_key"]
    keys = dict(api_keys or {})
    relevance = _relevance(catalog, key, question_set)
    ingestion = _ingestion(catalog.runs(limit=100_000, key=key))
    stored = catalog.question_set(relevance["question_set"]) if relevance.get("available") else None
    questions = [q["text"] for q in (stored or {}).get("questions", []) if q.get("text")] or list(SAMPLE_QUESTIONS)
    return {
        "schema": SCHEMA_VERSION,
        "created_at": now_iso(),
        "index_key": key,
        "index_name": manifest["index_name"],
        "stack": {"vector_db": manifest["vector_db"], "embedding_service": manifest["embedding_service"],
                  "model_name": manifest["model_name"], "dimension": int(manifest["dimension"]),
                  "chunk_count": int(manifest["chunk_count"])},
        "relevance": relevance,
        "ingestion": ingestion,
        "cost": _cost(config, ingestion, relevance, price_table or load_price_table(), questions),
        "footprint": _footprint(config, manifest, ingestion, keys),
        "latency": _latency(config, relevance, probe, keys),
        "infrastructure": _infrastructure(config),
        "licences": _licences(config),
    }


def _chat_settings(chat: Mapping[str, Any] | None) -> dict[str, Any]:
    """The LLM settings of a config that the chat cost depends on (others are not the scorecard's business)."""
    return {name: value for name, value in (chat or {}).items()
            if name in ("llm_service", "llm_model", "llm_base_url", "max_context_chunks") and value not in ("", None)}


def scorecard(manifest: Mapping[str, Any], data_dir: str = "", question_set: str = "", probe: bool = False,
              api_keys: Mapping[str, str] | None = None, save: bool = True,
              chat: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`build_scorecard`, stored in the catalog's history of the index (unless `save=False`)."""
    card = build_scorecard(manifest, data_dir, question_set, probe, api_keys, chat=chat)
    if save:
        Catalog(resolve_config({"data_dir": data_dir})["data_dir"]).save_scorecard(
            card["index_key"], card, (card["relevance"] or {}).get("eval_id", ""))
    return card


def scorecard_history(index_key: str, data_dir: str = "", limit: int = 100) -> list[dict[str, Any]]:
    """The stored scorecards of an index, newest first."""
    return [row["scorecard"] for row in Catalog(resolve_config({"data_dir": data_dir})["data_dir"]).scorecards(index_key, limit)]


def _dig(card: Mapping[str, Any], path: str) -> Any:
    value: Any = card
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _bytes(value: Any) -> str:
    if value is None:
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return str(value)


def _number(digits: int) -> Any:
    return lambda value: "—" if value is None else f"{value:,.{digits}f}"


def _money(value: Any) -> str:
    return "—" if value is None else f"${value:,.4f}"


# (section, label, path into the scorecard, which is better: "higher" | "lower" | "", formatter)
ROWS: tuple[tuple[str, str, str, str, Any], ...] = (
    ("Relevance", "Recall@5", "relevance.metrics.recall@5", "higher", None),
    ("Relevance", "MRR@10", "relevance.metrics.mrr@10", "higher", None),
    ("Relevance", "nDCG@10", "relevance.metrics.ndcg@10", "higher", None),
    ("Relevance", "Questions", "relevance.questions", "", _number(0)),
    ("Ingestion", "Wall time, s", "ingestion.wall_s", "lower", _number(1)),
    ("Ingestion", "Chunks/s", "ingestion.chunks_per_s", "higher", _number(1)),
    ("Ingestion", "Model calls", "ingestion.model_calls", "lower", _number(0)),
    ("Ingestion", "Tokens embedded", "ingestion.tokens_embedded", "", _number(0)),
    ("Cost", "Per 1,000 documents", "cost.per_1000_documents", "lower", _money),
    ("Cost", "Per 1,000 questions (retrieval)", "cost.per_1000_questions", "lower", _money),
    ("Cost", "Chat LLM priced", "cost.chat.llm", "", None),
    ("Cost", "Chat per 1,000 questions", "cost.chat.per_1000_questions", "lower", _money),
    ("Cost", "Per 1,000 questions with chat", "cost.per_1000_questions_with_chat", "lower", _money),
    ("Cost", "CPU s (ingestion)", "cost.cpu_s", "lower", _number(1)),
    ("Footprint", "Index on disk", "footprint.index.total_bytes", "lower", _bytes),
    ("Footprint", "  vectors", "footprint.index.vectors_bytes", "lower", _bytes),
    ("Footprint", "  full-text index", "footprint.index.fts_index_bytes", "", _bytes),
    ("Footprint", "  payload", "footprint.index.payload_bytes", "lower", _bytes),
    ("Footprint", "Data folder", "footprint.data_folder.total_bytes", "", _bytes),
    ("Footprint", "Peak RSS of the run", "footprint.peak_rss_bytes", "lower", _bytes),
    ("Footprint", "Vector dimension", "footprint.dimension", "", _number(0)),
    ("Latency", "Embed p50, ms", "latency.embed_p50", "lower", _number(1)),
    ("Latency", "Embed p95, ms", "latency.embed_p95", "lower", _number(1)),
    ("Latency", "Search p50, ms", "latency.search_p50", "lower", _number(1)),
    ("Latency", "Search p95, ms", "latency.search_p95", "lower", _number(1)),
    ("Latency", "Rerank p50, ms", "latency.rerank_p50", "lower", _number(1)),
    ("Infrastructure", "Store", "infrastructure.store", "", None),
    ("Infrastructure", "Works offline", "infrastructure.offline", "", None),
    ("Infrastructure", "API keys", "infrastructure.api_keys", "", None),
    ("Licences", "Model", "licences.model", "", None),
)


def _shown(value: Any, formatter: Any, card: Mapping[str, Any], path: str) -> str:
    if isinstance(value, Mapping) and "value" in value:  # a relevance figure with its interval
        interval = f" ({value['ci_low']:.3f}–{value['ci_high']:.3f})" if value.get("ci_low") is not None else ""
        return f"{value['value']:.3f}{interval}"
    if path == "ingestion.tokens_embedded" and value is not None and _dig(card, "ingestion.tokens_estimated"):
        return f"≈{value:,} (estimated)"
    if path.startswith("footprint.index.") and value is None:
        return _dig(card, "footprint.index.reason") or "—" if path.endswith("total_bytes") else "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    if value is None:
        return "—"
    return formatter(value) if formatter else str(value)


def _raw(value: Any) -> float | None:
    if isinstance(value, Mapping):
        value = value.get("value")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def scorecard_rows(card: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The scorecard as rows to show: section, label, the shown text."""
    return [{"section": section, "label": label, "value": _shown(_dig(card, path), fmt, card, path)}
            for section, label, path, _better, fmt in ROWS]


def diff_scorecards(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Two scorecards row by row: section, label, a, b, and `better` ("a", "b" or "" when equal, not comparable or no
    direction), by each row's direction (lower cost and latency, higher relevance and speed)."""
    rows = []
    for section, label, path, better, fmt in ROWS:
        value_a, value_b = _dig(a, path), _dig(b, path)
        raw_a, raw_b = _raw(value_a), _raw(value_b)
        winner = ""
        if better and raw_a is not None and raw_b is not None and raw_a != raw_b:
            winner = "a" if (raw_a > raw_b) == (better == "higher") else "b"
        rows.append({"section": section, "label": label, "a": _shown(value_a, fmt, a, path), "b": _shown(value_b, fmt, b, path),
                     "better": winner})
    return rows
