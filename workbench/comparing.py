"""Two evaluations on the same questions, side by side: per-question differences and paired significance tests."""

from __future__ import annotations

from typing import Any

from ragkit.errors import ConfigError
from ragkit.relevance import RANK_METRIC_DEPTH, paired_bootstrap, sign_test
from workbench.catalog import Catalog
from workbench.config import resolve_config

ANSWER_METRICS = ("answer_contains", "exact_match", "f1")


def per_question_values(record: dict[str, Any], metric: str) -> dict[str, float]:
    """metric per question id: recall@k and mrr@10 from the first rank, ndcg@10 as stored."""
    values = {}
    for row in record.get("per_question") or []:
        rank = int(row["rank"])
        if metric.startswith("recall@"):
            values[row["id"]] = float(0 < rank <= int(metric.split("@")[1]))
        elif metric == f"mrr@{RANK_METRIC_DEPTH}":
            values[row["id"]] = 1.0 / rank if 0 < rank <= RANK_METRIC_DEPTH else 0.0
        elif metric in (f"ndcg@{RANK_METRIC_DEPTH}", *ANSWER_METRICS):
            if metric in row:  # answer scores exist for the questions with reference answers
                values[row["id"]] = float(row[metric])
        else:
            raise ConfigError(f"Cannot compare {metric!r}; use recall@K, mrr@10, ndcg@10, {', '.join(ANSWER_METRICS)}.")
    return values


def compare_evaluations(
    a: dict[str, Any], b: dict[str, Any], metrics: tuple[str, ...] = ("recall@5", "mrr@10", "ndcg@10"), k: int = 5,
) -> dict[str, Any]:
    """For the questions both evaluations answered: each metric's mean difference (b − a) with a paired bootstrap
    interval and p-value and a sign test, and which questions one finds within k hits and the other does not.
    When both scored their answers, the answer metrics they share are compared too (over the questions both scored)."""
    if not a.get("per_question") or not b.get("per_question"):
        raise ConfigError("Both evaluations need per-question outcomes (evaluations from before question sets have none).")
    ranks_a = {row["id"]: int(row["rank"]) for row in a["per_question"]}
    ranks_b = {row["id"]: int(row["rank"]) for row in b["per_question"]}
    common = sorted(set(ranks_a) & set(ranks_b))
    if not common:
        raise ConfigError("The two evaluations share no question: evaluate both with the same question set and seed.")
    tests = {}
    shared_answer_metrics = [metric for metric in ANSWER_METRICS
                             if all((record.get("answer_quality") or {}).get(metric) is not None for record in (a, b))]
    for metric in (*metrics, *shared_answer_metrics):
        values_a, values_b = per_question_values(a, metric), per_question_values(b, metric)
        both = [q for q in common if q in values_a and q in values_b]
        if not both:
            continue
        first, second = [values_a[q] for q in both], [values_b[q] for q in both]
        tests[metric] = {"a": round(sum(first) / len(both), 4), "b": round(sum(second) / len(both), 4),
                         "questions": len(both), "bootstrap": paired_bootstrap(first, second),
                         "sign_test": sign_test(first, second)}
    return {
        "questions": len(common),
        "only_in_a": len(set(ranks_a) - set(ranks_b)),
        "only_in_b": len(set(ranks_b) - set(ranks_a)),
        "k": k,
        "found_by_a_only": [q for q in common if 0 < ranks_a[q] <= k and not 0 < ranks_b[q] <= k],
        "found_by_b_only": [q for q in common if 0 < ranks_b[q] <= k and not 0 < ranks_a[q] <= k],
        "rank_changes": {q: (ranks_a[q], ranks_b[q]) for q in common if ranks_a[q] != ranks_b[q]},
        "tests": tests,
    }


def evaluation(eval_id: str, data_dir: str = "") -> dict[str, Any]:
    """One stored evaluation record with its per-question outcomes; ConfigError when there is none."""
    record = Catalog(resolve_config({"data_dir": data_dir})["data_dir"]).evaluation(eval_id)
    if record is None:
        raise ConfigError(f"No evaluation {eval_id!r} in this data folder (see `evals`).")
    return record
