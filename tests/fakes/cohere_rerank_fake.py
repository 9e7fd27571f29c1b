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

import re
import uuid
from typing import Any

from tests.fakes._http_fake import JsonApiFake, RecordedRequest, Reply
from tests.fakes.cohere_fake import CohereErrors

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


class FakeCohereRerank(CohereErrors, JsonApiFake):
    """The fake server; a context manager, or call `start()` / `stop()`."""

    name = "fake-cohere-rerank"
    path = "/v2/rerank"
    methods = ("GET", "POST")
    error_messages = ERROR_MESSAGES

    def __init__(self, api_key: str = DEFAULT_KEY) -> None:
        super().__init__(api_key)

    @property
    def rerank_requests(self) -> list[RecordedRequest]:
        """The POST /v2/rerank requests, in order."""
        return self._endpoint_requests()

    def _refusal(self, headers: dict[str, str]) -> Reply | None:
        auth = headers.get("authorization", "")
        return None if auth == f"Bearer {self.api_key}" else self._unauthorized(auth)

    def _answer(self, body: Any) -> Reply:
        if not isinstance(body, dict) or not body.get("model"):
            return self._invalid("model must be specified")
        if body["model"] not in MODELS:
            return self._invalid(f"model '{body['model']}' not found, make sure the correct model ID was used", 404)
        query, documents = body.get("query"), body.get("documents")
        if not isinstance(query, str) or not query:
            return self._invalid("query must be a non-empty string")
        if not isinstance(documents, list) or not documents or not all(isinstance(d, str) for d in documents):
            return self._invalid("documents must be a non-empty list of strings")
        if len(documents) > MAX_DOCUMENTS:
            return self._invalid(f"at most {MAX_DOCUMENTS} documents")
        top_n = body.get("top_n") or len(documents)
        scored = sorted(((score(query, doc), index) for index, doc in enumerate(documents)), key=lambda p: (-p[0], p[1]))
        results = [{"index": index, "relevance_score": value} for value, index in scored[: int(top_n)]]
        return Reply(200, {
            "id": str(uuid.uuid4()),
            "results": results,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
        })
