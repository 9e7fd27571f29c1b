"""The records that flow through the dataflows: documents, chunks, stored rows, hits.

Plain dataclasses and field lists, no behaviour beyond small derived properties, so every
module (sources, chunking, stores, UI) speaks the same vocabulary.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

# Fields every stored chunk carries, in every vector store. `page` is 1-based; 0 means the
# source has no pages. `question_ids` is filled for SQuAD paragraphs (evaluation needs it).
LINEAGE_FIELDS: tuple[str, ...] = (
    "chunk_id",
    "document_id",
    "source_kind",
    "source_name",
    "title",
    "section",
    "page",
    "chunk_index",
    "char_start",
    "char_end",
    "content_hash",
    "embedding_service",
    "model_name",
    "dimension",
    "run_id",
    "ingested_at",
)
# `text` is the chunk as shown; `indexed_text` is what was embedded and BM25-indexed: the same text, prefixed with
# the document title and section path when contextual headers are on. `section` is the heading path, " › "-joined.
STORED_FIELDS: tuple[str, ...] = LINEAGE_FIELDS + ("text", "indexed_text", "question_ids")
SECTION_SEPARATOR = " \u203a "
# What every store's `chunk_rows` gives per chunk: what question labels resolve against.
CHUNK_ROW_FIELDS: tuple[str, ...] = ("chunk_id", "document_id", "source_name", "title", "section", "page", "chunk_index", "text",
                                     "run_id")


def sha256_hex(*parts: str) -> str:
    """Hex SHA-256 of the parts joined by NUL, the one hash used for every id in the product."""
    digest = hashlib.sha256()
    for index, part in enumerate(parts):
        if index:
            digest.update(b"\x00")
        digest.update(part.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@dataclass(frozen=True)
class Page:
    """A span of a document's text that came from one page (or the whole text, page 0)."""

    number: int
    start: int
    end: int


@dataclass(frozen=True)
class Heading:
    """A heading of a document: where it starts in the document's text, its level (1 = top) and its text."""

    offset: int
    level: int
    text: str


@dataclass(frozen=True)
class Document:
    """One source unit: an uploaded file or a SQuAD paragraph.

    `text` is the whole extracted text; `pages` cut it into page spans (a PDF has one per page
    with text, other formats a single page 0). `document_id` is derived from the source key,
    not the content, so a changed file keeps its id and replaces its old chunks.
    """

    document_id: str
    source_kind: str
    source_name: str
    title: str
    text: str
    pages: tuple[Page, ...]
    question_ids: tuple[str, ...] = ()
    headings: tuple[Heading, ...] = ()  # in text order

    @staticmethod
    def id_for(source_kind: str, source_key: str) -> str:
        """The document id for a source key: 16 hex characters, stable across runs."""
        return sha256_hex(source_kind, source_key)[:16]

    @staticmethod
    def id_for_file(name: str) -> str:
        """The document id of a file given by its name or relative path: from its `source_path`, so every spelling
        of one path (`./a.txt`, `a\\b.txt`, decomposed Unicode) is one document everywhere it is looked up."""
        return Document.id_for("file", source_path(name))


@dataclass(frozen=True)
class Chunk:
    """A piece of a document that is embedded and stored; `text == document.text[char_start:char_end]`.

    `section` is its heading path; `context` the contextual header put before the text to embed and index it
    ("" when contextual headers are off), so `indexed_text` is what the model and BM25 see and `text` what is shown.
    `content_hash` is the hash of what is indexed (and of the section), so a change of either gives a new chunk id.
    """

    chunk_id: str
    document_id: str
    source_kind: str
    source_name: str
    title: str
    page: int
    chunk_index: int
    char_start: int
    char_end: int
    text: str
    content_hash: str
    question_ids: tuple[str, ...] = ()
    token_count: int = 0  # in the embedding model's tokenizer (or its documented upper bound)
    token_limit: int = 0  # the model's input limit when the chunk was cut
    section: str = ""
    context: str = ""

    @property
    def indexed_text(self) -> str:
        """The text embedded and BM25-indexed: the contextual header, then the chunk's text."""
        return self.context + self.text


