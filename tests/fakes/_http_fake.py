"""The scaffolding every local fake of a hosted service shares, written once.

`LocalHttpFake` serves HTTP on 127.0.0.1 and a free port from a background thread: `start()` /
`stop()` or a `with` block, `port` and `url`. Its handler (`FakeHandler`, bound to the fake as
`handler.fake`) reads the body, lower-cases header names, and sends JSON or server-sent events.
`FailureScript` holds injected failures: each lets `after` matching requests pass, then fails the
next `times` (all with `times=None`).

`JsonApiFake` is a fake of one bearer-authenticated JSON endpoint (`POST <path>`): it records
every request as a `RecordedRequest`, answers 404 off the endpoint, 401 without the key, then a
scripted failure or the subclass's `_answer(body)`:

    class FakeThing(JsonApiFake):
        path = "/v1/thing"
        def _not_found(self, method, path): ...
        def _unauthorized(self, token): ...
        def _failure_body(self, status, body): ...
        def _answer(self, body): ...
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it: header names lower-cased, body decoded from JSON (None if not JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Failure:
    """One injected failure: after `after` matching requests pass, the next `times` (None: all) get `status`."""

    status: Any  # an HTTP status, or whatever else the fake answers with (a gRPC code)
    times: int | None = 1
    after: int = 0
    retry_after: str | None = None
    retry_after_ms: str | None = None
    only: Callable[[str], bool] | None = None  # which requests it applies to, by the key given to take(); None: all

    def headers(self) -> dict[str, str]:
        """The Retry-After / retry-after-ms headers to send with it."""
        extra = {}
        if self.retry_after is not None:
            extra["retry-after"] = self.retry_after
        if self.retry_after_ms is not None:
            extra["retry-after-ms"] = self.retry_after_ms
        return extra


class FailureScript:
    """Injected failures, first in first out; thread-safe."""

    def __init__(self) -> None:
        self._queue: list[Failure] = []
        self._lock = threading.Lock()

    def add(self, failure: Failure) -> None:
        """Queue `failure` after those already scripted."""
        with self._lock:
            self._queue.append(failure)

    def replace(self, failure: Failure) -> None:
        """Script `failure` alone, dropping any other."""
        with self._lock:
            self._queue[:] = [failure]

    def clear(self) -> None:
        """Drop every scripted failure."""
        with self._lock:
            self._queue.clear()

    def take(self, key: str = "") -> Failure | None:
        """The failure for this request (identified by `key`), counting it; None when it is to be answered normally."""
        with self._lock:
            if not self._queue:
                return None
            failure = self._queue[0]
            if failure.only is not None and not failure.only(key):
                return None
            if failure.after > 0:
                failure.after -= 1
                return None
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._queue.pop(0)
            return failure


@dataclass
class Reply:
    """What a handler sends: a JSON body (None: an empty one) with extra headers, or server-sent event blocks."""

    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    events: list[bytes] | None = None


def bearer_token(headers: dict[str, str]) -> str:
    """The token of an `Authorization: Bearer <token>` header (lower-cased names), or ""."""
    auth = headers.get("authorization", "")
    return auth[len("Bearer "):] if auth.startswith("Bearer ") else ""


def json_or_none(raw: bytes) -> Any:
    """A request body decoded from JSON; None when it is empty or not JSON."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class FakeHandler(BaseHTTPRequestHandler):
    """The request handler of a `LocalHttpFake`; by default it answers with `fake.handle(...)`."""

    fake: Any  # the LocalHttpFake this handler class is bound to
    protocol_version = "HTTP/1.1"
    title_case_headers = False  # send "Content-Type" rather than "content-type"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default stderr log
        pass

    def dispatch(self) -> None:
        """Every `do_<METHOD>` of the fake's `methods`: forget the last request's body (a kept-alive connection
        keeps its handler), then `serve()`."""
        self._raw: bytes | None = None
        self.serve()

    def serve(self) -> None:
        """Answer one request; override for a fake without `handle`."""
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.send_reply(self.fake.handle(self.command, urlsplit(self.path).path, headers, self.read_body()))

    def read_body(self) -> bytes:
        """The request body (Content-Length bytes), read once."""
        if self._raw is None:
            length = int(self.headers.get("content-length") or 0)
            self._raw = self.rfile.read(length) if length else b""
        return self._raw

    def read_json(self, empty: Any = None) -> Any:
        """The request body decoded from JSON (`empty` when there is none); ValueError when it is not JSON."""
        raw = self.read_body()
        return json.loads(raw) if raw else empty

    def _header(self, name: str) -> str:
        return name.title() if self.title_case_headers else name

    def send_json(self, status: int, payload: Any = None, headers: dict[str, str] | None = None) -> None:
        """Send `payload` as JSON (None: an empty body), then `headers` after the content headers."""
        data = b"" if payload is None else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header(self._header("content-type"), "application/json")
        self.send_header(self._header("content-length"), str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def send_events(self, status: int, events: list[bytes]) -> None:
        """Send a text/event-stream, each event written and flushed on its own, as a server streams tokens."""
        self.send_response(status)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("content-length", str(sum(len(event) for event in events)))
        self.end_headers()
        for event in events:
            self.wfile.write(event)
            self.wfile.flush()

    def send_reply(self, reply: Reply) -> None:
        """Send a `Reply`: its events when it has some, else its JSON body and headers."""
        if reply.events is None:
            self.send_json(reply.status, reply.payload, reply.headers)
        else:
            self.send_events(reply.status, reply.events)


class LocalHttpFake:
    """An HTTP server on 127.0.0.1 and a free port, served from a daemon thread; a context manager."""

    name = "local-http-fake"  # the serving thread's name
    handler: type[FakeHandler] = FakeHandler
    methods: tuple[str, ...] = ("GET", "POST", "DELETE")  # others get the stock 501

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _bind(self) -> ThreadingHTTPServer:
        """Listen (once) without serving yet, so that `port` is known before `start()`."""
        if self._server is None:
            handler = type("Handler", (self.handler,), {
                "fake": self, **{f"do_{method}": FakeHandler.dispatch for method in self.methods}})
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        return self._server

    def start(self) -> Self:
        """Serve in the background (a no-op when serving already)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._bind().serve_forever, args=(0.05,), name=self.name,
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port, so that connections drop (a no-op when stopped already)."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None:
            if thread is not None:
                server.shutdown()
            server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The HTTP port."""
        assert self._server is not None, "start() the fake first"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>."""
        return f"http://127.0.0.1:{self.port}"

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        """Answer one request (header names lower-cased, raw body) for the default `FakeHandler.serve`."""
        raise NotImplementedError


class JsonApiFake(LocalHttpFake):
    """A fake of one bearer-authenticated JSON endpoint, `POST <path>`, with recorded requests and failures."""

    path = ""
    url_suffix = ""  # what `base_url` adds to `url`

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._failures = FailureScript()

    @property
    def base_url(self) -> str:
        """What to pass as the client's base_url."""
        return f"{self.url}{self.url_suffix}"

    def fail_next(
        self, times: int | None = 1, status: int = 429, retry_after: str | None = None, retry_after_ms: str | None = None,
        after: int = 0,
    ) -> None:
        """Answer the next `times` authenticated requests (all if None) with `status` and the documented error body,
        once `after` more authenticated requests have been answered normally (a storm that starts mid-run)."""
        self._failures.add(Failure(status, times, after, retry_after, retry_after_ms))

    def clear_failures(self) -> None:
        """Drop the scripted failures."""
        self._failures.clear()

    def reset(self) -> None:
        """Forget recorded requests and scripted failures."""
        self._failures.clear()
        with self._lock:
            self.requests.clear()

    def _endpoint_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == self.path]

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        """Record the request, then: 404 off the endpoint, 401 without the key, a scripted failure, or the answer."""
        body = json_or_none(raw)
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body))
        if method != "POST" or path != self.path:
            return self._not_found(method, path)
        refusal = self._refusal(headers)
        if refusal is not None:
            return refusal
        failure = self._failures.take()
        if failure is not None:
            return Reply(failure.status, self._failure_body(failure.status, body), failure.headers())
        return self._answer(body)

    def _refusal(self, headers: dict[str, str]) -> Reply | None:
        token = bearer_token(headers)
        return None if token == self.api_key else self._unauthorized(token)

    def _not_found(self, method: str, path: str) -> Reply:
        raise NotImplementedError

    def _unauthorized(self, token: str) -> Reply:
        raise NotImplementedError

    def _failure_body(self, status: int, body: Any) -> Any:
        raise NotImplementedError

    def _answer(self, body: Any) -> Reply:
        raise NotImplementedError
