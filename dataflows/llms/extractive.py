"""No LLM at all: the sentences of the top sources that best answer the question, each cited, labelled as extracted.

A sentence's score mixes two things: its cosine similarity to the question under the index's own embedding
model (the question and the sentences go through the `embeddings` node family in one batch, with the model the
query flow loaded and the embedding cache), and the share of the question's IDF weight it covers, IDF taken over
every chunk of the index (`term_statistics`), so a term found in every chunk weighs nothing. The best sentence
comes first; a sentence the conversation already gave comes after the new ones. A follow-up is matched with its
context (`retrieval_question`), its own words first.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from hamilton.function_modifiers import config

from ragkit.terms import TermStatistics, content_stems
from ragkit.text_splitting import sentence_spans

EXTRACTIVE_LABEL = "Extracted, not generated: the sentences of the top sources that best match your question."
NO_MATCH = "No sentence in the retrieved sources matches the question."
_RANK_PRIOR = 0.02  # a sentence of source [1] gains this much, of source [n] 1/n of it: ties go to the better hit
_MIN_SHARED_WEIGHT = 0.25  # IDF the shared terms must reach to count as sharing a term (a term in half the chunks: 0.41)
_MIN_SIMILARITY = 0.5  # without such a term, a sentence must be at least this similar to the question
_CONTEXT_WEIGHT = 1 / 3  # of a word the conversation added to a follow-up, against the question's own words
_BOILERPLATE_SHARE = 0.8  # a sentence whose every term is in this share of the chunks (a running header) says nothing
_FEW_CHUNKS = 4  # below this many chunks in the index, any shared term counts and nothing is boilerplate


@config.when(llm_service="extractive")
def candidate_sentences__extractive(question: str, retrieval_question: str, context_chunks: list[dict]) -> list[tuple[str, int]]:
    """The sentences of the sources that share a content word with the question (all of them when none does), with their source number.

    Only these are embedded. A sentence with no word of the question could win on similarity alone, but leaving
    such sentences out changed no figure of bench/offline_answers.py, and the model's work fell 5.6× (real
    documents) and 1.8× (SQuAD).
    """
    sentences = [(chunk["text"][start:end], number) for number, chunk in enumerate(context_chunks, start=1)
                 for start, end in sentence_spans(chunk["text"])]
    wanted = content_stems(question) | content_stems(retrieval_question)
    return [(sentence, number) for sentence, number in sentences if content_stems(sentence) & wanted] or sentences


def _questions(question: str, retrieval_question: str) -> list[str]:
    """The question as asked, and as searched when that differs (a follow-up made standalone)."""
    return list(dict.fromkeys([question.strip(), retrieval_question.strip()]))


@config.when(llm_service="extractive")
def texts_to_embed__extractive(question: str, retrieval_question: str, candidate_sentences: list[tuple[str, int]]) -> list[str]:
    """The question (as asked, and as searched), then every candidate sentence: one batch for the index's model (none without sentences)."""
    return [*_questions(question, retrieval_question), *(s for s, _ in candidate_sentences)] if candidate_sentences else []


@config.when(llm_service="extractive")
def embedding_input_type__extractive() -> str:
    """The question and the sentences are compared with each other, so all are embedded alike, as documents."""
    return "search_document"


@config.when(llm_service="extractive")
def sentence_scores__extractive(
    question: str,
    retrieval_question: str,
    candidate_sentences: list[tuple[str, int]],
    embeddings: np.ndarray,
    context_chunks: list[dict],
    chat_history: list[dict],
    term_statistics: TermStatistics | None = None,
    similarity_weight: float = 0.5,
) -> list[dict]:
    """Per candidate: similarity to the question, the share of its IDF weight covered, the mix, whether it matches, is boilerplate or was said before.

    For a follow-up, similarity is the mean over the question as asked and as searched, and the words the
    conversation added weigh a third of the question's own: they find the sources, the question picks the sentence.
    """
    if not candidate_sentences:
        return []
    statistics = term_statistics if term_statistics and term_statistics.documents else TermStatistics.of(
        chunk["text"] for chunk in context_chunks)  # without the index's figures, the sources' own
    own = content_stems(question)
    weights = {term: statistics.idf(term) * (1 if term in own else _CONTEXT_WEIGHT) for term in own | content_stems(retrieval_question)}
    total = sum(weights.values())
    asked = len(_questions(question, retrieval_question))
    similarities = (embeddings[asked:] @ embeddings[:asked].T).mean(axis=1)
    said = " ".join(turn["content"] for turn in chat_history if turn.get("role") == "assistant")
    judged = statistics.documents >= _FEW_CHUNKS  # in a handful of chunks every term is "common": no weight says much
    scores = []
    for (sentence, number), similarity in zip(candidate_sentences, similarities, strict=True):
        stems = content_stems(sentence)
        shared = sum(weight for term, weight in weights.items() if term in stems)
        coverage = shared / total if total > 1e-9 else 0.0
        rarest = min((statistics.share(term) for term in stems), default=1.0)
        shares_a_term = shared >= _MIN_SHARED_WEIGHT if judged else bool(stems & weights.keys())
        scores.append({"similarity": float(similarity), "shared_weight": shared, "coverage": coverage, "rarest_share": rarest,
                       "matches": shares_a_term or float(similarity) >= _MIN_SIMILARITY,
                       "boilerplate": judged and rarest >= _BOILERPLATE_SHARE, "said_before": sentence in said,
                       "score": similarity_weight * float(similarity) + (1 - similarity_weight) * coverage
                       + _RANK_PRIOR / number})
    return scores


@config.when(llm_service="extractive")
def supporting_sentences__extractive(
    candidate_sentences: list[tuple[str, int]], sentence_scores: list[dict], max_sentences: int = 3
) -> list[tuple[str, int]]:
    """The best-scoring sentences that match the question (a weighted term in common, or close similarity) and say something, best first."""
    matching = [
        (not score["said_before"], score["score"], -position, sentence, number)
        for position, ((sentence, number), score) in enumerate(zip(candidate_sentences, sentence_scores, strict=True))
        if score["matches"] and not score["boilerplate"]
    ]
    matching.sort(reverse=True)
    chosen: list[tuple[str, int]] = []
    for *_, sentence, number in matching:
        if all(sentence != seen for seen, _ in chosen):  # overlapping chunks repeat sentences
            chosen.append((sentence, number))
        if len(chosen) == max_sentences:
            break
    return chosen


@config.when(llm_service="extractive")
def question_rewrite__extractive() -> str:
    """No LLM to rewrite a follow-up: the retrieval question takes the earlier turns' terms instead."""
    return ""


@config.when(llm_service="extractive")
def llm_answer_stream__extractive(supporting_sentences: list[tuple[str, int]]) -> Iterator[str]:
    """No LLM: the best-supporting sentences of the top chunks, each with its citation, labelled as extracted."""

    def stream() -> Iterator[str]:
        yield f"{EXTRACTIVE_LABEL}\n\n"
        if not supporting_sentences:
            yield NO_MATCH
            return
        for sentence, number in supporting_sentences:
            yield f"\u201c{sentence}\u201d [{number}]\n\n"

    return stream()
