"""No LLM at all: the sentences of the top sources that best match the question, each cited, labelled as extracted."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator

from hamilton.function_modifiers import config

from ragkit.text_splitting import sentence_spans

EXTRACTIVE_LABEL = "Extracted, not generated: the sentences of the top sources that best match your question."
_WORD = re.compile(r"\w+")
_STOP = frozenset(
    "a an and are as at be by did do does for from had has have how i in is it its of on or that the their this to"
    " was were what when where which who whom whose why will with you your".split()
)


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1]


@config.when(llm_service="extractive")
def supporting_sentences(question: str, context_chunks: list[dict], max_sentences: int = 3) -> list[tuple[str, int]]:
    """The sentences of the sources that share most (IDF-weighted) terms with the question, with their source number."""
    candidates: list[tuple[str, int]] = []
    for number, chunk in enumerate(context_chunks, start=1):
        text = chunk["text"]
        candidates.extend((text[s:e], number) for s, e in sentence_spans(text))
    if not candidates:
        return []
    document_frequency = Counter(term for sentence, _ in candidates for term in set(_terms(sentence)))
    wanted = set(_terms(question))
    scored = []
    for position, (sentence, number) in enumerate(candidates):
        terms = set(_terms(sentence))
        overlap = sum(math.log(1 + len(candidates) / document_frequency[t]) for t in terms & wanted)
        if overlap > 0:
            scored.append((overlap + 0.1 / number, -position, sentence, number))
    scored.sort(reverse=True)
    return [(sentence, number) for _, _, sentence, number in scored[:max_sentences]]


@config.when(llm_service="extractive")
def answer_stream__extractive(supporting_sentences: list[tuple[str, int]]) -> Iterator[str]:
    """No LLM: the best-supporting sentences of the top chunks, each with its citation, labelled as extracted."""

    def stream() -> Iterator[str]:
        yield f"{EXTRACTIVE_LABEL}\n\n"
        if not supporting_sentences:
            yield "No sentence in the retrieved sources shares a term with the question."
            return
        for sentence, number in supporting_sentences:
            yield f"\u201c{sentence}\u201d [{number}]\n\n"

    return stream()
