"""Chat conversations kept in the catalog, so a refresh or a shared link (`?chat=<id>`) brings a conversation back."""

from __future__ import annotations

import json
import uuid
from typing import Any

from workbench.catalog import Catalog
from workbench.config import resolve_config


def _catalog(data_dir: str) -> Catalog:
    return Catalog(resolve_config({"data_dir": data_dir})["data_dir"])


def new_conversation_id() -> str:
    """A fresh, unguessable conversation id."""
    return uuid.uuid4().hex[:16]


def save_conversation(conversation_id: str, index_key: str, turns: list[dict[str, Any]], data_dir: str = "") -> None:
    """Store a conversation's turns (questions, answers, their sources and prompts), replacing what was stored."""
    plain = json.loads(json.dumps(turns, default=float))  # numbers from numpy become plain floats
    _catalog(data_dir).save_conversation(conversation_id, index_key, plain)


def conversation(conversation_id: str, data_dir: str = "") -> dict[str, Any] | None:
    """A stored conversation: {"conversation_id", "index_key", "turns", "updated_at"}, or None."""
    return _catalog(data_dir).conversation(conversation_id)
