"""Tuning retrieval from labels: a grid of retrieval settings scored on a random half of a question set, the best
and the index's default scored on the other half, and the best saved as a named retrieval preset of the index.

Only query-time settings are searched (mode, fusion, alpha, rrf k, candidates from each side, the reranker
and its top n), so the index is used as it is. The grid points are scored without storing a record each;
the two held-out evaluations are stored (as any evaluation), with the paired test between them, so the
gain a preset claims is measured on questions it was not chosen on.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from ragkit.errors import ConfigError
from workbench.catalog import Catalog
from workbench.comparing import compare_evaluations
from workbench.config import RETRIEVAL_SETTING_KEYS, resolve_config
from workbench.evaluating import evaluate, question_set_for
from workbench.indexes import index_key_for, query_config

TUNING_METRICS = ("mrr@10", "ndcg@10", "recall@1", "recall@5", "recall@10")


def retrieval_grid(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The settings tried: dense, lexical, hybrid RRF (k × alpha × candidates) and linear (alpha); and, when the
    config names a reranker, each of the best first stages again with that reranker (see `tune_retrieval`)."""
    grid: list[dict[str, Any]] = [{"retrieval_mode": "dense"}, {"retrieval_mode": "lexical"}]
    for candidates in (50, 100):
        for rrf_k in (10, 30, 60):
            for alpha in (0.3, 0.5, 0.7):
                grid.append({"retrieval_mode": "hybrid", "hybrid_fusion": "rrf", "rrf_k": rrf_k, "hybrid_alpha": alpha,
                             "hybrid_candidates": candidates})
        for alpha in (0.3, 0.5, 0.7):
            grid.append({"retrieval_mode": "hybrid", "hybrid_fusion": "linear", "hybrid_alpha": alpha,
                         "hybrid_candidates": candidates})
    return [{**setting, "reranker": "none"} for setting in grid]


def _split(question_ids: list[str], seed: int) -> tuple[list[str], list[str]]:
    shuffled = sorted(question_ids)
    random.Random(seed).shuffle(shuffled)
    half = len(shuffled) // 2
    return shuffled[:half], shuffled[half:]


def _score(record: dict[str, Any], metric: str) -> tuple[float, float, float]:
    """Higher is better: the metric, then recall@5, then less search time."""
    return (record["metrics"][metric], record["metrics"].get("recall@5", 0.0), -record["latency_ms"]["search_p50"])


def _label(setting: Mapping[str, Any]) -> str:
    if setting["retrieval_mode"] != "hybrid":
        label = setting["retrieval_mode"]
    elif setting["hybrid_fusion"] == "rrf":
        label = (f"hybrid rrf k={setting['rrf_k']} alpha={setting['hybrid_alpha']} "
                 f"candidates={setting['hybrid_candidates']}")
    else:
        label = f"hybrid linear alpha={setting['hybrid_alpha']} candidates={setting['hybrid_candidates']}"
    if setting.get("reranker", "none") != "none":
        label += f" + {setting['reranker']} top {setting['rerank_top_n']}"
    return label


