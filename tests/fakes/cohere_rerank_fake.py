"""An in-process fake of Cohere's v2 rerank endpoint, for driving the real `cohere` SDK (ClientV2) in tests.

Serves `POST /v2/rerank` on 127.0.0.1 and a free port (a client's `base_url` is
`http://127.0.0.1:<port>`; the SDK appends `v2/rerank`) with the documented shapes, which the
installed SDK sends and decodes (`cohere/v2/raw_client.py`, `V2RerankResponse`):

    request   {"model": ..., "query": ..., "documents": [str, ...] (at most 1,000), "top_n": n,
               "max_tokens_per_doc": n}
    response  {"id": ..., "results": [{"index": i, "relevance_score": s}, ...] best first,
               "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}}}
    errors    {"id": ..., "message": ...}

The relevance score is deterministic and easy to predict in a test: the share of the query's
distinct words (lower-cased, 3+ letters) that the document contains, in [0, 1]; ties keep the
documents' order. `score(query, document)` computes it.

Switches: `api_key` (another bearer token gets the documented 401), `fail_next(times, status)`
(answer the next `times` authenticated requests with an error status), `requests` records every
request (method, path, lower-cased headers, JSON body).

    with FakeCohereRerank() as fake:
        client = cohere.ClientV2(api_key=fake.api_key, base_url=fake.base_url)
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

MODELS = ("rerank-v3.5", "rerank-english-v3.0", "rerank-multilingual-v3.0")
MAX_DOCUMENTS = 1000
DEFAULT_KEY = "co-fake-rerank-0123456789abcdefTESTKEY"
ERROR_MESSAGES = {
    400: "invalid request",
    401: "invalid api token",
    404: "model not found",
    429: "You are past the per minute request limit, please wait and try again later.",
    500: "internal server error, this has been reported to our developers",
}
_WORD = re.compile(r"[a-z]{3,}")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def score(query: str, document: str) -> float:
    """The fake's relevance score: the share of the query's distinct words (3+ letters) found in the document."""
    wanted = _words(query)
    return len(wanted & _words(document)) / len(wanted) if wanted else 0.0


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it: header names lower-cased, body decoded from JSON (None if not JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeCohereRerank:
    """The fake server; a context manager, or call `start()` / `stop()`."""

    def __init__(self, api_key: str = DEFAULT_KEY) -> None:
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._failures: list[list[int]] = []  # [status, times left]
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> FakeCohereRerank:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-cohere-rerank", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeCohereRerank:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What to pass as the Cohere client's base_url."""
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, times: int = 1, status: int = 429) -> None:
        """Answer the next `times` authenticated requests with `status` and the documented error body."""
        with self._lock:
            self._failures.append([status, times])

    @property
    def rerank_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/v2/rerank"]

    @staticmethod
    def _error(status: int, message: str | None = None) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "message": message or ERROR_MESSAGES.get(status, "unexpected error")}

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body))
        if method != "POST" or path != "/v2/rerank":
            return 404, self._error(404, f"{method} {path} not found")
        auth = headers.get("authorization", "")
        if auth != f"Bearer {self.api_key}":
            return 401, self._error(401, "no api key supplied" if not auth else None)
        with self._lock:
            if self._failures:
                failure = self._failures[0]
                failure[1] -= 1
                if failure[1] <= 0:
                    self._failures.pop(0)
                return failure[0], self._error(failure[0])
        return self._rerank(body)

    def _rerank(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not body.get("model"):
            return 400, self._error(400, "invalid request: model must be specified")
        if body["model"] not in MODELS:
            return 404, self._error(404, f"model '{body['model']}' not found, make sure the correct model ID was used")
        query, documents = body.get("query"), body.get("documents")
        if not isinstance(query, str) or not query:
            return 400, self._error(400, "invalid request: query must be a non-empty string")
        if not isinstance(documents, list) or not documents or not all(isinstance(d, str) for d in documents):
            return 400, self._error(400, "invalid request: documents must be a non-empty list of strings")
        if len(documents) > MAX_DOCUMENTS:
            return 400, self._error(400, f"invalid request: at most {MAX_DOCUMENTS} documents")
        top_n = body.get("top_n") or len(documents)
        scored = sorted(((score(query, doc), index) for index, doc in enumerate(documents)), key=lambda p: (-p[0], p[1]))
        results = [{"index": index, "relevance_score": value} for value, index in scored[: int(top_n)]]
        return 200, {
            "id": str(uuid.uuid4()),
            "results": results,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeCohereRerank
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default stderr log
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, payload = self.fake.handle(self.command, urlsplit(self.path).path, headers, raw)
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = _serve
    do_GET = _serve
