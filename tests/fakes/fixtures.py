"""Pytest fixtures that start the fakes of this package, one fresh server per test.

A test module takes the ones it needs by name (pytest finds fixtures among a module's attributes):

    from tests.fakes import fixtures
    openai_fake = fixtures.openai_fake
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.cohere_fake import FakeCohere
from tests.fakes.openai_fake import FakeOpenAI
from tests.fakes.pinecone_fake import PineconeFake
from tests.fakes.weaviate_fake import FakeWeaviate


@pytest.fixture
def openai_fake() -> Iterator[FakeOpenAI]:
    """A running OpenAI embeddings fake."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def cohere_fake() -> Iterator[FakeCohere]:
    """A running Cohere embed fake."""
    with FakeCohere() as fake:
        yield fake


@pytest.fixture
def pinecone_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[PineconeFake]:
    """A running Pinecone fake; the SDK keeps its retry policy but does not sleep between attempts."""
    from pinecone._internal import http_client
    from pinecone._internal.bulk import get_registry

    monkeypatch.setattr(http_client, "_retry_sleep", lambda seconds: None)
    monkeypatch.delenv("PINECONE_CONTROLLER_HOST", raising=False)
    # The SDK's retry budget and throttle gates are process-wide per host: start each test afresh.
    http_client.get_budget_registry()._reset()
    get_registry()._reset()
    with PineconeFake() as fake:
        yield fake


@pytest.fixture
def weaviate_fake() -> Iterator[FakeWeaviate]:
    """A running Weaviate fake (REST and gRPC)."""
    with FakeWeaviate() as fake:
        yield fake
