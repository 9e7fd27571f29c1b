"""The catalog: run records, index manifests and evaluation records, in one SQLite file in the data folder.

A run record says what a run did (config without secrets, inputs, counts, per-node times,
per-file errors, the DAG, the code version); a manifest says how an index was built
(store, embedding service, model, dimension, chunking), and retrieval reads it. An evaluation
record says how well a retrieval config found SQuAD's gold paragraphs in an index (config,
question sample, metrics, latency, code version); they accumulate into a history per index.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ragkit.errors import CatalogError
from ragkit.failures import expected_failure
from ragkit.processes import process_alive
from ragkit.redaction import redact
from ragkit.schema import FileRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    index_key TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    config_json TEXT NOT NULL,
    inputs_json TEXT NOT NULL,
    counts_json TEXT NOT NULL DEFAULT '{}',
    timings_json TEXT NOT NULL DEFAULT '{}',
    file_errors_json TEXT NOT NULL DEFAULT '[]',
    error TEXT NOT NULL DEFAULT '',
    dag_dot TEXT NOT NULL DEFAULT '',
    code_version TEXT NOT NULL DEFAULT '',
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    resources_json TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS manifests (
    index_key TEXT PRIMARY KEY,
    vector_db TEXT NOT NULL,
    store_location TEXT NOT NULL,
    index_name TEXT NOT NULL,
    vector_db_config_json TEXT NOT NULL,
    embedding_service TEXT NOT NULL,
    model_name TEXT NOT NULL,
    dimension INTEGER NOT NULL,
    chunking_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_run_id TEXT NOT NULL DEFAULT '',
    chunk_count INTEGER NOT NULL DEFAULT 0
);
"""

_EVALUATIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS evaluations (
    eval_id TEXT PRIMARY KEY,
    index_key TEXT NOT NULL,
    started_at TEXT NOT NULL,
    duration_s REAL NOT NULL DEFAULT 0,
    questions INTEGER NOT NULL,
    config_json TEXT NOT NULL,
    sample_json TEXT NOT NULL,
    metrics_json TEXT NOT NULL,
    latency_json TEXT NOT NULL,
    code_version TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS evaluations_by_index ON evaluations (index_key, started_at);
"""

_QUESTIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS question_sets (
    name TEXT PRIMARY KEY,
    index_key TEXT NOT NULL DEFAULT '',
    origin_json TEXT NOT NULL,
    question_count INTEGER NOT NULL,
    questions_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evaluation_answers (
    eval_id TEXT PRIMARY KEY,
    answers_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evaluation_outcomes (
    eval_id TEXT PRIMARY KEY,
    question_set TEXT NOT NULL,
    question_set_json TEXT NOT NULL,
    labels_json TEXT NOT NULL,
    outcomes_json TEXT NOT NULL
);
"""

_MARKS_SCHEMA = """
CREATE TABLE IF NOT EXISTS relevance_marks (
    index_key TEXT NOT NULL,
    question_key TEXT NOT NULL,
    question TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    relevant INTEGER NOT NULL,
    document TEXT NOT NULL DEFAULT '',
    page INTEGER NOT NULL DEFAULT 0,
    marked_at TEXT NOT NULL,
    PRIMARY KEY (index_key, question_key, chunk_id)
);
"""

_DRAFTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS question_drafts (
    name TEXT PRIMARY KEY,
    index_key TEXT NOT NULL,
    origin_json TEXT NOT NULL,
    candidates_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

_PRESETS_SCHEMA = """
CREATE TABLE IF NOT EXISTS retrieval_presets (
    index_key TEXT NOT NULL,
    name TEXT NOT NULL,
    settings_json TEXT NOT NULL,
    tuned_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (index_key, name)
);
"""

_CONVERSATIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    conversation_id TEXT PRIMARY KEY,
    index_key TEXT NOT NULL,
    turns_json TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

_BATCHES_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_batches (
    run_id TEXT NOT NULL,
    batch_number INTEGER NOT NULL,
    documents INTEGER NOT NULL,
    counts_json TEXT NOT NULL,
    worker TEXT NOT NULL DEFAULT '',
    finished_at TEXT NOT NULL,
    PRIMARY KEY (run_id, batch_number)
);
"""

_SCORECARDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS scorecards (
    scorecard_id TEXT PRIMARY KEY,
    index_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    eval_id TEXT NOT NULL DEFAULT '',
    scorecard_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS scorecards_by_index ON scorecards (index_key, created_at);
"""

# Columns added after a table was first released: (table, column, its declaration), added to an older catalog on open.
_ADDED_COLUMNS = (("runs", "resources_json", "TEXT NOT NULL DEFAULT '{}'"),)

_SOURCES_SCHEMA = """
CREATE TABLE IF NOT EXISTS kept_sources (
    index_key TEXT NOT NULL,
    document_id TEXT NOT NULL,
    source_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    suffix TEXT NOT NULL,
    size INTEGER NOT NULL,
    kept_at TEXT NOT NULL,
    PRIMARY KEY (index_key, document_id)
);
CREATE INDEX IF NOT EXISTS kept_sources_by_content ON kept_sources (sha256);
"""

_FILES_SCHEMA = """
CREATE TABLE IF NOT EXISTS ingested_files (
    index_key TEXT NOT NULL,
    document_id TEXT NOT NULL,
    source_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    settings TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    chunk_ids_digest TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (index_key, document_id)
);
"""

# The catalog file states (`Catalog._file_state`) whose schema this process has created and checked: opening the same
# unchanged file again skips that (3 ms of every query). A write through WAL leaves the main file as it is until a
# checkpoint, and the schema it checked is still there.
_PREPARED: set[tuple[str, int, int, int, int] | None] = set()

_JSON_COLUMNS = {
    "config_json": "config",
    "inputs_json": "inputs",
    "counts_json": "counts",
    "timings_json": "timings",
    "file_errors_json": "file_errors",
    "vector_db_config_json": "vector_db_config",
    "chunking_json": "chunking",
    "sample_json": "sample",
    "metrics_json": "metrics",
    "latency_json": "latency_ms",
    "origin_json": "origin",
    "question_set_json": "question_set_info",
    "labels_json": "labels",
    "outcomes_json": "per_question",
    "answers_json": "answer_quality",
    "candidates_json": "candidates",
    "settings_json": "settings",
    "tuned_json": "tuned",
    "turns_json": "turns",
    "resources_json": "resources",
    "scorecard_json": "scorecard",
}


def now_iso() -> str:
    """The current UTC time, ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus random hex."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(4)


def index_key(store_location: str, index_name: str) -> str:
    """The catalog key of an index: where its store lives plus its name."""
    return f"{store_location}#{index_name}"


DATA_DIR_TOKEN = "$DATA_DIR"
_KEYED_TABLES = ("runs", "manifests", "evaluations", "question_sets", "relevance_marks", "question_drafts", "retrieval_presets",
                 "conversations", "scorecards", "kept_sources", "ingested_files")


def portable_location(store_location: str, data_dir: str | Path) -> str:
    """A store location inside the data folder written relative to it (`lancedb:$DATA_DIR/lancedb`), so moving
    the folder keeps its indexes' keys; any other location (a server, a folder elsewhere) is kept as it is."""
    kind, colon, path = store_location.partition(":")
    root = str(Path(data_dir))
    if colon and (path == root or path.startswith(root + "/")):
        return f"{kind}:{DATA_DIR_TOKEN}{path[len(root):]}"
    return store_location


def _add_column(connection: Any, table: str, column: str, declaration: str) -> None:
    """Add a column to an older catalog's table; another process adding it at the same moment is not an error."""
    try:
        connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
    except sqlite3.OperationalError as error:
        if "duplicate column" not in str(error):
            raise


class _RedactingConnection:
    """The catalog's only way to SQLite: every text parameter (JSON columns included) passes `redact` on its way in."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, parameters: tuple | list = ()) -> sqlite3.Cursor:
        """`sqlite3.Connection.execute` with every string parameter redacted."""
        return self._connection.execute(sql, [redact(value) if isinstance(value, str) else value for value in parameters])

    def executemany(self, sql: str, rows: Iterable[tuple | list]) -> sqlite3.Cursor:
        """`sqlite3.Connection.executemany` with every string parameter of every row redacted."""
        return self._connection.executemany(
            sql, ([redact(value) if isinstance(value, str) else value for value in row] for row in rows))

    def executescript(self, script: str) -> sqlite3.Cursor:
        """The schema script, as it is (it holds no values)."""
        return self._connection.executescript(script)


class Catalog:
    """Run records and manifests of one data folder."""

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / "catalog.sqlite"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            state = self._file_state()
            if state is None or state not in _PREPARED:  # schema and keys are checked once per state of the file
                self._create_schema()
                self._adopt_absolute_keys()
                _PREPARED.add(self._file_state())
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError) and not self.path.is_dir():  # the disk or permissions, not the file
                cause = expected_failure(error)
                if cause is not None:
                    raise type(cause)(f"The catalog {self.path} cannot be opened: {cause}") from None
            raise CatalogError(
                f"The catalog {self.path} is damaged or not a SQLite database ({error}). It holds the run records, manifests, "
                f"question sets and evaluations: {self._move_aside()}") from None
        except OSError as error:
            raise CatalogError(f"The data folder {self.path.parent} cannot be used: {error.strerror or error}.") from None

    def _file_state(self) -> tuple[str, int, int, int, int] | None:
        """Where the catalog file is and which bytes it holds as far as the file system tells (inode, size, change
        time): any write to the file, or another file in its place, gives another state. None while there is no file."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        return str(self.path.resolve()), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns

    def _adopt_absolute_keys(self) -> None:
        """Rewrite keys that name this data folder by its absolute path (written before keys were portable) relative to it."""
        root = str(self.path.parent.resolve())
        pattern = f"%:{root.replace('%', '_')}%"
        with self._connect() as connection:
            for table in _KEYED_TABLES:
                keys = [row[0] for row in connection.execute(f"SELECT DISTINCT index_key FROM {table} WHERE index_key LIKE ?", (pattern,))]
                for key in keys:
                    location, _, name = key.rpartition("#")
                    portable = index_key(portable_location(location, root), name)
                    if portable != key:
                        connection.execute(f"UPDATE OR IGNORE {table} SET index_key = ? WHERE index_key = ?", (portable, key))
            for key, location in connection.execute("SELECT index_key, store_location FROM manifests").fetchall():
                if portable_location(location, root) != location:
                    connection.execute("UPDATE manifests SET store_location = ? WHERE index_key = ?",
                                       (portable_location(location, root), key))

    def _create_schema(self, wait_s: float = 60.0) -> None:
        """Switch to WAL and create the tables; safe when several processes open a new catalog at once.

        SQLite does not wait on its busy timeout for a journal-mode change, so a second process
        opening the catalog at the same moment gets "database is locked" at once: retry until the
        first one is done (WAL is persistent, so later opens find it set and skip the change).
        """
        deadline = time.monotonic() + wait_s
        while True:
            try:
                with self._connect() as connection:
                    if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                        connection.execute("PRAGMA journal_mode=WAL")
                    connection.executescript(_SCHEMA + _EVALUATIONS_SCHEMA + _QUESTIONS_SCHEMA + _MARKS_SCHEMA + _DRAFTS_SCHEMA + _PRESETS_SCHEMA + _CONVERSATIONS_SCHEMA + _BATCHES_SCHEMA + _SCORECARDS_SCHEMA + _SOURCES_SCHEMA + _FILES_SCHEMA)
                    for table, column, declaration in _ADDED_COLUMNS:
                        present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})").fetchall()}
                        if column not in present:
                            _add_column(connection, table, column, declaration)
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextmanager
    def _connect(self) -> Iterator[_RedactingConnection]:
        """A connection that commits on success, rolls back on error, is always closed, and redacts what it writes."""
        connection = sqlite3.connect(self.path, timeout=60)
        connection.row_factory = sqlite3.Row
        try:
            with connection:
                yield _RedactingConnection(connection)
        finally:
            connection.close()

    def _decode(self, row: sqlite3.Row | dict[str, Any]) -> dict[str, Any]:
        record = dict(row)
        for column, name in _JSON_COLUMNS.items():
            if column in record:
                record[name] = self._cell(record.pop(column), column)
        return record

    def _cell(self, text: Any, column: str) -> Any:
        """A JSON column's value; CatalogError naming the file and the column when it was damaged (not JSON)."""
        try:
            return json.loads(text)
        except (ValueError, TypeError, RecursionError) as error:
            raise CatalogError(f"The catalog {self.path} holds a damaged {column} value ({error}): {self._move_aside()}") from None

    def _move_aside(self) -> str:
        """The remedy for a damaged catalog."""
        return f"move it aside (mv {self.path} {self.path}.damaged) to start a new one, then ingest again to list your indexes."

    # --- runs ---------------------------------------------------------------------------------

    def start_run(self, run_id: str, kind: str, key: str, config: dict, inputs: dict, code_version: str) -> None:
        """Record a run as running, before any work (so a killed run shows as interrupted)."""
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO runs (run_id, kind, index_key, status, started_at, config_json, inputs_json, code_version, pid, host)"
                " VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                (run_id, kind, key, now_iso(), json.dumps(config), json.dumps(inputs), code_version, os.getpid(), socket.gethostname()),
            )

    def finish_run(
        self,
        run_id: str,
        status: str,
        counts: dict | None = None,
        timings: dict | None = None,
        file_errors: list | None = None,
        error: str = "",
        dag_dot: str = "",
        resources: dict | None = None,
    ) -> None:
        """Record how a run ended: succeeded, failed (with the error) or interrupted; and what it used (wall, CPU, memory)."""
        with self._connect() as connection:
            connection.execute(
                "UPDATE runs SET status=?, finished_at=?, counts_json=?, timings_json=?, file_errors_json=?, error=?, dag_dot=?,"
                " resources_json=? WHERE run_id=?",
                (status, now_iso(), json.dumps(counts or {}), json.dumps(timings or {}), json.dumps(file_errors or []),
                 error, dag_dot, json.dumps(resources or {}), run_id),
            )

    def record_batch(
        self, run_id: str, batch_number: int, documents: int, counts: dict, run_counts: dict, worker: str = ""
    ) -> None:
        """Record one finished batch of a streaming run, and the run's counts so far (an interrupted run keeps them)."""
        with self._connect() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO run_batches (run_id, batch_number, documents, counts_json, worker, finished_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, batch_number, documents, json.dumps(counts), worker, now_iso()),
            )
            connection.execute("UPDATE runs SET counts_json=? WHERE run_id=?", (json.dumps(run_counts), run_id))

    def run_batches(self, run_id: str) -> list[dict[str, Any]]:
        """The finished batches of a run, in batch order: documents, counts, the worker that ran it, when it finished."""
        with self._connect() as connection:
            rows = connection.execute("SELECT * FROM run_batches WHERE run_id = ? ORDER BY batch_number", (run_id,))
            return [self._decode(row) for row in rows]

    def runs(self, limit: int = 100, key: str | None = None) -> list[dict[str, Any]]:
        """Run records, newest first; a 'running' record whose process is gone reads 'interrupted'."""
        query = "SELECT * FROM runs"
        params: tuple = ()
        if key:
            query += " WHERE index_key = ?"
            params = (key,)
        query += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        with self._connect() as connection:
            rows = [self._decode(row) for row in connection.execute(query, params + (limit,))]
        host = socket.gethostname()
        for record in rows:
            if record["status"] == "running" and record["host"] == host and not process_alive(record["pid"]):
                record["status"] = "interrupted"
        return rows

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run record, or None."""
        return next((r for r in self.runs(limit=1_000_000) if r["run_id"] == run_id), None)

    # --- manifests ----------------------------------------------------------------------------

    def manifest(self, key: str) -> dict[str, Any] | None:
        """The manifest of an index, or None if the index was never built here."""
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM manifests WHERE index_key = ?", (key,)).fetchone()
        return self._decode(row) if row else None

    def manifests(self) -> list[dict[str, Any]]:
        """Every index built from this data folder, most recently updated first."""
        with self._connect() as connection:
            return [self._decode(row) for row in connection.execute("SELECT * FROM manifests ORDER BY updated_at DESC")]

    def save_manifest(self, key: str, manifest: dict[str, Any], run_id: str, chunk_count: int) -> None:
        """Create or update an index's manifest after a run wrote to it."""
        now = now_iso()
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO manifests (index_key, vector_db, store_location, index_name, vector_db_config_json,"
                " embedding_service, model_name, dimension, chunking_json, created_at, updated_at, last_run_id, chunk_count)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(index_key) DO UPDATE SET updated_at=excluded.updated_at, last_run_id=excluded.last_run_id,"
                " chunk_count=excluded.chunk_count, chunking_json=excluded.chunking_json",
                (key, manifest["vector_db"], manifest["store_location"], manifest["index_name"],
                 json.dumps(manifest["vector_db_config"]), manifest["embedding_service"], manifest["model_name"],
                 int(manifest["dimension"]), json.dumps(manifest["chunking"]), now, now, run_id, chunk_count),
            )

    def set_chunk_count(self, key: str, chunk_count: int) -> None:
        """Set an index's chunk count after documents were deleted from it (its last ingestion run stays what it was)."""
        with self._connect() as connection:
            connection.execute("UPDATE manifests SET chunk_count = ?, updated_at = ? WHERE index_key = ?",
                               (int(chunk_count), now_iso(), key))

    def delete_manifest(self, key: str) -> None:
        """Forget an index (after it was reset)."""
        with self._connect() as connection:
            connection.execute("DELETE FROM manifests WHERE index_key = ?", (key,))

    # --- ingested files (what lets a re-run skip a file that has not changed) ----------------------

    def save_file_records(self, key: str, settings: str, run_id: str, records: Iterable[FileRecord]) -> None:
        """Record the files a batch of a run stored in an index, under the digest of the settings that chunked them."""
        rows = [(key, r.document_id, r.source_name, int(r.size), r.sha256, settings, int(r.chunk_count), r.chunk_ids_digest,
                 run_id) for r in records]
        if not rows:
            return
        with self._connect() as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO ingested_files (index_key, document_id, source_name, size, sha256, settings,"
                " chunk_count, chunk_ids_digest, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def file_records(self, key: str, settings: str, document_ids: list[str]) -> dict[str, FileRecord]:
        """The records of some files of an index that were chunked under `settings`, by document id."""
        found: dict[str, FileRecord] = {}
        with self._connect() as connection:
            for start in range(0, len(document_ids), 500):
                part = document_ids[start : start + 500]
                rows = connection.execute(
                    "SELECT document_id, source_name, size, sha256, chunk_count, chunk_ids_digest FROM ingested_files"
                    f" WHERE index_key = ? AND settings = ? AND document_id IN ({', '.join('?' * len(part))})",
                    (key, settings, *part))
                found.update((row[0], FileRecord(*row)) for row in rows)
        return found

    def forget_file_records(self, key: str, document_ids: list[str] | None = None) -> None:
        """Forget the file records of some documents of an index (all of them when no ids): they were deleted."""
        with self._connect() as connection:
            if document_ids is None:
                connection.execute("DELETE FROM ingested_files WHERE index_key = ?", (key,))
            else:
                connection.executemany("DELETE FROM ingested_files WHERE index_key = ? AND document_id = ?",
                                       [(key, document_id) for document_id in document_ids])

    # --- kept sources (the original files, content-addressed in <data_dir>/sources) ---------------

    def save_sources(self, key: str, kept: Iterable[tuple[str, str, str, str, int]]) -> None:
        """Record, in one transaction, that documents of an index were read from kept files: (document id, source name,
        sha256, suffix, size) each, replacing a document's earlier file."""
        stamp = now_iso()
        rows = [(key, document_id, name, sha256, suffix, int(size), stamp) for document_id, name, sha256, suffix, size in kept]
        if not rows:
            return
        with self._connect() as connection:
            connection.executemany(
                "INSERT INTO kept_sources (index_key, document_id, source_name, sha256, suffix, size, kept_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(index_key, document_id) DO UPDATE SET"
                " source_name = excluded.source_name, sha256 = excluded.sha256, suffix = excluded.suffix,"
                " size = excluded.size, kept_at = excluded.kept_at",
                rows,
            )

    def source(self, key: str, document_id: str) -> dict[str, Any] | None:
        """The kept file of one document of an index, or None."""
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM kept_sources WHERE index_key = ? AND document_id = ?",
                                     (key, document_id)).fetchone()
        return dict(row) if row else None

    def sources(self, key: str | None = None) -> list[dict[str, Any]]:
        """The kept files of an index's documents (of every index when no key), oldest kept first."""
        query, params = "SELECT * FROM kept_sources", ()
        if key is not None:
            query, params = query + " WHERE index_key = ?", (key,)
        with self._connect() as connection:
            return [dict(row) for row in connection.execute(query + " ORDER BY kept_at, rowid", params)]

    def delete_sources(self, key: str, document_ids: list[str] | None = None) -> None:
        """Forget the kept files of some documents of an index (all of them when no ids)."""
        with self._connect() as connection:
            if document_ids is None:
                connection.execute("DELETE FROM kept_sources WHERE index_key = ?", (key,))
            for document_id in document_ids or []:
                connection.execute("DELETE FROM kept_sources WHERE index_key = ? AND document_id = ?", (key, document_id))

    def forget_source_content(self, sha256: str, suffix: str) -> None:
        """Forget every document's reference to one kept file (it was evicted)."""
        with self._connect() as connection:
            connection.execute("DELETE FROM kept_sources WHERE sha256 = ? AND suffix = ?", (sha256, suffix))

    def source_references(self, sha256: str, suffix: str) -> int:
        """How many documents (of any index) refer to one kept file."""
        with self._connect() as connection:
            return int(connection.execute("SELECT COUNT(*) FROM kept_sources WHERE sha256 = ? AND suffix = ?",
                                          (sha256, suffix)).fetchone()[0])

    # --- evaluations --------------------------------------------------------------------------

    def save_evaluation(self, record: dict[str, Any]) -> None:
        """Store an evaluation record (see `api.evaluate`), with its question set and per-question outcomes."""
        with self._connect() as connection:
            if record.get("answer_quality"):
                connection.execute("INSERT INTO evaluation_answers (eval_id, answers_json) VALUES (?, ?)",
                                   (record["eval_id"], json.dumps(record["answer_quality"])))
            connection.execute(
                "INSERT INTO evaluation_outcomes (eval_id, question_set, question_set_json, labels_json, outcomes_json)"
                " VALUES (?, ?, ?, ?, ?)",
                (record["eval_id"], record["question_set"], json.dumps(record.get("question_set_info") or {}),
                 json.dumps(record.get("labels") or {}), json.dumps(record.get("per_question") or [])),
            )
            connection.execute(
                "INSERT INTO evaluations (eval_id, index_key, started_at, duration_s, questions, config_json, sample_json,"
                " metrics_json, latency_json, code_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record["eval_id"], record["index_key"], record["started_at"], float(record.get("duration_s", 0.0)),
                 int(record["questions"]), json.dumps(record["config"]), json.dumps(record["sample"]),
                 json.dumps(record["metrics"]), json.dumps(record["latency_ms"]), record.get("code_version", "")),
            )

    def evaluations(self, key: str | None = None, limit: int = 100, question_set: str | None = None) -> list[dict[str, Any]]:
        """Evaluation records, newest first (without their per-question outcomes); of one index and question set when given."""
        query = ("SELECT e.*, o.question_set, o.question_set_json, o.labels_json, a.answers_json FROM evaluations e "
                 "LEFT JOIN evaluation_outcomes o ON o.eval_id = e.eval_id LEFT JOIN evaluation_answers a ON a.eval_id = e.eval_id")
        conditions, params = [], []
        if key:
            conditions.append("e.index_key = ?")
            params.append(key)
        if question_set:
            conditions.append("o.question_set = ?")
            params.append(question_set)
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        query += " ORDER BY e.started_at DESC, e.rowid DESC LIMIT ?"
        with self._connect() as connection:
            return [self._evaluation(row) for row in connection.execute(query, (*params, limit))]

    def evaluation(self, eval_id: str) -> dict[str, Any] | None:
        """One evaluation record with its per-question outcomes, or None."""
        with self._connect() as connection:
            row = connection.execute(
                "SELECT e.*, o.question_set, o.question_set_json, o.labels_json, o.outcomes_json, a.answers_json "
                "FROM evaluations e LEFT JOIN evaluation_outcomes o ON o.eval_id = e.eval_id "
                "LEFT JOIN evaluation_answers a ON a.eval_id = e.eval_id WHERE e.eval_id = ?", (eval_id,)).fetchone()
        return self._evaluation(row) if row else None

    def _evaluation(self, row: sqlite3.Row) -> dict[str, Any]:
        record = dict(row)
        for column in ("question_set_json", "labels_json", "outcomes_json", "answers_json"):
            record[column] = record.get(column) or "null"
        record = self._decode(record)
        record["question_set"] = record.get("question_set") or "squad"  # evaluations from before question sets were SQuAD's
        return record

    # --- scorecards -----------------------------------------------------------------------------

    def save_scorecard(self, key: str, scorecard: dict[str, Any], eval_id: str = "") -> str:
        """Store a scorecard of an index (`workbench.scorecard`), keeping the earlier ones; returns its id."""
        scorecard_id = f"{scorecard.get('created_at') or now_iso()}-{os.urandom(4).hex()}"
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO scorecards (scorecard_id, index_key, created_at, eval_id, scorecard_json) VALUES (?, ?, ?, ?, ?)",
                (scorecard_id, key, scorecard.get("created_at") or now_iso(), eval_id, json.dumps(scorecard)),
            )
        return scorecard_id

    def scorecards(self, key: str, limit: int = 100) -> list[dict[str, Any]]:
        """The stored scorecards of an index, newest first: scorecard_id, index_key, created_at, eval_id, scorecard."""
        with self._connect() as connection:
            rows = connection.execute("SELECT * FROM scorecards WHERE index_key = ? ORDER BY created_at DESC, rowid DESC"
                                      " LIMIT ?", (key, limit)).fetchall()
        return [self._decode(row) for row in rows]

    # --- question sets -------------------------------------------------------------------------

    def save_question_set(self, data: dict[str, Any]) -> None:
        """Store a question set (its `to_json()` form), replacing one of the same name."""
        now = now_iso()
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO question_sets (name, index_key, origin_json, question_count, questions_json, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET index_key = excluded.index_key,"
                " origin_json = excluded.origin_json, question_count = excluded.question_count,"
                " questions_json = excluded.questions_json, updated_at = excluded.updated_at",
                (data["name"], data.get("index_key", ""), json.dumps(data.get("origin") or {}), len(data["questions"]),
                 json.dumps(data["questions"], ensure_ascii=False), now, now),
            )

    def question_set(self, name: str) -> dict[str, Any] | None:
        """A stored question set in its `to_json()` form (with created_at / updated_at), or None."""
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM question_sets WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        record = self._decode(row)
        record["questions"] = self._cell(record.pop("questions_json"), "questions_json")
        return record

    def question_sets(self) -> list[dict[str, Any]]:
        """Every stored question set (name, index, origin, question count, times), without the questions."""
        with self._connect() as connection:
            rows = connection.execute("SELECT name, index_key, origin_json, question_count, created_at, updated_at "
                                      "FROM question_sets ORDER BY name").fetchall()
        return [self._decode(row) for row in rows]

    def delete_question_set(self, name: str) -> bool:
        """Forget a question set; False when there was none."""
        with self._connect() as connection:
            return connection.execute("DELETE FROM question_sets WHERE name = ?", (name,)).rowcount > 0

    # --- relevance marks ---------------------------------------------------------------------

    def save_mark(self, key: str, question_key: str, question: str, chunk_id: str, relevant: bool,
                  document: str = "", page: int = 0) -> None:
        """Record a person's judgement of one hit for one question (replacing an earlier one of the same hit)."""
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO relevance_marks (index_key, question_key, question, chunk_id, relevant, document, page, marked_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(index_key, question_key, chunk_id) DO UPDATE SET"
                " question = excluded.question, relevant = excluded.relevant, marked_at = excluded.marked_at",
                (key, question_key, question, chunk_id, int(relevant), document, int(page or 0), now_iso()),
            )

    def delete_mark(self, key: str, question_key: str, chunk_id: str) -> bool:
        """Forget one judgement; False when there was none."""
        with self._connect() as connection:
            return connection.execute("DELETE FROM relevance_marks WHERE index_key = ? AND question_key = ? AND chunk_id = ?",
                                      (key, question_key, chunk_id)).rowcount > 0

    def marks(self, key: str) -> list[dict[str, Any]]:
        """Every judgement made on an index, oldest first."""
        with self._connect() as connection:
            rows = connection.execute("SELECT * FROM relevance_marks WHERE index_key = ? ORDER BY marked_at, rowid",
                                      (key,)).fetchall()
        return [{**dict(row), "relevant": bool(row["relevant"])} for row in rows]

    # --- generated question drafts -----------------------------------------------------------

    def save_draft(self, name: str, key: str, origin: dict[str, Any], candidates: list[dict[str, Any]]) -> None:
        """Store the candidates an LLM wrote and their review state, replacing a draft of the same name."""
        now = now_iso()
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO question_drafts (name, index_key, origin_json, candidates_json, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET index_key = excluded.index_key,"
                " origin_json = excluded.origin_json, candidates_json = excluded.candidates_json,"
                " updated_at = excluded.updated_at",
                (name, key, json.dumps(origin), json.dumps(candidates, ensure_ascii=False), now, now),
            )

    def draft(self, name: str) -> dict[str, Any] | None:
        """A stored draft (name, index_key, origin, candidates, times), or None."""
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM question_drafts WHERE name = ?", (name,)).fetchone()
        return self._decode(row) if row else None

    def drafts(self) -> list[dict[str, Any]]:
        """Every stored draft, newest first."""
        with self._connect() as connection:
            rows = connection.execute("SELECT * FROM question_drafts ORDER BY updated_at DESC").fetchall()
        return [self._decode(row) for row in rows]

    def delete_draft(self, name: str) -> bool:
        """Forget a draft; False when there was none."""
        with self._connect() as connection:
            return connection.execute("DELETE FROM question_drafts WHERE name = ?", (name,)).rowcount > 0

    # --- retrieval presets -------------------------------------------------------------------

    def save_preset(self, key: str, name: str, settings: dict[str, Any], tuned: dict[str, Any]) -> None:
        """Store a named set of retrieval settings of an index (replacing one of the same name), with how it was tuned."""
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO retrieval_presets (index_key, name, settings_json, tuned_json, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(index_key, name) DO UPDATE SET settings_json = excluded.settings_json,"
                " tuned_json = excluded.tuned_json, created_at = excluded.created_at",
                (key, name, json.dumps(settings), json.dumps(tuned), now_iso()),
            )

    def presets(self, key: str) -> list[dict[str, Any]]:
        """The retrieval presets of an index, newest first."""
        with self._connect() as connection:
            rows = connection.execute("SELECT * FROM retrieval_presets WHERE index_key = ? ORDER BY created_at DESC, name",
                                      (key,)).fetchall()
        return [self._decode(row) for row in rows]

    def delete_preset(self, key: str, name: str) -> bool:
        """Forget a retrieval preset; False when there was none."""
        with self._connect() as connection:
            return connection.execute("DELETE FROM retrieval_presets WHERE index_key = ? AND name = ?",
                                      (key, name)).rowcount > 0

    # --- chat conversations ------------------------------------------------------------------

    def save_conversation(self, conversation_id: str, key: str, turns: list[dict[str, Any]]) -> None:
        """Store a conversation's turns, replacing what was stored under its id."""
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO conversations (conversation_id, index_key, turns_json, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(conversation_id) DO UPDATE SET turns_json = excluded.turns_json,"
                " updated_at = excluded.updated_at",
                (conversation_id, key, json.dumps(turns, ensure_ascii=False), now_iso()),
            )

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """A stored conversation, or None."""
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM conversations WHERE conversation_id = ?", (conversation_id,)).fetchone()
        return self._decode(row) if row else None
