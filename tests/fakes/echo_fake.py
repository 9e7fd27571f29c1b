"""A misconfigured gateway: every request is refused with an error whose text echoes the request's credentials.

It stands in front of any hosted service (OpenAI, Cohere, Weaviate, Pinecone): whatever the path, the reply is
`status` with a JSON body whose every usual message field (`error.message`, `message`, `detail`, `error`) quotes
the request's `Authorization`, `Api-Key` and `X-Api-Key` headers verbatim — the way a proxy that dumps its
request into the error page does. The SDKs put such text into their exceptions; the workbench must not.
"""

from __future__ import annotations

from tests.fakes._http_fake import LocalHttpFake, RecordedRequest, Reply, json_or_none

_CREDENTIAL_HEADERS = ("authorization", "api-key", "x-api-key")


class EchoingGateway(LocalHttpFake):
    """Answers every request with `status` and an error body quoting its credential headers."""

    name = "echoing-gateway"
    methods = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")

    def __init__(self, status: int = 400) -> None:
        super().__init__()
        self.status = status
        self.requests: list[RecordedRequest] = []

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        """Record the request; refuse it, quoting its credentials."""
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, json_or_none(raw)))
        echoed = "; ".join(f"{name}: {headers[name]}" for name in _CREDENTIAL_HEADERS if name in headers)
        text = f"gateway refused {method} {path} (request headers: {echoed})"
        body = {"error": {"message": text, "type": "invalid_request_error", "code": "gateway"},
                "message": text, "detail": text, "code": self.status}
        return Reply(self.status, body)

    def credentials_seen(self) -> set[str]:
        """Every credential header value a request carried (proof that the key reached the gateway)."""
        return {request.headers[name] for request in self.requests for name in _CREDENTIAL_HEADERS if name in request.headers}
