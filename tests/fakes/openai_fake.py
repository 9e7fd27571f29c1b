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
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import numpy as np

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


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it: header names lower-cased, body decoded from JSON (None if not JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class _Failure:
    status: int
    times: int | None  # None: every request from now on
    retry_after: str | None
    retry_after_ms: str | None
    after: int = 0  # authenticated requests answered normally before this failure starts


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


class FakeOpenAI:
    """The fake server; a context manager, or call `start()` / `stop()`."""

    def __init__(self, api_key: str = DEFAULT_KEY, dimensions: dict[str, int] | None = None) -> None:
        self.api_key = api_key
        self.dimensions = dict(DIMENSIONS if dimensions is None else dimensions)
        self.requests: list[RecordedRequest] = []
        self.reverse_order = False
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """What to pass as the OpenAI client's base_url."""
        return f"http://127.0.0.1:{self.port}/v1"

    # --- switches and records ------------------------------------------------------------------

    def fail_next(
        self, times: int | None = 1, status: int = 429, retry_after: str | None = None, retry_after_ms: str | None = None,
        after: int = 0,
    ) -> None:
        """Answer the next `times` authenticated requests (all if None) with `status` and the documented error body,
        once `after` more authenticated requests have been answered normally (a storm that starts mid-run)."""
        with self._lock:
            self._failures.append(_Failure(status, times, retry_after, retry_after_ms, after))

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def reset(self) -> None:
        """Forget recorded requests and scripted failures."""
        with self._lock:
            self._failures.clear()
            self.requests.clear()
        self.reverse_order = False

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/embeddings"]

    def vector(self, text: str, model: str = "text-embedding-3-small") -> list[float]:
        """The vector this fake returns for a text (before any caller normalisation)."""
        return fake_vector(text, model, self.dimensions[model])

    # --- request handling ----------------------------------------------------------------------

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            if not self._failures:
                return None
            failure = self._failures[0]
            if failure.after > 0:
                failure.after -= 1
                return None
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.pop(0)
            return failure

    def _error(self, status: int, model: str = "", token: str = "") -> dict[str, Any]:
        message, kind, code = ERROR_BODIES.get(status, ("Unexpected error.", "server_error", None))
        masked = f"sk-{'*' * 20}{token[-4:]}" if token else "(none)"
        return {"error": {"message": message.format(model=model or "the model", masked=masked), "type": kind,
                          "param": None, "code": code}}

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], Any]:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body))
        if method != "POST" or path != "/v1/embeddings":
            return 404, {}, {"error": {"message": f"Invalid URL ({method} {path})", "type": "invalid_request_error",
                                       "param": None, "code": None}}
        auth = headers.get("authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        if token != self.api_key:
            if not token:
                return 401, {}, {"error": {
                    "message": "You didn't provide an API key. You need to provide your API key in an Authorization "
                               "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    "type": "invalid_request_error", "param": None, "code": None}}
            return 401, {}, self._error(401, token=token)
        model = str(body.get("model", "")) if isinstance(body, dict) else ""
        failure = self._take_failure()
        if failure is not None:
            extra = {}
            if failure.retry_after is not None:
                extra["retry-after"] = failure.retry_after
            if failure.retry_after_ms is not None:
                extra["retry-after-ms"] = failure.retry_after_ms
            return failure.status, extra, self._error(failure.status, model=model)
        return self._embed(body)

    def _invalid(self, message: str, param: str | None = None, status: int = 400, code: str | None = None) -> tuple[int, dict[str, str], Any]:
        return status, {}, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}

    def _embed(self, body: Any) -> tuple[int, dict[str, str], Any]:
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
        return 200, {}, {"object": "list", "data": data, "model": model,
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default stderr log
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, extra, payload = self.fake.handle(self.command, urlsplit(self.path).path, headers, raw)
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", f"req_{hashlib.sha256(raw).hexdigest()[:24]}")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_POST = _serve
    do_GET = _serve
    do_DELETE = _serve