def tune_retrieval(
    config: Mapping[str, Any],
    questions: str,
    preset_name: str = "tuned",
    metric: str = "mrr@10",
    seed: int = 0,
    max_questions: int = 500,
    api_keys: Mapping[str, str] | None = None,
    squad_path: str = "",
) -> dict[str, Any]:
    """Search retrieval settings on a random half of a question set (at most `max_questions`), score the best and the
    index's default on the other half, and save the best as retrieval preset `preset_name` of the index.

    The config's reranker, when it names one (with its settings), is tried on the best first stages too.
    Returns {"preset", "settings", "tuning" (one row per setting on the tuning half), "held_out" (best and default),
    "comparison" (paired tests, default → best), "split"}.
    """
    if metric not in TUNING_METRICS:
        raise ConfigError(f"Tune on one of {', '.join(TUNING_METRICS)}, not {metric!r}.")
    preset_name = valid_preset_name(preset_name)
    config, _ = query_config(config)
    question_set = question_set_for(config, questions, squad_path)
    tuning_ids, held_out_ids = _split([q.question_id for q in question_set.questions], seed)
    if len(held_out_ids) < 2:
        raise ConfigError(f"Question set {question_set.name!r} has {len(question_set.questions)} questions; tuning needs "
                          "at least 4 (half to choose settings on, half to check them).")
    sample = int(max_questions) if max_questions and max_questions < len(tuning_ids) else 0

    def scored(setting: Mapping[str, Any], ids: list[str], save: bool) -> dict[str, Any]:
        return evaluate({**config, **setting}, sample_size=sample, seed=seed, api_keys=api_keys, questions=question_set,
                        question_ids=ids, save=save)

    rows = []
    for setting in retrieval_grid(config):
        record = scored(setting, tuning_ids, save=False)
        rows.append({"settings": setting, "label": _label(resolve_config({**config, **setting})),
                     "metrics": record["metrics"], "latency_ms": record["latency_ms"], "questions": record["questions"]})
    if config["reranker"] != "none":
        first_stages = sorted(rows, key=lambda row: _score(row, metric), reverse=True)[:3]
        for row in first_stages:
            for top_n in (20, 50):
                setting = {**row["settings"], "reranker": config["reranker"], "rerank_top_n": top_n}
                record = scored(setting, tuning_ids, save=False)
                rows.append({"settings": setting, "label": _label(resolve_config({**config, **setting})),
                             "metrics": record["metrics"], "latency_ms": record["latency_ms"],
                             "questions": record["questions"]})
    rows.sort(key=lambda row: _score(row, metric), reverse=True)
    best = resolve_config({**config, **rows[0]["settings"]})
    settings = {name: best[name] for name in RETRIEVAL_SETTING_KEYS}
    held_out_best = scored(settings, held_out_ids, save=True)
    default = {name: resolve_config({})[name] for name in RETRIEVAL_SETTING_KEYS}
    held_out_default = scored(default, held_out_ids, save=True)
    comparison = compare_evaluations(held_out_default, held_out_best)
    tuned = {"question_set": question_set.name, "generated": question_set.generated, "metric": metric, "seed": seed,
             "tuning_questions": rows[0]["questions"], "held_out_questions": held_out_best["questions"],
             "tuning_metrics": rows[0]["metrics"], "held_out_metrics": held_out_best["metrics"],
             "held_out_default_metrics": held_out_default["metrics"],
             "held_out_eval_ids": [held_out_default["eval_id"], held_out_best["eval_id"]]}
    Catalog(config["data_dir"]).save_preset(index_key_for(config), preset_name, settings, tuned)
    return {"preset": preset_name, "label": rows[0]["label"], "settings": settings, "tuning": rows,
            "held_out": {"best": held_out_best, "default": held_out_default}, "comparison": comparison, "split": tuned}


def valid_preset_name(name: str) -> str:
    """The name stripped; ConfigError when it is empty, over 100 characters, or "custom" (the picker's own choice)."""
    name = name.strip()
    if not name or len(name) > 100 or name.lower() == "custom":
        raise ConfigError(f"Preset name {name!r} is not usable: 1 to 100 characters, not 'custom'.")
    return name


def retrieval_presets(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The retrieval presets of the index a config points at: name, settings, how they were tuned, when."""
    config = resolve_config(config)
    return Catalog(config["data_dir"]).presets(index_key_for(config))


def retrieval_preset(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The retrieval settings of one preset of the index; ConfigError naming the presets there are."""
    presets = {preset["name"]: preset for preset in retrieval_presets(config)}
    if name not in presets:
        raise ConfigError(f"No retrieval preset {name!r} for this index; presets: {', '.join(presets) or 'none'} "
                          "(make one with `tune`).")
    return dict(presets[name]["settings"])


def delete_retrieval_preset(config: Mapping[str, Any], name: str) -> bool:
    """Forget a preset of the index; False when there was none."""
    config = resolve_config(config)
    return Catalog(config["data_dir"]).delete_preset(index_key_for(config), name)
