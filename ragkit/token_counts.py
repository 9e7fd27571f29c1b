"""Tokens a text costs at an embedding service: its own tokenizer where there is one here, else an estimate that says so.

- sentence-transformers: the model's own Hugging Face tokenizer (exact, special tokens included);
- OpenAI: tiktoken's encoding of the model when tiktoken is installed (exact), else 4 UTF-8 bytes per token
  (OpenAI's rule of thumb for English; flagged `estimated`);
- Cohere, and any other service: 4 UTF-8 bytes per token, flagged `estimated` (Cohere's tokenizer is fetched
  from its API, so it is not used offline).

The ingestion run records these counts for the texts the model embedded, and the Ingest page's estimate counts the
chunks' texts the same way, so the two agree.
"""

from __future__ import annotations

import copy
import functools
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

BYTES_PER_TOKEN = 4
_COUNTING_COPIES: dict[int, tuple[Any, Any, threading.Lock]] = {}
_COUNTING_COPIES_LOCK = threading.Lock()


@dataclass(frozen=True)
class TokenTally:
    """How many tokens some texts are, whether that is an estimate, and how it was counted."""

    tokens: int
    estimated: bool
    method: str

    def to_json(self) -> dict[str, Any]:
        """The tally as a plain dict."""
        return {"tokens": self.tokens, "estimated": self.estimated, "method": self.method}


def estimate_tokens(text: str) -> int:
    """An estimate of a text's tokens: one per 4 UTF-8 bytes, rounded up (0 for an empty text)."""
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


def _counting_copy(tokenizer: Any) -> tuple[Any, threading.Lock]:
    """A copy of a model's tokenizer kept for counting, and the lock its calls take.

    A Hugging Face fast tokenizer holds its truncation and padding settings in the tokenizer itself and sets them
    on every call; counting (no truncation) on the model's own tokenizer while another thread encodes with it
    (truncation and padding) changes the settings under that encode, which then fails on rows of unequal length.
    The copy is never used to encode, and its lock keeps two counters from doing the same to each other."""
    with _COUNTING_COPIES_LOCK:
        entry = _COUNTING_COPIES.get(id(tokenizer))
        if entry is None or entry[0] is not tokenizer:  # the original is kept in the entry, so its id is not reused
            entry = (tokenizer, copy.deepcopy(tokenizer), threading.Lock())
            _COUNTING_COPIES[id(tokenizer)] = entry
    return entry[1], entry[2]


def tokens_of_each(tokenizer: Any, texts: Sequence[str]) -> list[int]:
    """Each text's tokens in a Hugging Face tokenizer, special tokens included, without truncation; safe beside
    threads that encode with the same model (see `_counting_copy`)."""
    if not texts:
        return []
    counter, lock = _counting_copy(tokenizer)
    with lock:
        ids = counter(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    return [len(row) for row in ids]


@functools.lru_cache(maxsize=8)
def _tiktoken_encoding(model_name: str) -> Any:
    """tiktoken's encoding of an OpenAI model, or None when tiktoken is not installed (or does not know the model)."""
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        return tiktoken.encoding_for_model(model_name)
    except KeyError:
        return tiktoken.get_encoding("cl100k_base")  # the encoding of every OpenAI embedding model


def tokenizer_counter(embedding_service: str, model_name: str,
                      tokenizer: Any = None) -> tuple[Callable[[Sequence[str]], list[int]], bool, str]:
    """The function counting each text's tokens for a service's model, whether it estimates, and how it counts.

    `tokenizer` is the local model's Hugging Face tokenizer (sentence-transformers)."""
    if embedding_service == "sentence_transformers" and tokenizer is not None:
        return (lambda texts: tokens_of_each(tokenizer, texts)), False, f"{model_name}'s own tokenizer"
    if embedding_service == "openai":
        encoding = _tiktoken_encoding(model_name)
        if encoding is not None:
            return (lambda texts: [len(encoding.encode(text)) for text in texts]), False, f"tiktoken {encoding.name}"
        return (lambda texts: [estimate_tokens(text) for text in texts]), True, \
            f"estimated: {BYTES_PER_TOKEN} UTF-8 bytes per token (tiktoken is not installed)"
    return (lambda texts: [estimate_tokens(text) for text in texts]), True, \
        f"estimated: {BYTES_PER_TOKEN} UTF-8 bytes per token ({embedding_service} has no tokenizer here)"


def count_tokens(embedding_service: str, model_name: str, texts: Sequence[str], tokenizer: Any = None) -> TokenTally:
    """The tokens of these texts for a service's model (see the module docstring for how each is counted)."""
    count, estimated, method = tokenizer_counter(embedding_service, model_name, tokenizer)
    return TokenTally(tokens=int(sum(count(texts))), estimated=estimated, method=method)
