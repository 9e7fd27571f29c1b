"""Text extraction per file type. Each parser takes bytes and returns page texts, or raises
FileParseError with a reason a person can act on. No Hamilton here: `sources.py` calls these.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import PurePath

from dataflows.errors import FileParseError

PageTexts = list[tuple[int, str]]  # (page number, text); page 0 for formats without pages


def _decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileParseError("binary content (NUL bytes), not a text file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileParseError(
            f"not UTF-8 text (byte 0x{data[error.start]:02x} at position {error.start} is not valid UTF-8); "
            "save the file as UTF-8 and add it again"
        ) from None


def parse_text(data: bytes) -> PageTexts:
    """Plain text and Markdown: UTF-8 (or UTF-16 with a byte-order mark), one page."""
    return [(0, _decode_text(data))]


def parse_pdf(data: bytes) -> PageTexts:
    """PDF through pypdf: text per page, 1-based page numbers; encrypted or image-only PDFs are refused."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.lstrip()[:1024].startswith(b"%PDF") and b"%PDF-" not in data[:1024]:
        raise FileParseError("not a PDF (the file does not start with a PDF header)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")
                except Exception:  # pypdf raises several types for unsupported crypto
                    opened = 0
                if not opened:
                    raise FileParseError("encrypted PDF: it needs a password; save an unencrypted copy and add that")
            pages = [(number, page.extract_text() or "") for number, page in enumerate(reader.pages, start=1)]
    except FileParseError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError) as error:
        raise FileParseError(f"corrupt or unreadable PDF ({type(error).__name__}: {error})") from None
    if not any(text.strip() for _, text in pages):
        raise FileParseError(
            f"no text layer in {len(pages)} page(s): the PDF holds only images (a scan?); run OCR on it first"
        )
    return pages


def parse_docx(data: bytes) -> PageTexts:
    """Word .docx through python-docx: paragraph texts joined by blank lines, one page."""
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise FileParseError(f"corrupt or unreadable .docx ({error})") from None
    return [(0, "\n\n".join(p.text for p in document.paragraphs if p.text.strip()))]


def parse_html(data: bytes) -> PageTexts:
    """HTML through BeautifulSoup: visible text only (scripts and styles dropped), one page."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode_text(data), "html.parser")
    for element in soup(["script", "style", "noscript", "template"]):
        element.decompose()
    return [(0, soup.get_text("\n"))]


PARSERS: dict[str, Callable[[bytes], PageTexts]] = {
    ".pdf": parse_pdf,
    ".txt": parse_text,
    ".md": parse_text,
    ".markdown": parse_text,
    ".docx": parse_docx,
    ".html": parse_html,
    ".htm": parse_html,
}


def parse_file(name: str, data: bytes) -> PageTexts:
    """Page texts of one file, by its extension; FileParseError for empty, unsupported or broken files."""
    suffix = PurePath(name).suffix.lower()
    parser = PARSERS.get(suffix)
    if parser is None:
        supported = ", ".join(sorted(PARSERS))
        raise FileParseError(f"unsupported file type {suffix or '(no extension)'!r}; supported: {supported}")
    if not data.strip():
        raise FileParseError("empty file")
    pages = parser(data)
    if not any(text.strip() for _, text in pages):
        raise FileParseError("no text found in the file")
    return pages
