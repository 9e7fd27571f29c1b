"""An in-process fake of Cohere's v2 embed endpoint, for driving the real `cohere` SDK (ClientV2) in tests.

Serves `POST /v2/embed` on 127.0.0.1 and a free port (a client's `base_url` is
`http://127.0.0.1:<port>`; the SDK appends `v2/embed`) with the documented shapes, which the
installed SDK sends and decodes (`cohere/v2/raw_client.py`, `EmbedByTypeResponse`):

    request   {"texts": [...] (at most 96), "model": ..., "input_type": "search_document" |
               "search_query" | "classification" | "clustering", "embedding_types": ["float", ...],
               "truncate": "NONE" | "START" | "END", "max_tokens", "output_dimension"}
    response  {"id": ..., "embeddings": {"float": [[...], ...]}, "texts": [...],
               "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": n}},
               "response_type": "embeddings_by_type"}
    errors    {"id": ..., "message": ...}

Vectors are a deterministic function of (model, input_type, text) with the model's documented
width, and are deliberately *not* unit-normalised. A query and a document with the same text get
different (but close) vectors, as with the real v3 models. With truncate "NONE", a text over the
model's 512-token input limit (estimated as words plus punctuation marks) gets a 400.

Switches: `api_key` (another bearer token gets the documented 401), `fail_next(times, status,
retry_after, retry_after_ms, after)` (after `after` normal answers, answer the next `times` authenticated requests, or all with
`times=None`, with an error status and optional Retry-After / retry-after-ms headers).
`requests` records every request (method, path, lower-cased headers, JSON body).

    with FakeCohere() as fake:
        client = cohere.ClientV2(api_key=fake.api_key, base_url=fake.base_url)
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import uuid
from typing import Any

import numpy as np

from tests.fakes._http_fake import JsonApiFake, RecordedRequest, Reply

DIMENSIONS = {
    "embed-english-v3.0": 1024,
    "embed-multilingual-v3.0": 1024,
    "embed-english-light-v3.0": 384,
    "embed-multilingual-light-v3.0": 384,
    "embed-v4.0": 1536,
}
OUTPUT_DIMENSIONS = {"embed-v4.0": (256, 512, 1024, 1536)}
INPUT_TYPES = ("search_document", "search_query", "classification", "clustering", "image")
EMBEDDING_TYPES = ("float", "int8", "uint8", "binary", "ubinary", "base64")
MAX_TEXTS = 96
MAX_INPUT_TOKENS = 512
DEFAULT_KEY = "co-fake-cohere-0123456789abcdefTESTKEY"

ERROR_MESSAGES = {
    # status: message, as the API documents them
    400: "invalid request",
    401: "invalid api token",
    402: "Please add or update your payment method at https://dashboard.cohere.com/billing",
    404: "model not found",
    429: "You are past the per minute request limit, please wait and try again later.",
    500: "internal server error, this has been reported to our developers",
    503: "service unavailable",
}
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def token_estimate(text: str) -> int:
    """Words and punctuation marks: near enough to Cohere tokens for billing counts and the input limit."""
    return len(_WORD.findall(text))


@functools.lru_cache(maxsize=50_000)
def _unit_random(seed_text: str, dimension: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(seed_text.encode("utf-8", "surrogatepass")).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dimension)
    return vector / np.linalg.norm(vector)


def fake_vector(text: str, model: str, input_type: str, dimension: int) -> list[float]:
    """The fake's embedding of a text: deterministic, not unit length (norm between 0.5 and 1.5, never 1 by design)."""
    vector = _unit_random(f"{model}\x00text\x00{text}", dimension) * 0.5
    vector = vector + _unit_random(f"{model}\x00input_type\x00{input_type}\x00{text}", dimension) * 0.1
    for word in (w.lower() for w in _WORD.findall(text)):
        vector = vector + _unit_random(f"{model}\x00word\x00{word}", dimension)
    vector = vector + _unit_random(f"{model}\x00offset", dimension) * 0.25
    byte = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[0]
    scale = 0.5 + byte / 255.0 * 0.45 if byte % 2 else 1.05 + byte / 255.0 * 0.45  # never within 0.05 of 1
    return (vector / np.linalg.norm(vector) * scale).astype(np.float32).tolist()


