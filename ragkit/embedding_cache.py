"""A local cache of embeddings keyed by (service, model, input type, text).

It is what makes "same documents, three stores" and "re-run after a crash" cheap: a chunk's
text is embedded once per model, whatever store it goes to. SQLite in the data folder; vectors
are float32 bytes. Safe for several processes (SQLite locking; WAL journal).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import numpy as np

from ragkit.schema import sha256_hex

_log = logging.getLogger(__name__)


class EmbeddingCache:
    """Lookup and store of float32 vectors by content key."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        try:
            self._create()
        except sqlite3.DatabaseError as error:  # only a cache: a damaged file is dropped and rebuilt as texts are embedded
            _log.warning("embedding cache %s is damaged (%s); starting a new one", self.path, error)
            self._discard()
            self._create()

    def _create(self) -> None:
        with self._connection() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            connection.execute("SELECT key FROM embeddings LIMIT 1").fetchall()

    def _discard(self) -> None:
        """Close this thread's connection and delete the damaged file with its WAL and shared-memory companions."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=60)
            self._local.connection = connection
        return connection

    @staticmethod
    def key(namespace: str, text: str) -> str:
        """The cache key of a text under a namespace (service, model and input type)."""
        return sha256_hex(namespace, text)

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        """The cached vectors among `keys`."""
        found: dict[str, np.ndarray] = {}
        connection = self._connection()
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            marks = ",".join("?" * len(batch))
            for key, blob in connection.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", batch):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, keys: list[str], vectors: np.ndarray) -> None:
        """Store vectors (rows of a float32 matrix) under their keys."""
        rows = [(key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in zip(keys, vectors)]
        with self._connection() as connection:
            connection.executemany("INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)", rows)
