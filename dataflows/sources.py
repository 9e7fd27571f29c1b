"""Sources: where documents come from — the SQuAD dataset or files — as Hamilton nodes.

`documents` and `file_errors` have one implementation per source, chosen by `@config.when(source=...)`.
"""

from __future__ import annotations

import hashlib
from pathlib import PurePath

from hamilton.function_modifiers import config

from ragkit.errors import FileParseError
from ragkit.parsers import Extraction, PdfExtraction, kept_parse_worker
from ragkit.schema import (
    Chunk,
    Document,
    FileError,
    FileRecord,
    Heading,
    InputFile,
    Page,
    ParsedFiles,
    SquadParagraph,
    chunk_ids_digest,
    source_path,
)
from ragkit.squad import load_squad
from ragkit.user_files import read_regular_file, too_large

# The error of a second file with a path already in the run: the first one is read (and kept), this one is not.
SAME_PATH_REASON = "another file in this run has the same path; rename one of them"


@config.when(source="squad")
def squad_paragraphs(squad_split: str = "validation", squad_path: str = "", limit: int = 0) -> list[SquadParagraph]:
    """SQuAD paragraphs (unique contexts, each with its title and question ids), from a local file if set, else the hub.

    A local file is read whole: it is one split already (dev-v1.1 is the validation split), so squad_split is not used.
    """
    return load_squad(squad_split, squad_path, limit)


@config.when(source="squad")
def documents__squad(squad_paragraphs: list[SquadParagraph]) -> list[Document]:
    """One document per SQuAD paragraph with text, titled by its article and carrying its question ids."""
    return [
        Document(
            document_id=Document.id_for("squad", paragraph.context),
            source_kind="squad",
            source_name=f"SQuAD: {paragraph.title}",
            title=paragraph.title,
            text=paragraph.context,
            pages=(Page(0, 0, len(paragraph.context)),),
            question_ids=tuple(question_id for question_id, _ in paragraph.questions),
        )
        for paragraph in squad_paragraphs
        if paragraph.context.strip()
    ]


@config.when(source="squad")
def file_errors__squad(squad_paragraphs: list[SquadParagraph]) -> list[FileError]:
    """SQuAD paragraphs skipped for a blank context, counted in one entry (the run goes on without them)."""
    blank = sum(1 for paragraph in squad_paragraphs if not paragraph.context.strip())
    return [FileError(f"SQuAD: {blank} paragraph(s)", "blank context: skipped")] if blank else []


def _read_capped(input_file: InputFile, max_bytes: int) -> bytes:
    """The file's bytes; FileParseError when it is over `max_bytes` or not a regular file. A file on disk over the
    limit is never read; a FIFO, socket, device or folder is refused at once, before it is opened for reading."""
    if input_file.data is not None:
        if len(input_file.data) > max_bytes:
            raise too_large(len(input_file.data), max_bytes, "setting max_file_mb")
        return input_file.data
    return read_regular_file(input_file.path, max_bytes, "setting max_file_mb")


def _document_from_extraction(name: str, extraction: Extraction) -> Document:
    """One document of a file's pages (joined by blank lines, empty pages left out), with its title and headings."""
    text_parts: list[str] = []
    spans: list[Page] = []
    starts: dict[int, int] = {}
    offset = 0
    for number, page_text in extraction.pages:
        if not page_text.strip():
            continue
        if text_parts:
            text_parts.append("\n\n")
            offset += 2
        spans.append(Page(number, offset, offset + len(page_text)))
        starts[number] = offset
        text_parts.append(page_text)
        offset += len(page_text)
    lengths = dict((number, len(page_text)) for number, page_text in extraction.pages)
    headings = tuple(
        Heading(starts[page] + max(0, min(at, lengths[page])), level, text)
        for page, at, level, text in extraction.headings if page in starts and text
    )
    return Document(
        document_id=Document.id_for("file", name),
        source_kind="file",
        source_name=name,
        title=extraction.title or PurePath(name).stem or name,
        text="".join(text_parts),
        pages=tuple(spans),
        headings=tuple(sorted(headings, key=lambda heading: heading.offset)),
    )


def _document_from_pages(name: str, pages: list[tuple[int, str]]) -> Document:
    return _document_from_extraction(name, Extraction(pages))


@config.when(pdf_parser="pypdf")
def pdf_extraction__pypdf(clean_pdf_text: bool = True) -> PdfExtraction:
    """PDFs are read with pypdf (pure Python), their text cleaned up unless asked not to."""
    return PdfExtraction("pypdf", clean_pdf_text)


@config.when(pdf_parser="pypdfium2")
def pdf_extraction__pypdfium2(clean_pdf_text: bool = True) -> PdfExtraction:
    """PDFs are read with pypdfium2 (PDFium, Chrome's PDF engine), their text cleaned up unless asked not to."""
    return PdfExtraction("pypdfium2", clean_pdf_text)


