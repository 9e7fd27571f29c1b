"""Counting tokens beside an encode of the same model, from two threads (the threads executor does this): the
count must not change the tokenizer settings under the encode (a fast tokenizer holds them in itself)."""

from __future__ import annotations

import threading
import time

from ragkit.local_models import load_sentence_transformer
from ragkit.token_counts import count_tokens

TEXTS = [("word " * (5 + i * 37 % 400)).strip() for i in range(64)]  # lengths from 5 to 400 words, unequal


def test_token_counts_beside_an_encode_in_another_thread_break_neither():
    model = load_sentence_transformer("all-MiniLM-L6-v2")
    expected = count_tokens("sentence_transformers", "all-MiniLM-L6-v2", TEXTS, model.tokenizer).tokens
    errors: list[str] = []
    counted: list[int] = []
    stop = threading.Event()

    def encode() -> None:  # the tokenizing step of model.encode, in a loop (the forward pass is not what races)
        try:
            while not stop.is_set():
                assert model.tokenize(TEXTS)["input_ids"].shape == (len(TEXTS), model.max_seq_length)
        except Exception as error:  # noqa: BLE001 - the failure under test
            errors.append(repr(error)[:300])
            stop.set()

    def count() -> None:
        while not stop.is_set():
            counted.append(count_tokens("sentence_transformers", "all-MiniLM-L6-v2", TEXTS, model.tokenizer).tokens)

    threads = [threading.Thread(target=encode), threading.Thread(target=count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not stop.is_set():
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert counted and set(counted) == {expected}
    assert model.encode(TEXTS[:2]).shape == (2, 384)
