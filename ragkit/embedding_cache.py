"""A local cache of embeddings keyed by (service, model, input type, text).

It is what makes "same documents, three stores" and "re-run after a crash" cheap: a chunk's
text is embedded once per model, whatever store it goes to. SQLite in the data folder; vectors
are float32 bytes. Safe for several processes (SQLite locking; WAL journal).

It never holds a wrong vector: only rows that pass `usable_rows` (the right width, finite, unit norm — the
checks the embeddings node's data-quality validator applies) are written, and a row read back that fails
them (written by older code, or damaged) is dropped from the file and reported missing, so it is recomputed.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import numpy as np

from ragkit.failures import sqlite_cannot_write
from ragkit.schema import sha256_hex

_log = logging.getLogger(__name__)
UNIT_NORM_TOLERANCE = 1e-3


def usable_rows(vectors: np.ndarray, dimension: int) -> np.ndarray:
    """A boolean per row: the row is `dimension` wide, finite and of unit L2 norm (within 1e-3)."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != dimension:
        return np.zeros(len(array), dtype=bool)
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(array).all(axis=1)
        norms = np.linalg.norm(np.where(finite[:, None], array, 0.0), axis=1)
    return finite & (np.abs(norms - 1.0) <= UNIT_NORM_TOLERANCE)


class EmbeddingCache:
    """Lookup and store of float32 vectors by content key."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.disabled = ""  # why the cache is not used (a folder in its place, a read-only file): texts are embedded anew
        if self.path.is_dir():
            self._disable(f"{self.path} is a folder")
            return
        try:
            self._create()
        except sqlite3.DatabaseError as error:  # only a cache: a damaged file is dropped and rebuilt as texts are embedded
            if sqlite_cannot_write(error):
                self._disable(str(error))
                return
            _log.warning("embedding cache %s is damaged (%s); starting a new one", self.path, error)
            try:
                self._discard()
                self._create()
            except (sqlite3.Error, OSError) as again:
                self._disable(str(again))

    def _disable(self, reason: str) -> None:
        """Go on without the cache (every text is embedded by the model; nothing is stored in it): it is only a cache."""
        self.disabled = reason
        _log.warning("embedding cache %s cannot be used (%s); embedding without it until it can", self.path, reason)

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
            # In WAL mode NORMAL skips the fsync of every commit (1.3 ms of a query's 4 ms embed step) and still never
            # corrupts the file; a power cut can lose the last vectors written, which are then only computed again.
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    @staticmethod
    def key(namespace: str, text: str) -> str:
        """The cache key of a text under a namespace (service, model and input type)."""
        return sha256_hex(namespace, text)

    def get_many(self, keys: list[str], dimension: int) -> dict[str, np.ndarray]:
        """The cached vectors among `keys` that are usable at `dimension`; unusable rows are deleted (so they are recomputed)."""
        found: dict[str, np.ndarray] = {}
        bad: list[str] = []
        if self.disabled:
            return found
        connection = self._connection()
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            marks = ",".join("?" * len(batch))
            for key, blob in connection.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", batch):
                vector = np.frombuffer(blob, dtype=np.float32) if len(blob) % 4 == 0 else np.zeros(0, np.float32)
                if vector.shape == (dimension,) and usable_rows(vector[None, :], dimension)[0]:
                    found[key] = vector
                else:
                    bad.append(key)
        if bad:
            with connection:
                connection.executemany("DELETE FROM embeddings WHERE key = ?", [(key,) for key in bad])
        return found

    def put_many(self, keys: list[str], vectors: np.ndarray, dimension: int) -> int:
        """Store the usable rows of a float32 matrix under their keys (the others are left out); returns how many were stored."""
        vectors = np.asarray(vectors, dtype=np.float32)
        keep = usable_rows(vectors, dimension)
        rows = [(key, vector.tobytes()) for key, vector, ok in zip(keys, vectors, keep) if ok]
        if self.disabled:
            return 0
        try:
            with self._connection() as connection:
                connection.executemany("INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)", rows)
        except sqlite3.OperationalError as error:
            if not sqlite_cannot_write(error):
                raise
            self._disable(str(error))  # read-only since it was opened: the vectors are kept by the run, not here
            return 0
        return len(rows)

