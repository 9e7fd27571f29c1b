"""Documents of an index: the list of them (read from its stored chunks), and deleting some of them.

Listing reads the store's `chunk_rows` and groups them by document. Deleting runs the store's own
`deleted_document_count` on `document_ids_to_delete`, then the store's index upkeep as after a run
that removed chunks (LanceDB rebuilds its full-text index, so a BM25 or hybrid query cannot return a
deleted chunk), and says what it did. Dropping a whole index is the store's `index_reset`.
"""

from __future__ import annotations

from typing import Any


def index_documents(chunk_rows: list[dict]) -> list[dict]:
    """One row per stored document, by source name: id, source name, title, pages (the last page a chunk is on; None
    for a document without pages), chunks, the last run that wrote one of its chunks."""
    documents: dict[str, dict[str, Any]] = {}
    for row in chunk_rows:
        found = documents.setdefault(row["document_id"], {
            "document_id": row["document_id"], "source_name": row.get("source_name", ""), "title": row.get("title", ""),
            "pages": 0, "chunks": 0, "last_run": "",
        })
        found["chunks"] += 1
        found["pages"] = max(found["pages"], int(row.get("page") or 0))
        found["last_run"] = max(found["last_run"], str(row.get("run_id") or ""))  # run ids sort by time
    for document in documents.values():
        document["pages"] = document["pages"] or None  # chunks on page 0: a document without pages (text, Markdown, HTML)
    return sorted(documents.values(), key=lambda document: (document["source_name"], document["document_id"]))


def run_counts(deleted_document_count: int) -> dict[str, int]:
    """The deletion as the store's index upkeep reads a run's counts: chunks removed (LanceDB then refreshes its full-text index)."""
    return {"written": 0, "deleted_stale": deleted_document_count}


def deletion_counts(document_ids_to_delete: list[str], deleted_document_count: int, maintained_index: dict[str, Any]) -> dict[str, Any]:
    """What the deletion did: documents asked for, chunks removed, and the index upkeep after it."""
    return {"documents": len(set(document_ids_to_delete)), "deleted_chunks": deleted_document_count, "upkeep": maintained_index}
