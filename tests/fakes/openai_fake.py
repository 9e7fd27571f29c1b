"""An in-process fake of OpenAI's embeddings endpoint, for driving the real `openai` SDK in tests.

Serves `POST /v1/embeddings` on 127.0.0.1 and a free port (so a client's `base_url` is
`http://127.0.0.1:<port>/v1`) with the documented shapes:

    request   {"model": ..., "input": str | [str, ...], "encoding_format": "float" | "base64",
               "dimensions": int (text-embedding-3-* only), "user": ...}
    response  {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": [...]}],
               "model": ..., "usage": {"prompt_tokens": n, "total_tokens": n}}
    errors    {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}

Vectors are a deterministic function of (model, text) with the model's documented width, and are
deliberately *not* unit-normalised (so a caller's normalisation is exercised). Texts that share
words get similar vectors (a sum of per-word random vectors), so a search over them is sensible.

Switches: `api_key` (a request with another bearer token gets the documented 401),
`fail_next(times, status, retry_after, retry_after_ms, after)` (after `after` normal answers, answer the next `times` authenticated
requests, or all of them with `times=None`, with an error status and optional Retry-After / retry-after-ms headers),
`reverse_order` (list `data` items in reverse order; the `index` field stays right).
`requests` records every request (method, path, lower-cased headers, JSON body).

    with FakeOpenAI() as fake:
        client = openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url)
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from typing import Any

import numpy as np

from tests.fakes._http_fake import JsonApiFake, RecordedRequest, Reply

DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
SHORTENABLE = {"text-embedding-3-small", "text-embedding-3-large"}
MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8191
DEFAULT_KEY = "sk-fake-openai-0123456789abcdefTESTKEY"

ERROR_BODIES: dict[int, tuple[str, str, str | None]] = {
    # status: (message, type, code), as the API documents them
    401: ("Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys.",
          "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to sample from this model", "invalid_request_error", "unsupported_country_region_territory"),
    429: ("Rate limit reached for {model} in organization org-fake on requests per min (RPM): Limit 3000, Used 3000, "
          "Requested 1. Please try again in 20ms.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def token_estimate(text: str) -> int:
    """Words and punctuation marks: near enough to BPE tokens for usage counts and the input limit."""
    return len(_WORD.findall(text))


@functools.lru_cache(maxsize=50_000)
def _unit_random(seed_text: str, dimension: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(seed_text.encode("utf-8", "surrogatepass")).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dimension)
    return vector / np.linalg.norm(vector)


def fake_vector(text: str, model: str, dimension: int) -> list[float]:
    """The fake's embedding of a text: deterministic, not unit length (norm between 2 and 5)."""
    words = [word.lower() for word in _WORD.findall(text)]
    vector = _unit_random(f"{model}\x00text\x00{text}", dimension) * 0.5
    for word in words:
        vector = vector + _unit_random(f"{model}\x00word\x00{word}", dimension)
    vector = vector + _unit_random(f"{model}\x00offset", dimension) * 0.25
    scale = 2.0 + (hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[0] / 255.0) * 3.0
    return (vector / np.linalg.norm(vector) * scale).astype(np.float32).tolist()


class OpenAIErrors:
    """OpenAI's error replies for a `JsonApiFake`: `{"error": {"message", "type", "param", "code"}}`."""

    @staticmethod
    def _body(message: str, kind: str = "invalid_request_error", param: str | None = None,
              code: str | None = None) -> dict[str, Any]:
        return {"error": {"message": message, "type": kind, "param": param, "code": code}}

    def _error(self, status: int, model: Any = None, token: str = "") -> dict[str, Any]:
        """The documented body of `status`, naming `model` and the masked `token`."""
        message, kind, code = ERROR_BODIES.get(status, ("Unexpected error.", "server_error", None))
        masked = f"sk-{'*' * 20}{token[-4:]}" if token else "(none)"
        return self._body(message.format(model=model or "the model", masked=masked), kind, None, code)

    def _not_found(self, method: str, path: str) -> Reply:
        return Reply(404, self._body(f"Invalid URL ({method} {path})"))

    def _unauthorized(self, token: str) -> Reply:
        if not token:
            return Reply(401, self._body(
                "You didn't provide an API key. You need to provide your API key in an Authorization header using "
                "Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."))
        return Reply(401, self._error(401, token=token))

    def _invalid(self, message: str, param: str | None = None, status: int = 400, code: str | None = None) -> Reply:
        return Reply(status, self._body(message, "invalid_request_error", param, code))


