"""Relevance figures from ranked hits and resolved labels: recall@k, MRR@10, graded nDCG@10, and paired tests.

Each label of a question is one thing to find: the first hit whose chunk satisfies it finds it, at that
rank. A question's rank is the best rank of any of its labels (0: none found in the hits). recall@k is
the share of questions found within k hits (as SQuAD's gold-paragraph hit rate); MRR@10 the mean of
1 / rank within 10; nDCG@10 credits each label once, with its grade, against the ideal ordering of
the question's label grades.

The paired tests compare two stacks on the same questions: a paired bootstrap of the mean difference
(with a 95% interval) and an exact two-sided sign test on the questions where the two differ.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

RANK_METRIC_DEPTH = 10  # MRR and nDCG are @10


def label_ranks(hit_chunk_ids: Sequence[str], resolved_labels: Sequence[set[str]]) -> list[int]:
    """For each label, the 1-based rank of the first hit that satisfies it, or 0 when no hit does."""
    ranks = []
    for chunk_ids in resolved_labels:
        ranks.append(next((rank for rank, chunk_id in enumerate(hit_chunk_ids, start=1) if chunk_id in chunk_ids), 0))
    return ranks


def first_rank(ranks: Sequence[int]) -> int:
    """The best rank among a question's labels (0: none found)."""
    found = [rank for rank in ranks if rank]
    return min(found) if found else 0


def ndcg(ranks: Sequence[int], grades: Sequence[int], depth: int = RANK_METRIC_DEPTH) -> float:
    """Graded nDCG@depth: each found label gains its grade at its rank; ideal = the grades in order from rank 1."""
    if not grades:
        return 0.0
    found: dict[int, int] = {}
    for rank, grade in zip(ranks, grades):  # two labels found by one hit: that hit gains the higher grade once
        if 0 < rank <= depth:
            found[rank] = max(found.get(rank, 0), grade)
    dcg = sum((2**grade - 1) / math.log2(rank + 1) for rank, grade in found.items())
    ideal = sum((2**grade - 1) / math.log2(position + 1)
                for position, grade in enumerate(sorted(grades, reverse=True)[:depth], start=1))
    return dcg / ideal if ideal else 0.0


def question_scores(ranks: Sequence[int], grades: Sequence[int], k_values: Sequence[int]) -> dict[str, float]:
    """One question's figures: found@k (0/1), reciprocal rank within 10, nDCG@10."""
    best = first_rank(ranks)
    scores = {f"recall@{k}": float(0 < best <= k) for k in k_values}
    scores[f"mrr@{RANK_METRIC_DEPTH}"] = 1.0 / best if 0 < best <= RANK_METRIC_DEPTH else 0.0
    scores[f"ndcg@{RANK_METRIC_DEPTH}"] = ndcg(ranks, grades)
    return scores


def mean_scores(per_question: Sequence[dict[str, float]]) -> dict[str, float]:
    """The mean of each figure over the questions (rounded to 4 places, as stored)."""
    if not per_question:
        return {}
    names = list(per_question[0])
    return {name: round(sum(q[name] for q in per_question) / len(per_question), 4) for name in names}


def paired_bootstrap(a: Sequence[float], b: Sequence[float], resamples: int = 10_000, seed: int = 0) -> dict[str, float]:
    """The mean of b − a over paired questions, its 95% bootstrap interval, and a two-sided bootstrap p-value."""
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    if not a:
        return {"mean_diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0}
    diffs = [y - x for x, y in zip(a, b)]
    observed = sum(diffs) / len(diffs)
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    low, high = means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))]
    # How often a resample's mean falls on the other side of 0 from the observed one (doubled: two-sided).
    if observed == 0:
        p_value = 1.0
    else:
        other_side = sum(1 for m in means if (m <= 0 if observed > 0 else m >= 0))
        p_value = min(1.0, 2 * (other_side + 1) / (resamples + 1))
    return {"mean_diff": round(observed, 4), "ci_low": round(low, 4), "ci_high": round(high, 4), "p_value": round(p_value, 4)}


def sign_test(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """Exact two-sided sign test: of the questions where the two differ, how many b wins, and the p-value."""
    wins = sum(1 for x, y in zip(a, b) if y > x)
    losses = sum(1 for x, y in zip(a, b) if y < x)
    n = wins + losses
    if n == 0:
        return {"b_better": 0, "a_better": 0, "p_value": 1.0}
    tail = sum(math.comb(n, i) for i in range(0, min(wins, losses) + 1)) / 2**n
    return {"b_better": wins, "a_better": losses, "p_value": round(min(1.0, 2 * tail), 6)}


def metrics_from_ranks(ranks: Sequence[int], k_values: Sequence[int]) -> dict[str, float]:
    """The figures of questions with one label each, from the rank at which it was found (0: not found)."""
    return mean_scores([question_scores([rank], [2], sorted(set(int(k) for k in k_values))) for rank in ranks])



def bootstrap_interval(values: Sequence[float], resamples: int = 2_000, seed: int = 0) -> dict[str, float]:
    """The mean of per-question values with its 95% percentile bootstrap interval (seeded: the same values, the same interval)."""
    if not values:
        return {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0, "questions": 0}
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    low, high = means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))]
    return {"mean": round(sum(values) / n, 4), "ci_low": round(low, 4), "ci_high": round(high, 4), "questions": n}