@config.when(source="squad")
def document_ids__squad(documents: list[Document]) -> list[str]:
    """Ids of the batch's documents (one per SQuAD paragraph, from its text)."""
    return [document.document_id for document in documents]


@config.when(source="files")
def document_ids__files(input_files: list[InputFile]) -> list[str]:
    """Ids of the batch's files, from their paths: known before any file is parsed, so the chunks the store holds for
    each can tell an unchanged file before it is read."""
    return list(dict.fromkeys(Document.id_for_file(input_file.name) for input_file in input_files))


@config.when(source="files")
def still_stored_files(stored_chunk_ids: dict[str, set[str]], previous_file_records: dict[str, FileRecord] | None = None,
                       ) -> dict[str, FileRecord]:
    """The batch's files recorded by an earlier run (same chunk settings and node code) whose chunks the store still holds
    exactly, by document id: each is skipped if its bytes still have the recorded size and hash."""
    return {
        document_id: record for document_id, record in (previous_file_records or {}).items()
        if len(stored_chunk_ids.get(document_id, ())) == record.chunk_count
        and chunk_ids_digest(stored_chunk_ids.get(document_id, ())) == record.chunk_ids_digest
    }


@config.when(source="files")
def parsed_files(
    input_files: list[InputFile],
    pdf_extraction: PdfExtraction = PdfExtraction(),
    max_file_mb: int = 100,
    max_pdf_pages: int = 5000,
    parse_timeout_seconds: float = 120.0,
    parse_memory_mb: int = 2048,
    still_stored_files: dict[str, FileRecord] | None = None,
) -> ParsedFiles:
    """Parse each file on its own, in a worker process with a time and memory limit (kept for the next batch): a broken,
    hostile or oversized file becomes an error with its name, the others go on. A file with the bytes of its record (`still_stored_files`) is not parsed."""
    result = ParsedFiles()
    seen: set[str] = set()
    max_bytes = int(max_file_mb) << 20
    with kept_parse_worker(parse_memory_mb, parse_timeout_seconds, max_pdf_pages, pdf_extraction.parser, pdf_extraction.clean) as worker:
        for input_file in input_files:
            name = source_path(input_file.name)  # the document's identity: its path relative to the ingestion root
            if name in seen:
                result.errors.append(FileError(name, SAME_PATH_REASON))
                continue
            seen.add(name)
            try:
                data = _read_capped(input_file, max_bytes)
                content = (len(data), hashlib.sha256(data).hexdigest())
                record = (still_stored_files or {}).get(Document.id_for("file", name))
                if record is not None and (record.size, record.sha256) == content:
                    result.unchanged.append(record)
                    continue
                extraction = worker.extract(name, data)
            except FileParseError as error:
                result.errors.append(FileError(name, str(error)))
                continue
            except OSError as error:
                result.errors.append(FileError(name, f"cannot be read: {error.strerror or error}"))
                continue
            result.documents.append(_document_from_extraction(name, extraction))
            result.contents[name] = content
    return result


@config.when(source="squad")
def skipped_files__squad() -> list[FileRecord]:
    """SQuAD paragraphs are not files: none is skipped before chunking (an unchanged paragraph's chunks are, by id)."""
    return []


@config.when(source="files")
def skipped_files__files(parsed_files: ParsedFiles) -> list[FileRecord]:
    """The files not parsed again: unchanged since their record, their chunks still stored (counted as skipped)."""
    return parsed_files.unchanged


@config.when(source="files")
def documents__files(parsed_files: ParsedFiles) -> list[Document]:
    """The documents that parsed, one per file, with page spans."""
    return parsed_files.documents


@config.when(source="files")
def file_errors__files(parsed_files: ParsedFiles) -> list[FileError]:
    """The files that failed, each with its name and the reason."""
    return parsed_files.errors


@config.when(source="squad")
def file_records__squad() -> list[FileRecord]:
    """SQuAD paragraphs are not files: nothing to record."""
    return []


@config.when(source="files")
def file_records__files(parsed_files: ParsedFiles, chunks: list[Chunk]) -> list[FileRecord]:
    """A record of each file parsed in this batch — its size, content hash and chunk ids — for the next run to tell it
    unchanged (saved by the run once the batch is stored)."""
    chunk_ids: dict[str, list[str]] = {document.document_id: [] for document in parsed_files.documents}
    for chunk in chunks:
        chunk_ids.setdefault(chunk.document_id, []).append(chunk.chunk_id)
    return [
        FileRecord(document.document_id, document.source_name, *parsed_files.contents[document.source_name],
                   len(chunk_ids[document.document_id]), chunk_ids_digest(chunk_ids[document.document_id]))
        for document in parsed_files.documents
    ]