class FakeOpenAI(OpenAIErrors, JsonApiFake):
    """The fake server; a context manager, or call `start()` / `stop()`."""

    name = "fake-openai"
    path = "/v1/embeddings"
    url_suffix = "/v1"

    def __init__(self, api_key: str = DEFAULT_KEY, dimensions: dict[str, int] | None = None) -> None:
        super().__init__(api_key)
        self.dimensions = dict(DIMENSIONS if dimensions is None else dimensions)
        self.reverse_order = False

    def reset(self) -> None:
        """Forget recorded requests and scripted failures."""
        super().reset()
        self.reverse_order = False

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        """The POST /v1/embeddings requests, in order."""
        return self._endpoint_requests()

    def vector(self, text: str, model: str = "text-embedding-3-small") -> list[float]:
        """The vector this fake returns for a text (before any caller normalisation)."""
        return fake_vector(text, model, self.dimensions[model])

    # --- request handling ----------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        """Answer one request, with an `x-request-id` header derived from its body."""
        reply = super().handle(method, path, headers, raw)
        reply.headers = {"x-request-id": f"req_{hashlib.sha256(raw).hexdigest()[:24]}", **reply.headers}
        return reply

    def _failure_body(self, status: int, body: Any) -> Any:
        return self._error(status, str(body.get("model", "")) if isinstance(body, dict) else "")

    def _answer(self, body: Any) -> Reply:
        if not isinstance(body, dict):
            return self._invalid("We could not parse the JSON body of your request.")
        model = body.get("model")
        if not model:
            return self._invalid("you must provide a model parameter", "model")
        if model not in self.dimensions:
            return self._invalid(f"The model `{model}` does not exist or you do not have access to it.", None, 404,
                                 "model_not_found")
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return self._invalid("'input' : input must be a string or an array of strings (token arrays are not "
                                 "supported by this fake)", "input")
        if len(texts) > MAX_INPUTS:
            return self._invalid(f"'input' : array too long. Expected an array with maximum length {MAX_INPUTS}, but "
                                 f"got an array with length {len(texts)} instead.", "input")
        if any(text == "" for text in texts):
            return self._invalid("'$.input' is invalid. Please check the API reference: "
                                 "https://platform.openai.com/docs/api-reference.", "input")
        counts = [token_estimate(text) for text in texts]
        for count in counts:
            if count > MAX_INPUT_TOKENS:
                return self._invalid(f"This model's maximum context length is {MAX_INPUT_TOKENS} tokens, however you "
                                     f"requested {count} tokens in your input.", "input")
        dimension = self.dimensions[model]
        requested = body.get("dimensions")
        if requested is not None:
            if model not in SHORTENABLE:
                return self._invalid("This model does not support specifying dimensions.", "dimensions")
            if not isinstance(requested, int) or not 1 <= requested <= dimension:
                return self._invalid(f"Invalid value for 'dimensions' = {requested}.", "dimensions")
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            return self._invalid(f"Invalid value for 'encoding_format' = {encoding}.", "encoding_format")
        data = []
        for index, text in enumerate(texts):
            vector = fake_vector(text, model, dimension)
            if requested is not None:
                vector = vector[:requested]
            embedding: Any = vector
            if encoding == "base64":
                embedding = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        if self.reverse_order:
            data.reverse()
        tokens = sum(counts)
        return Reply(200, {"object": "list", "data": data, "model": model,
                           "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