@dataclass(frozen=True, slots=True)
class InputFile:
    """A file to ingest: its display name and either its bytes (an upload) or a path to read."""

    name: str
    data: bytes | None = None
    path: str = ""

    def read_bytes(self) -> bytes:
        """The file's content."""
        if self.data is not None:
            return self.data
        with open(self.path, "rb") as handle:
            return handle.read()


@dataclass(frozen=True)
class SquadParagraph:
    """A SQuAD paragraph with its title and its questions as (question id, question text)."""

    title: str
    context: str
    questions: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FileError:
    """A file that could not be read, with a reason a person can act on."""

    source_name: str
    reason: str


@dataclass(frozen=True)
class FileRecord:
    """What the index holds of one ingested file, as recorded after the batch that stored it: the file's size and
    content hash, and how many chunks it gave with which ids (a digest of them). A later run whose file has the same
    bytes, under the same chunk settings and node code, while the store still holds exactly those chunk ids, is
    unchanged and is not parsed again."""

    document_id: str
    source_name: str
    size: int
    sha256: str
    chunk_count: int
    chunk_ids_digest: str


def chunk_ids_digest(chunk_ids: Iterable[str]) -> str:
    """One hash of a set of chunk ids (order does not matter): what a file record compares with the store."""
    return sha256_hex(*sorted(chunk_ids))


@dataclass
class ParsedFiles:
    """What reading a batch of files gave: the documents parsed, the files that failed alone, each parsed file's
    size and content hash (by source path), and the files found unchanged since their record (not parsed)."""

    documents: list[Document] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    contents: dict[str, tuple[int, str]] = field(default_factory=dict)
    unchanged: list[FileRecord] = field(default_factory=list)


class Progress:
    """A progress callback passed into batched nodes: `progress(step, done, total)`.

    A small wrapper rather than a bare function because Hamilton type-checks inputs; the
    default does nothing. The CLI passes one that drives a progress bar, the UI one that
    moves a `st.progress`.
    """

    def __init__(self, callback: Callable[[str, int, int], Any] | None = None) -> None:
        self._callback = callback

    def __call__(self, step: str, done: int, total: int) -> None:
        if self._callback is not None:
            self._callback(step, done, total)


NO_PROGRESS = Progress()


MAX_NAME_CHARACTERS = 1000


def safe_name(name: str) -> str:
    """The display name of an upload: its last path component, never a path to open (kept whole up to 1,000 characters)."""
    base = PurePath(name.replace("\\", "/")).name.strip() or "unnamed"
    return base if len(base) <= MAX_NAME_CHARACTERS else base[: MAX_NAME_CHARACTERS - 1] + "\u2026"


_DRIVE = re.compile(r"^[A-Za-z]:(?=/|$)")


def source_path(name: str) -> str:
    """A file's identity in an index: its path relative to the ingestion root (an upload's name as given), written
    with "/" and in Unicode NFC, with ".", "..", a drive letter and leading slashes dropped, so it never points
    outside the root; white space is kept ("report.txt" and " report.txt" are two files). Capped at 1,000 characters.

    The document id is derived from it, so `f1/report.txt` and `f2/report.txt` are two documents, and the same
    path ingested again with other content is the same document, replaced (and counted as replaced)."""
    path = _DRIVE.sub("", unicodedata.normalize("NFC", name.replace("\\", "/")))
    parts = [part for part in posixpath.normpath("/" + path).split("/") if part not in ("", ".", "..")]
    joined = "/".join(parts) if any(part.strip() for part in parts) else "unnamed"
    return joined if len(joined) <= MAX_NAME_CHARACTERS else joined[: MAX_NAME_CHARACTERS - 1] + "\u2026"
