"""In-process fakes of the OpenAI and Cohere streaming chat endpoints, for driving the real SDKs in tests.

`FakeOpenAIChat` serves `POST /v1/chat/completions` (a client's `base_url` is
`http://127.0.0.1:<port>/v1`) with the documented shapes:

    request   {"model": ..., "messages": [{"role": ..., "content": ...}, ...], "stream": true,
               "stream_options": {"include_usage": true} (optional), ...}
    stream    text/event-stream of `data: <chunk>` lines, each chunk
              {"id": "chatcmpl-…", "object": "chat.completion.chunk", "created": …, "model": …,
               "system_fingerprint": …, "choices": [{"index": 0, "delta": {...}, "logprobs": null,
               "finish_reason": null}]}
              — first a delta {"role": "assistant", "content": ""}, then one {"content": "<piece>"} per
              piece of the scripted answer, then a delta {} with finish_reason "stop" (then, with
              include_usage, a chunk with empty choices and usage), then `data: [DONE]`.
    no stream {"object": "chat.completion", "choices": [{"message": {"role": "assistant", "content": ...}}], ...}
    errors    {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}

`FakeCohereChat` serves `POST /v2/chat` (a client's `base_url` is `http://127.0.0.1:<port>`) with the
events the installed SDK parses (`cohere/v2/raw_client.py` `chat_stream`: SSE, content type
text/event-stream, each `data:` a JSON object discriminated by its "type"):

    event: message-start   {"id": …, "type": "message-start", "delta": {"message": {"role": "assistant", …}}}
    event: content-start   {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}}
    event: content-delta   {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "<piece>"}}}}
    event: content-end     {"type": "content-end", "index": 0}
    event: message-end     {"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": {...}}}
    errors                 {"id": ..., "message": ...}

Both fakes: `api_key` (a request with another bearer token gets the documented 401;
`Fake….without_auth()` accepts any token or none, as a local OpenAI-compatible server does), `script(answer, pieces)` (the answer
and how many deltas it is split into), `reply_with(responder)` (an answer computed from each request's messages), `fail_next(times, status, retry_after, retry_after_ms)`
(answer the next `times` authenticated requests, all with `times=None`, with an error status),
`requests` (every request: method, path, lower-cased headers, JSON body) and `chat_requests`.
`FakeOpenAIChat.error_after(n, message)` sends an in-stream error event after `n` content deltas.

    with FakeOpenAIChat(answer="Paris [1].") as fake:
        client = openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url)
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.fakes._http_fake import JsonApiFake, RecordedRequest, Reply
from tests.fakes.cohere_fake import CohereErrors
from tests.fakes.openai_fake import OpenAIErrors, token_estimate

OPENAI_KEY = "sk-fake-openai-chat-0123456789abcdefTESTKEY"
COHERE_KEY = "co-fake-cohere-chat-0123456789abcdefTESTKEY"
DEFAULT_ANSWER = "The Eiffel Tower was completed in 1889 [1]. It stands in Paris [1]."
OPENAI_ROLES = ("system", "developer", "user", "assistant", "tool")
COHERE_ROLES = ("system", "user", "assistant", "tool")
_PIECE = re.compile(r"\S+\s*|\s+")


def split_answer(text: str, pieces: int) -> list[str]:
    """`text` cut at word boundaries into at most `pieces` non-empty deltas that join back to it exactly."""
    words = _PIECE.findall(text)
    if not words:
        return []
    pieces = max(1, min(pieces, len(words)))
    size, extra = divmod(len(words), pieces)
    parts, start = [], 0
    for index in range(pieces):
        end = start + size + (1 if index < extra else 0)
        parts.append("".join(words[start:end]))
        start = end
    return parts


class _ChatFake(JsonApiFake):
    """What both chat fakes share: the scripted answer, keyless mode, and the streamed or whole reply."""

    default_key = ""

    def __init__(self, api_key: str | None = None, answer: str = DEFAULT_ANSWER, pieces: int = 4) -> None:
        super().__init__(self.default_key if api_key is None else api_key)
        self.accept_any_key = False
        self.answer = answer
        self.pieces = pieces
        self.responder: Callable[[list[dict[str, Any]]], str] | None = None
        self.sent_deltas: list[list[str]] = []  # the deltas of each successful chat answer, in order

    @classmethod
    def without_auth(cls, answer: str = DEFAULT_ANSWER, pieces: int = 4) -> _ChatFake:
        """A fake that accepts any bearer token (or none), like a local Ollama or vLLM server."""
        fake = cls(answer=answer, pieces=pieces)
        fake.accept_any_key = True
        return fake

    def script(self, answer: str, pieces: int = 4) -> None:
        """Answer the next chat requests with `answer`, streamed as (at most) `pieces` deltas."""
        with self._lock:
            self.answer, self.pieces = answer, pieces

    def reply_with(self, responder: Callable[[list[dict[str, Any]]], str] | None) -> None:
        """Answer each chat request with `responder(messages)` (None: the scripted answer again)."""
        with self._lock:
            self.responder = responder

    def reset(self) -> None:
        """Forget recorded requests, sent answers and scripted failures."""
        super().reset()
        with self._lock:
            self.sent_deltas.clear()

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The requests to the chat endpoint, in order."""
        return self._endpoint_requests()

    def _refusal(self, headers: dict[str, str]) -> Reply | None:
        return None if self.accept_any_key else super()._refusal(headers)

    def _answer(self, body: Any) -> Reply:
        if not isinstance(body, dict):
            return self._invalid("could not parse the request body as JSON")
        problem = self._check(body)
        if problem:
            return self._invalid(problem)
        with self._lock:
            text = self.responder(body.get("messages") or []) if self.responder else self.answer
            deltas = split_answer(text, self.pieces)
            self.sent_deltas.append(deltas)
        if body.get("stream") is True:
            return Reply(200, events=self._events(body, deltas))
        return Reply(200, self._complete(body, deltas))

    def _invalid(self, message: str) -> Reply:
        raise NotImplementedError

    def _check(self, body: dict[str, Any]) -> str:
        raise NotImplementedError

    def _events(self, body: dict[str, Any], deltas: list[str]) -> list[bytes]:
        raise NotImplementedError

    def _complete(self, body: dict[str, Any], deltas: list[str]) -> dict[str, Any]:
        raise NotImplementedError


