"""How good an answer is against reference answers: contains (any mode), and SQuAD's exact match and token F1.

`answer_contains` asks whether a reference answer occurs in the answer, compared the way answer-string
labels are (whitespace collapsed, case folded): it suits extracted answers, which quote whole sentences.
`exact_match` and `f1` are the official SQuAD v1.1 measures (lower case, punctuation and the articles
a/an/the removed, whitespace collapsed; F1 over the bags of tokens), each the best over the references,
applied to the answer without its citation markers ("[1]", "[2][3]"), which the prompt asks every
generated answer to carry.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable

from ragkit.questions import normalised

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_CITATION = re.compile(r"\[\d+\]")


def squad_normalised(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def answer_contains(answer: str, references: Iterable[str]) -> bool:
    """Whether any reference answer occurs in the answer (whitespace collapsed, case folded)."""
    text = normalised(answer)
    return any(normalised(reference) and normalised(reference) in text for reference in references)


def _without_citations(answer: str) -> str:
    return _CITATION.sub(" ", answer)


def exact_match(answer: str, references: Iterable[str]) -> float:
    """1.0 when the answer (less its citation markers) equals a reference after SQuAD normalisation, else 0.0."""
    answer = squad_normalised(_without_citations(answer))
    return float(any(answer == squad_normalised(reference) for reference in references))


def _f1(answer: str, reference: str) -> float:
    predicted, gold = squad_normalised(answer).split(), squad_normalised(reference).split()
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def f1(answer: str, references: Iterable[str]) -> float:
    """SQuAD's token F1 of the answer (less its citation markers) against the best-matching reference (0.0 without
    references)."""
    answer = _without_citations(answer)
    return max((_f1(answer, reference) for reference in references), default=0.0)
