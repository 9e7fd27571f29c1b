"""Ingestion: chunks → what changed → embeddings of new chunks → rows with lineage → the store.

Re-ingesting the same input is a no-op: chunks whose deterministic id is already stored are
skipped (not embedded, not written). A changed document writes its new chunks first and only
then deletes the chunks its old version had, so a crash in between never loses a document.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ragkit.schema import Chunk, Document, FileError, FileRecord


def new_chunks(chunks: list[Chunk], stored_chunk_ids: dict[str, set[str]]) -> list[Chunk]:
    """Chunks not yet in the index (by id): the only ones that are embedded and written."""
    return [chunk for chunk in chunks if chunk.chunk_id not in stored_chunk_ids.get(chunk.document_id, set())]


def unchanged_chunk_count(chunks: list[Chunk], new_chunks: list[Chunk]) -> int:
    """Chunks skipped because the index already holds them unchanged."""
    return len(chunks) - len(new_chunks)


def stale_chunk_ids(documents: list[Document], chunks: list[Chunk], stored_chunk_ids: dict[str, set[str]]) -> list[str]:
    """Stored chunks of the documents read in this run that their new version no longer has (to delete after writing);
    a file that failed or was skipped unchanged keeps its chunks."""
    current = {chunk.chunk_id for chunk in chunks}
    return sorted(chunk_id for document in documents for chunk_id in stored_chunk_ids.get(document.document_id, ())
                  if chunk_id not in current)


def replaced_documents(documents: list[Document], chunks: list[Chunk], stored_chunk_ids: dict[str, set[str]]) -> list[str]:
    """Paths of this run's documents already stored with other content: the same path is the same document, so the new version replaces the old (counted, never silent)."""
    current: dict[str, set[str]] = {}
    for chunk in chunks:
        current.setdefault(chunk.document_id, set()).add(chunk.chunk_id)
    return [document.source_name for document in documents
            if stored_chunk_ids.get(document.document_id) and stored_chunk_ids[document.document_id] != current.get(document.document_id, set())]


def texts_to_embed(new_chunks: list[Chunk]) -> list[str]:
    """The indexed text of each new chunk, in order: its contextual header (when on) and its text."""
    return [chunk.indexed_text for chunk in new_chunks]


def embedding_input_type() -> str:
    """Chunks are embedded as documents to be searched (Cohere's input_type)."""
    return "search_document"


def chunk_vectors(embeddings: np.ndarray) -> np.ndarray:
    """The vectors to store, one row per new chunk."""
    return embeddings


def chunk_records(
    new_chunks: list[Chunk],
    embedding_service: str,
    model_name: str,
    embedding_dimension: int,
    run_id: str,
    ingested_at: str,
) -> list[dict]:
    """One stored row per new chunk: its text, the text indexed for it, and every lineage field (source, section, offsets, model, run)."""
    return [
        {
            "chunk_id": chunk.chunk_id,
            "document_id": chunk.document_id,
            "source_kind": chunk.source_kind,
            "source_name": chunk.source_name,
            "title": chunk.title,
            "section": chunk.section,
            "page": chunk.page,
            "chunk_index": chunk.chunk_index,
            "char_start": chunk.char_start,
            "char_end": chunk.char_end,
            "content_hash": chunk.content_hash,
            "embedding_service": embedding_service,
            "model_name": model_name,
            "dimension": embedding_dimension,
            "run_id": run_id,
            "ingested_at": ingested_at,
            "text": chunk.text,
            "indexed_text": chunk.indexed_text,
            "question_ids": list(chunk.question_ids),
        }
        for chunk in new_chunks
    ]


def ingestion_counts(
    documents: list[Document],
    skipped_files: list[FileRecord],
    file_errors: list[FileError],
    chunks: list[Chunk],
    new_chunks: list[Chunk],
    unchanged_chunk_count: int,
    texts_missing_from_cache: list[str],
    written_chunk_ids: list[str],
    deleted_chunk_ids: list[str],
    replaced_documents: list[str],
    embedded_tokens: dict[str, Any],
    embedding_call_count: int,
) -> dict[str, int]:
    """The run's counts: documents read (and replaced), chunks made, embedded (by the model / from cache), written, skipped
    (chunks, and files unchanged since their record, not parsed again: their chunks count as skipped), deleted, files failed;
    the model's calls and the tokens it embedded (and of those, how many were estimated)."""
    return {
        "read": len(documents) + len(skipped_files),
        "chunked": len(chunks),
        "embedded": len(new_chunks),
        "embedded_by_model": len(texts_missing_from_cache),
        "written": len(written_chunk_ids),
        "skipped_unchanged": unchanged_chunk_count + sum(record.chunk_count for record in skipped_files),
        "skipped_files": len(skipped_files),
        "deleted_stale": len(deleted_chunk_ids),
        "failed": len(file_errors),
        "replaced_documents": len(replaced_documents),
        "model_calls": int(embedding_call_count),
        "tokens_embedded": int(embedded_tokens["tokens"]),
        "tokens_estimated": int(embedded_tokens["tokens"]) if embedded_tokens["estimated"] else 0,
    }