class FakeOpenAIChat(OpenAIErrors, _ChatFake):
    """OpenAI's `POST /v1/chat/completions`, streaming or not."""

    path = "/v1/chat/completions"
    default_key = OPENAI_KEY
    name = "fake-openai-chat"
    url_suffix = "/v1"

    def __init__(self, api_key: str | None = None, answer: str = DEFAULT_ANSWER, pieces: int = 4) -> None:
        super().__init__(api_key, answer, pieces)
        self._error_after: tuple[int, str] | None = None

    def error_after(self, deltas: int, message: str = "The server had an error while processing your request.") -> None:
        """Make the next stream send `deltas` content deltas, then an in-stream error event (and stop)."""
        with self._lock:
            self._error_after = (deltas, message)

    def _failure_body(self, status: int, body: Any) -> Any:
        return self._error(status, body.get("model") if isinstance(body, dict) else None)

    def _check(self, body: dict[str, Any]) -> str:
        if not body.get("model"):
            return "you must provide a model parameter"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "'messages' must be a non-empty array"
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in OPENAI_ROLES:
                return f"Invalid value for 'messages[{index}].role'"
            if not isinstance(message.get("content"), str | list):
                return f"Invalid type for 'messages[{index}].content'"
        return ""

    def _chunk(self, ident: str, created: int, model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": "fp_fake", "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                               "finish_reason": finish}]}

    def _events(self, body: dict[str, Any], deltas: list[str]) -> list[bytes]:
        ident, created, model = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time()), str(body["model"])
        with self._lock:
            error_after, self._error_after = self._error_after, None
        chunks: list[dict[str, Any]] = [self._chunk(ident, created, model, {"role": "assistant", "content": ""}, None)]
        for number, piece in enumerate(deltas):
            if error_after is not None and number == error_after[0]:
                chunks.append(self._body(error_after[1], "server_error"))
                return [_sse(chunk) for chunk in chunks]
            chunks.append(self._chunk(ident, created, model, {"content": piece}, None))
        chunks.append(self._chunk(ident, created, model, {}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            prompt = sum(token_estimate(str(m.get("content", ""))) for m in body["messages"])
            completion = token_estimate("".join(deltas))
            chunks.append({**self._chunk(ident, created, model, {}, None), "choices": [],
                           "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                     "total_tokens": prompt + completion}})
        return [_sse(chunk) for chunk in chunks] + [b"data: [DONE]\n\n"]

    def _complete(self, body: dict[str, Any], deltas: list[str]) -> dict[str, Any]:
        prompt = sum(token_estimate(str(m.get("content", ""))) for m in body["messages"])
        completion = token_estimate("".join(deltas))
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
                "model": body["model"], "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(deltas), "refusal": None},
                             "logprobs": None, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}}


class FakeCohereChat(CohereErrors, _ChatFake):
    """Cohere's `POST /v2/chat`, streaming (the SDK's `chat_stream`) or not (`chat`)."""

    path = "/v2/chat"
    default_key = COHERE_KEY
    name = "fake-cohere-chat"

    def _check(self, body: dict[str, Any]) -> str:
        if not body.get("model"):
            return "model must be specified"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "messages must be a non-empty list"
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in COHERE_ROLES:
                return f"messages[{index}].role must be one of {', '.join(COHERE_ROLES)}"
            if message["role"] != "tool" and not isinstance(message.get("content"), str | list):
                return f"messages[{index}].content must be a string or a list of content blocks"
        return ""

    def _usage(self, body: dict[str, Any], deltas: list[str]) -> dict[str, Any]:
        prompt = sum(token_estimate(str(m.get("content", ""))) for m in body["messages"])
        completion = token_estimate("".join(deltas))
        counts = {"input_tokens": prompt, "output_tokens": completion}
        return {"billed_units": dict(counts), "tokens": dict(counts)}

    def _events(self, body: dict[str, Any], deltas: list[str]) -> list[bytes]:
        events: list[tuple[str, dict[str, Any]]] = [
            ("message-start", {"id": str(uuid.uuid4()), "type": "message-start",
                               "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "",
                                                     "tool_calls": [], "citations": []}}}),
            ("content-start", {"type": "content-start", "index": 0,
                               "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
        ]
        events += [("content-delta", {"type": "content-delta", "index": 0,
                                      "delta": {"message": {"content": {"text": piece}}}}) for piece in deltas]
        events += [
            ("content-end", {"type": "content-end", "index": 0}),
            ("message-end", {"type": "message-end",
                             "delta": {"finish_reason": "COMPLETE", "usage": self._usage(body, deltas)}}),
        ]
        return [_sse(data, event) for event, data in events]

    def _complete(self, body: dict[str, Any], deltas: list[str]) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "finish_reason": "COMPLETE",
                "message": {"role": "assistant", "content": [{"type": "text", "text": "".join(deltas)}]},
                "usage": self._usage(body, deltas)}


def _sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