def _quantised(vectors: list[list[float]], kind: str) -> Any:
    array = np.asarray(vectors, dtype=np.float32)
    if kind == "float":
        return vectors
    if kind == "base64":
        return [base64.b64encode(row.astype("<f4").tobytes()).decode("ascii") for row in array]
    if kind in ("int8", "uint8"):
        scaled = np.clip(np.round(array / (np.abs(array).max(axis=1, keepdims=True) + 1e-12) * 127), -128, 127)
        return (scaled + (128 if kind == "uint8" else 0)).astype(int).tolist()
    bits = np.packbits(array > 0, axis=1).astype(int)  # binary / ubinary
    return (bits - 128 if kind == "binary" else bits).tolist()


class CohereErrors:
    """Cohere's error replies for a `JsonApiFake`: `{"id": ..., "message": ...}`."""

    error_messages = ERROR_MESSAGES

    def _error(self, status: int, message: str | None = None) -> dict[str, Any]:
        """The body of an error status: `message`, or the documented one."""
        return {"id": str(uuid.uuid4()), "message": message or self.error_messages.get(status, "unexpected error")}

    def _not_found(self, method: str, path: str) -> Reply:
        return Reply(404, self._error(404, f"{method} {path} not found"))

    def _unauthorized(self, token: str) -> Reply:
        return Reply(401, self._error(401, "no api key supplied" if not token else None))

    def _failure_body(self, status: int, body: Any) -> Any:
        return self._error(status)

    def _invalid(self, message: str, status: int = 400) -> Reply:
        return Reply(status, self._error(status, f"invalid request: {message}" if status == 400 else message))


class FakeCohere(CohereErrors, JsonApiFake):
    """The fake server; a context manager, or call `start()` / `stop()`."""

    name = "fake-cohere"
    path = "/v2/embed"

    def __init__(self, api_key: str = DEFAULT_KEY, dimensions: dict[str, int] | None = None) -> None:
        super().__init__(api_key)
        self.dimensions = dict(DIMENSIONS if dimensions is None else dimensions)

    @property
    def embed_requests(self) -> list[RecordedRequest]:
        """The POST /v2/embed requests, in order."""
        return self._endpoint_requests()

    def vector(self, text: str, input_type: str, model: str = "embed-english-v3.0") -> list[float]:
        """The float vector this fake returns for a text (before any caller normalisation)."""
        return fake_vector(text, model, input_type, self.dimensions[model])

    # --- request handling ----------------------------------------------------------------------

    def _answer(self, body: Any) -> Reply:
        if not isinstance(body, dict):
            return self._invalid("could not parse the request body as JSON")
        model = body.get("model")
        if not model:
            return self._invalid("model must be specified")
        if model not in self.dimensions:
            return self._invalid(f"model '{model}' not found, make sure the correct model ID was used", 404)
        texts = body.get("texts")
        if body.get("images") or body.get("inputs"):
            return self._invalid("this fake embeds texts only")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return self._invalid("texts must be a non-empty list of strings")
        if len(texts) > MAX_TEXTS:
            return self._invalid(f"total number of texts must be at most {MAX_TEXTS} - received {len(texts)}")
        input_type = body.get("input_type")
        if input_type not in INPUT_TYPES or input_type == "image":
            return self._invalid("valid input_type must be provided with the provided model")
        kinds = body.get("embedding_types") or ["float"]
        if not isinstance(kinds, list) or any(kind not in EMBEDDING_TYPES for kind in kinds):
            return self._invalid(f"embedding_types must be a list of {', '.join(EMBEDDING_TYPES)}")
        truncate = body.get("truncate", "END")
        if truncate not in ("NONE", "START", "END"):
            return self._invalid("truncate must be one of NONE, START, END")
        counts = [token_estimate(text) for text in texts]
        if truncate == "NONE":
            for index, count in enumerate(counts):
                if count > MAX_INPUT_TOKENS:
                    return self._invalid(f"text at index {index} is too long ({count} tokens, the maximum is "
                                         f"{MAX_INPUT_TOKENS}); shorten it or use truncate START or END")
        dimension = self.dimensions[model]
        output_dimension = body.get("output_dimension")
        if output_dimension is not None:
            if output_dimension not in OUTPUT_DIMENSIONS.get(model, ()):
                return self._invalid(f"output_dimension {output_dimension} is not supported by {model}")
            dimension = output_dimension
        vectors = [fake_vector(text, model, input_type, self.dimensions[model])[:dimension] for text in texts]
        return Reply(200, {
            "id": str(uuid.uuid4()),
            "embeddings": {kind: _quantised(vectors, kind) for kind in kinds},
            "texts": list(texts),
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": sum(counts)}},
            "response_type": "embeddings_by_type",
        })
