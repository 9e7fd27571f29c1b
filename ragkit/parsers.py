"""Text extraction per file type. Each parser takes bytes and returns an `Extraction` (page texts, a title,
headings), or raises FileParseError with a reason a person can act on. No Hamilton here: `sources.py` calls these.
PDFs are read with pypdf or pypdfium2 (`pdf_parser`), then cleaned up (`ragkit/pdf_text.py`, `clean_pdf_text`).

Files are hostile input. `parse_file` turns anything a parser library raises into a FileParseError,
and `ParseWorker` runs parsers in a child process with a memory cap and a per-file deadline, so a
decompression bomb, a hang or a crash in a parser costs one file, never the run.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path, PurePath

from ragkit.errors import FileParseError
from ragkit.pdf_text import clean_pages, numbered_headings

PageTexts = list[tuple[int, str]]  # (page number, text); page 0 for formats without pages

_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _decode_text(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as error:
                raise FileParseError(
                    f"broken {encoding.upper()} text (it starts with a {encoding.upper()} byte-order mark, but "
                    f"{error.reason} at byte {error.start}); save the file as UTF-8 and add it again"
                ) from None
    if b"\x00" in data:
        half = data[: 1 << 16]
        if half.count(b"\x00") * 3 > len(half):  # ASCII as UTF-16 without a byte-order mark: every other byte is NUL
            raise FileParseError("looks like UTF-16 text without a byte-order mark; save the file as UTF-8 and add it again")
        raise FileParseError("binary content (NUL bytes), not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileParseError(
            f"not UTF-8 text (byte 0x{data[error.start]:02x} at position {error.start} is not valid UTF-8); "
            "save the file as UTF-8 and add it again"
        ) from None


PDF_PARSERS = ("pypdf", "pypdfium2")
Heading = tuple[int, int, int, str]  # (page number, offset in that page's text, level 1.., heading text)


@dataclass(frozen=True)
class Extraction:
    """What a parser reads from one file: its page texts, a title ("" when the file names none) and its headings."""

    pages: PageTexts
    title: str = ""
    headings: tuple[Heading, ...] = ()

    def to_json(self) -> dict:
        """A JSON-safe form (the parse worker's reply)."""
        return {"pages": self.pages, "title": self.title, "headings": self.headings}

    @staticmethod
    def from_json(reply: dict) -> Extraction:
        """The extraction a parse worker sent."""
        return Extraction(
            [(int(number), str(text)) for number, text in reply["pages"]],
            str(reply.get("title", "")),
            tuple((int(page), int(offset), int(level), str(text)) for page, offset, level, text in reply.get("headings", ())),
        )


@dataclass(frozen=True)
class PdfExtraction:
    """How PDFs are read: the parser (one of PDF_PARSERS) and whether its text is cleaned up (`ragkit/pdf_text.py`)."""

    parser: str = "pypdf"
    clean: bool = True


_SPACES = re.compile(r"\s+")


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _first_heading_title(headings: list[Heading] | tuple[Heading, ...]) -> str:
    top = min((level for _, _, level, _ in headings), default=0)
    return next((text for _, _, level, text in headings if level == top), "")


def parse_text(data: bytes) -> Extraction:
    """Plain text: UTF-8 (or UTF-16/UTF-32 with a byte-order mark), one page, no headings."""
    return Extraction([(0, _decode_text(data))])


_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_ATX = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_SETEXT = re.compile(r"^[ \t]{0,3}(=+|-+)[ \t]*$")


def markdown_headings(text: str) -> list[Heading]:
    """ATX (`# Title`) and setext (underlined `===` / `---`) headings of Markdown text, outside fenced code blocks."""
    headings: list[Heading] = []
    offset, fenced, previous = 0, False, None  # previous: (offset, line) of the last plain text line
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if _FENCE.match(bare):
            fenced, previous = not fenced, None
        elif not fenced:
            atx, setext = _ATX.match(bare), _SETEXT.match(bare)
            if atx:
                headings.append((0, offset, len(atx.group(1)), _one_line(atx.group(2))))
                previous = None
            elif setext and previous is not None:
                headings.append((0, previous[0], 1 if setext.group(1)[0] == "=" else 2, _one_line(previous[1])))
                previous = None
            else:
                previous = (offset, bare) if bare.strip() and not bare.lstrip().startswith(("-", "*", "+", ">")) else None
        offset += len(line)
    return headings


def parse_markdown(data: bytes) -> Extraction:
    """Markdown: the text as it is (one page), its headings, and its first top-level heading as the title."""
    text = _decode_text(data)
    headings = markdown_headings(text)
    return Extraction([(0, text)], _first_heading_title(headings), tuple(headings))


def _pdf_limit_reason(error: Exception) -> str:
    return (
        f"the PDF exceeds a safety limit of the PDF reader ({error}); it may be a decompression bomb or "
        "otherwise malformed"
    )


@dataclass
class _PdfText:
    """What a PDF backend reads, before clean-up: page texts, the metadata title, the outline, page 1's largest text."""

    pages: list[str]
    metadata_title: str = ""
    outline: list[tuple[int, str, int]] = field(default_factory=list)  # (level, title, 1-based page number)
    largest_text: str = ""  # the text in the largest font on page 1, when larger than the page's body text
    large_lines: list[tuple[int, str, int]] = field(default_factory=list)  # (page, line, size rank) of large-font lines


def _refuse_page_count(page_count: int, max_pages: int) -> None:
    if max_pages and page_count > max_pages:
        raise FileParseError(
            f"too many pages: {page_count:,}, over the limit of {max_pages:,} (setting max_pdf_pages); "
            "split the PDF or raise the limit"
        )


def _pypdf_text(data: bytes, max_pages: int) -> _PdfText:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except Exception:  # pypdf raises several types for unsupported crypto
            opened = 0
        if not opened:
            raise FileParseError("encrypted PDF: it needs a password; save an unencrypted copy and add that")
    _refuse_page_count(len(reader.pages), max_pages)
    pages = [page.extract_text() or "" for page in reader.pages]
    result = _PdfText(pages)
    try:
        title = reader.metadata.title if reader.metadata else ""
        if not _meaningful_title(title or ""):
            xmp = reader.xmp_metadata
            titles = (xmp.dc_title or {}) if xmp is not None else {}
            title = next(iter(titles.values()), "") if isinstance(titles, dict) else ""
        result.metadata_title = str(title or "")
    except Exception:  # noqa: BLE001 - broken metadata costs the title, not the file
        pass
    try:
        result.outline = _pypdf_outline(reader, reader.outline)
    except Exception:  # noqa: BLE001 - a broken outline costs the headings, not the file
        result.outline = []
    if reader.pages:
        sizes: list[tuple[float, str]] = []

        def visit(text: str, cm: list, tm: list, font: object, size: float) -> None:
            if text.strip():
                sizes.append((abs(float(size) * float(tm[3]) * float(cm[3])), text))

        try:
            reader.pages[0].extract_text(visitor_text=visit)
        except Exception:  # noqa: BLE001 - only the title guess is lost
            sizes = []
        result.largest_text = _largest(sizes)
    return result


def _pypdf_outline(reader: object, entries: list, level: int = 1) -> list[tuple[int, str, int]]:
    found: list[tuple[int, str, int]] = []
    for entry in entries:
        if isinstance(entry, list):
            found.extend(_pypdf_outline(reader, entry, level + 1))
            continue
        page = reader.get_destination_page_number(entry)  # type: ignore[attr-defined]
        if page is not None and page >= 0 and getattr(entry, "title", None):
            found.append((level, str(entry.title), page + 1))
    return found


def _largest(sizes: list[tuple[float, str]]) -> str:
    """The text set in the largest font, when that font is clearly larger than the most used one."""
    if not sizes:
        return ""
    weight: Counter[float] = Counter()
    for size, text in sizes:
        weight[round(size, 1)] += len(text)
    body = weight.most_common(1)[0][0]
    top = max(weight)
    if top < 1.15 * body:
        return ""
    return _one_line(" ".join(text for size, text in sizes if round(size, 1) == top))


def _pdfium_text(data: bytes, max_pages: int) -> _PdfText:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_raw

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise FileParseError("encrypted PDF: it needs a password; save an unencrypted copy and add that") from None
        raise
    try:
        _refuse_page_count(len(document), max_pages)
        pages: list[str] = []
        largest = ""
        for index in range(len(document)):
            page = document[index]
            text_page = page.get_textpage()
            count = text_page.count_chars()
            text = text_page.get_text_range(0, count) if count > 0 else ""
            if index == 0 and count > 0:
                sizes: list[tuple[float, str]] = []
                for position, character in enumerate(text):
                    size = pdfium_raw.FPDFText_GetFontSize(text_page.raw, position)
                    if size >= 2 and not character.isspace():
                        sizes.append((size, character))
                    elif character in " \r\n" and sizes:
                        sizes.append((sizes[-1][0], " "))
                largest = _largest_chars(sizes)
            # PDFium marks a hyphen at a line end (a break it thinks soft) with \x02 or U+FFFE and drops the line break.
            pages.append(text.replace("\r\n", "\n").replace("\r", "\n").replace("\x02", "-\n").replace("\ufffe", "-\n"))
            text_page.close()
            page.close()
        outline = []
        for bookmark in document.get_toc():
            destination = bookmark.get_dest()
            page_index = destination.get_index() if destination is not None else None
            if page_index is not None and page_index >= 0 and bookmark.get_title():
                outline.append((bookmark.level + 1, bookmark.get_title(), page_index + 1))
        title = document.get_metadata_value("Title") or ""
        return _PdfText(pages, title, outline, largest)
    finally:
        document.close()


def _largest_chars(sizes: list[tuple[float, str]]) -> str:
    """`_largest` over characters: the runs of characters in the largest font, joined."""
    if not sizes:
        return ""
    weight: Counter[float] = Counter(round(size, 1) for size, character in sizes if not character.isspace())
    body, top = weight.most_common(1)[0][0], max(weight)
    if top < 1.15 * body:
        return ""
    return _one_line("".join(character for size, character in sizes if round(size, 1) == top))


_JUNK_TITLE = re.compile(r"^(untitled|title|document|microsoft word - .*|.*\.(docx?|tex|dvi|pdf|ps|indd|odt|rtf))$", re.IGNORECASE)


def _meaningful_title(title: str) -> bool:
    """A metadata title worth showing: some letters, not a placeholder or a file name ("Untitled", "Microsoft Word - a.docx")."""
    title = _one_line(title)
    return 2 <= len(title) <= 300 and any(character.isalpha() for character in title) and not _JUNK_TITLE.match(title)


def _heading_offset(page_text: str, heading: str) -> int:
    """Where a heading (an outline entry) starts in its page's text: the start of the first line holding its words
    (in order, spaces optional: some PDFs run words together), or 0 when the page does not show it."""
    words = re.findall(r"\w+", heading)
    if not words:
        return 0
    pattern = re.compile(r"(?im)^[^\n\w]{0,4}(?:[\w.]{0,12}[ \t]*)?" + r"\W*".join(map(re.escape, words)))
    match = pattern.search(page_text)
    return match.start() if match else 0


def parse_pdf(data: bytes, max_pages: int = 0, pdf_parser: str = "pypdf", clean: bool = True) -> Extraction:
    """PDF through pypdf or pypdfium2 (PDFium): text per page, 1-based page numbers, the title (metadata, else the
    largest text on page 1) and the headings (the outline, else numbered headings); with `clean`, letter-spaced runs
    joined, words hyphenated across lines rejoined, running headers and footers dropped. Encrypted, image-only or
    over-long (`max_pages`) PDFs are refused."""
    from pypdf.errors import LimitReachedError

    if pdf_parser not in PDF_PARSERS:
        raise FileParseError(f"unknown PDF parser {pdf_parser!r}; one of {', '.join(PDF_PARSERS)}")
    if not data.lstrip()[:1024].startswith(b"%PDF") and b"%PDF-" not in data[:1024]:
        raise FileParseError("not a PDF (the file does not start with a PDF header)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = _pypdf_text(data, max_pages) if pdf_parser == "pypdf" else _pdfium_text(data, max_pages)
    except FileParseError:
        raise
    except LimitReachedError as error:
        raise FileParseError(_pdf_limit_reason(error)) from None
    except RecursionError:
        raise FileParseError("corrupt or hostile PDF: its objects are nested too deeply to read") from None
    except MemoryError:
        raise
    except Exception as error:  # noqa: BLE001 - broken PDFs make the parsers raise many types; each costs one file
        raise FileParseError(f"corrupt or unreadable PDF ({type(error).__name__}: {str(error)[:300]})") from None
    if not any(text.strip() for text in raw.pages):
        raise FileParseError(
            f"no text layer in {len(raw.pages)} page(s): the PDF holds only images (a scan?); run OCR on it first"
        )
    texts = clean_pages(raw.pages) if clean else raw.pages
    pages = list(enumerate(texts, start=1))
    if raw.outline:
        headings = [(page, _heading_offset(texts[page - 1], title), level, _one_line(title))
                    for level, title, page in raw.outline if page <= len(texts)]
    else:
        headings = [(number, offset, level, title) for number, text in pages for offset, level, title in numbered_headings(text)]
    headings.sort(key=lambda heading: (heading[0], heading[1]))
    # A PDF's first heading is its largest text on page 1 (an outline's first entry is a chapter, not the title).
    title = next((_one_line(t) for t in (raw.metadata_title, raw.largest_text) if _meaningful_title(t)), "")
    return Extraction(pages, title, tuple(headings))


def _inline_unresolved_entities(root: object) -> None:
    """Replace each entity reference the XML parser left unresolved (python-docx never resolves them, so an external
    entity reads nothing) by its literal text, `&name;`, joined to the text around it: python-docx reads only a text
    element's own text, so the words after an unresolved entity would otherwise be lost."""
    from lxml import etree

    for entity in list(root.iter(etree.Entity)):  # type: ignore[attr-defined]
        parent = entity.getparent()
        if parent is None:
            continue
        literal = (entity.text or "") + (entity.tail or "")
        previous = entity.getprevious()
        if previous is None:
            parent.text = (parent.text or "") + literal
        else:
            previous.tail = (previous.tail or "") + literal
        parent.remove(entity)


def parse_docx(data: bytes) -> Extraction:
    """Word .docx through python-docx: paragraph texts joined by blank lines (one page); "Heading N" and "Title" styles
    give the headings; the title is the document's title property, else its Title paragraph, else its first heading."""
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        _inline_unresolved_entities(document.element)
        paragraphs = [(p.text, (p.style.name if p.style is not None else "") or "") for p in document.paragraphs]
        core_title = document.core_properties.title or ""
    except MemoryError:
        raise
    except RecursionError:
        raise FileParseError("corrupt or hostile .docx: its XML is nested too deeply to read") from None
    except Exception as error:  # noqa: BLE001 - zip and XML errors of every kind; each costs one file
        raise FileParseError(f"corrupt or unreadable .docx ({type(error).__name__}: {str(error)[:300]})") from None
    parts: list[str] = []
    headings: list[Heading] = []
    styled_title = ""
    offset = 0
    for text, style in paragraphs:
        if not text.strip():
            continue
        if parts:
            offset += 2
        level = re.fullmatch(r"Heading (\d)", style)
        if style == "Title":
            styled_title = styled_title or _one_line(text)
        elif level:
            headings.append((0, offset, int(level.group(1)), _one_line(text)))
        parts.append(text)
        offset += len(text)
    title = next((_one_line(t) for t in (core_title, styled_title) if _meaningful_title(t)), "")
    return Extraction([(0, "\n\n".join(parts))], title or _first_heading_title(headings), tuple(headings))


_MARK_OPEN, _MARK_TEXT, _MARK_CLOSE = "\ue000", "\ue001", "\ue002"
_MARKED = re.compile(f"{_MARK_OPEN}([1-6]){_MARK_TEXT}(.*?){_MARK_CLOSE}", re.DOTALL)


def parse_html(data: bytes) -> Extraction:
    """HTML through BeautifulSoup: visible text only (scripts and styles dropped), one page; <h1>-<h6> give the
    headings; the title is <title>, else the first top-level heading."""
    from bs4 import BeautifulSoup

    text = re.sub(f"[{_MARK_OPEN}{_MARK_TEXT}{_MARK_CLOSE}]", "", _decode_text(data))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "looks more like a filename than HTML": the text is read all the same
            soup = BeautifulSoup(text, "html.parser")
            title_tag = soup.find("title")
            page_title = title_tag.get_text(" ") if title_tag is not None else ""
            for element in soup(["script", "style", "noscript", "template", "title"]):
                element.decompose()
            for element in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"]):
                element.insert(0, f"{_MARK_OPEN}{element.name[1]}{_MARK_TEXT}")
                element.append(_MARK_CLOSE)
            marked = soup.get_text("\n")
    except MemoryError:
        raise
    except RecursionError:
        raise FileParseError("hostile or broken HTML: its elements are nested too deeply to read") from None
    except Exception as error:  # noqa: BLE001 - the HTML parser on broken markup; costs one file
        raise FileParseError(f"unreadable HTML ({type(error).__name__}: {str(error)[:300]})") from None
    parts: list[str] = []
    headings: list[Heading] = []
    offset = position = 0
    for match in _MARKED.finditer(marked):
        before = marked[position : match.start()].replace(_MARK_CLOSE, "")
        parts.append(before)
        offset += len(before)
        heading = match.group(2).replace(_MARK_OPEN, "").replace(_MARK_TEXT, "")
        if heading.strip():
            headings.append((0, offset, int(match.group(1)), _one_line(re.sub(f"{_MARK_OPEN}[1-6]", "", heading))))
        parts.append(heading)
        offset += len(heading)
        position = match.end()
    parts.append(re.sub(f"[{_MARK_OPEN}{_MARK_TEXT}{_MARK_CLOSE}]", "", marked[position:]))
    title = _one_line(page_title) if _meaningful_title(page_title) else ""
    return Extraction([(0, "".join(parts))], title or _first_heading_title(headings), tuple(headings))


PARSERS: dict[str, Callable[[bytes], Extraction]] = {
    ".pdf": parse_pdf,
    ".txt": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".docx": parse_docx,
    ".html": parse_html,
    ".htm": parse_html,
}


def _clean(text: str) -> str:
    """Text safe to store: NUL characters dropped, lone surrogates (invalid in UTF-8) replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _LONE_SURROGATE.sub("\ufffd", text)


def extract_file(name: str, data: bytes, max_pdf_pages: int = 0, pdf_parser: str = "pypdf", clean_pdf_text: bool = True) -> Extraction:
    """Page texts, title and headings of one file, by its extension; FileParseError (and only that) for empty,
    unsupported or broken files."""
    suffix = PurePath(name).suffix.lower()
    parser = PARSERS.get(suffix)
    if parser is None:
        supported = ", ".join(sorted(PARSERS))
        raise FileParseError(f"unsupported file type {suffix or '(no extension)'!r}; supported: {supported}")
    if not data.strip():
        raise FileParseError("empty file")
    extraction = parse_pdf(data, max_pdf_pages, pdf_parser, clean_pdf_text) if parser is parse_pdf else parser(data)
    pages = [(number, _clean(text)) for number, text in extraction.pages]
    if not any(text.strip() for _, text in pages):
        raise FileParseError("no text found in the file")
    headings = tuple((page, offset, level, _clean(text)) for page, offset, level, text in extraction.headings)
    return Extraction(pages, _clean(extraction.title), headings)


def parse_file(name: str, data: bytes, max_pdf_pages: int = 0, pdf_parser: str = "pypdf", clean_pdf_text: bool = True) -> PageTexts:
    """Page texts of one file, by its extension; FileParseError (and only that) for empty, unsupported or broken files."""
    return extract_file(name, data, max_pdf_pages, pdf_parser, clean_pdf_text).pages


# --- Isolation: parsing in a child process with a memory cap and a per-file deadline -------------------------

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")


def _serve_parse_requests() -> None:
    """The child's loop: read (header, bytes) requests, answer each with its pages or its error, as JSON."""
    import resource

    request_fd, reply_fd, memory_mb = (int(value) for value in sys.argv[1:4])
    import bs4  # noqa: F401 - the parsers' imports happen before the memory cap, so the cap is the file's
    import docx  # noqa: F401
    import pypdf  # noqa: F401
    import pypdfium2  # noqa: F401

    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    parent = os.getppid()

    def exit_with_parent() -> None:  # a parent killed mid-parse must not leave a child burning a core
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    if memory_mb:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file behind
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # a parser never writes a file
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    requests = Connection(request_fd, writable=False)
    replies = Connection(reply_fd, readable=False)
    replies.send_bytes(b'{"ready": true}')
    while True:
        try:
            header = json.loads(requests.recv_bytes())
            data = requests.recv_bytes()
        except EOFError:
            return
        except MemoryError:
            replies.send_bytes(b'{"memory": true}')
            return
        try:
            reply = extract_file(header["name"], data, header["max_pdf_pages"], header.get("pdf_parser", "pypdf"),
                                 header.get("clean_pdf_text", True)).to_json()
        except FileParseError as error:
            reply = {"error": str(error)}
        except MemoryError:
            data = b""
            reply = {"memory": True}
        except Exception as error:  # noqa: BLE001 - a parser bug on one file must not end the worker
            reply = {"error": f"unreadable ({type(error).__name__}: {str(error)[:300]})"}
        replies.send_bytes(json.dumps(reply, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        if "memory" in reply:
            return  # a fresh worker for the next file


class ParseWorker:
    """Parses files one at a time in a child process: at most `memory_mb` MB of memory (address space, 0: no cap)
    and `timeout` seconds per file. A file over either limit, or one that crashes the parser, becomes a
    FileParseError; the child is killed and a fresh one serves the next file. With `timeout` 0 files are
    parsed in this process, without either limit. Use as a context manager.

    The child starts on the first file (about 0.3-0.5 s: Python and the parser libraries) and serves the
    rest, up to `files_per_child` files (then a fresh one, so that what a parser leaves behind does not pile up);
    a normal file costs the same there as in this process (the bytes and the text cross a pipe)."""

    def __init__(self, memory_mb: int = 2048, timeout: float = 120.0, max_pdf_pages: int = 0, pdf_parser: str = "pypdf",
                 clean_pdf_text: bool = True, files_per_child: int = 2000) -> None:
        self.memory_mb = memory_mb
        self.timeout = timeout
        self.max_pdf_pages = max_pdf_pages
        self.pdf_parser = pdf_parser
        self.clean_pdf_text = clean_pdf_text
        self.files_per_child = files_per_child
        self.children_started = 0
        self._served = 0
        self._process: subprocess.Popen | None = None
        self._requests: Connection | None = None
        self._replies: Connection | None = None

    def __enter__(self) -> ParseWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self) -> None:
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        env = {name: value for name, value in os.environ.items() if not any(word in name.upper() for word in _SECRET_WORDS)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")]))
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-P", "-c", "from ragkit.parsers import _serve_parse_requests as s; s()",
                 str(request_read), str(reply_write), str(self.memory_mb)],
                pass_fds=(request_read, reply_write), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env=env, cwd=tempfile.gettempdir(),
            )
        finally:
            os.close(request_read)
            os.close(reply_write)
        self.children_started += 1
        self._served = 0
        self._requests = Connection(request_write, readable=False)
        self._replies = Connection(reply_read, writable=False)
        # Wait for the child's imports, so that they never count against a file's time.
        try:
            ready = self._replies.poll(max(60.0, self.timeout)) and json.loads(self._replies.recv_bytes()) == {"ready": True}
        except (EOFError, OSError, ValueError):
            ready = False
        if not ready:
            code = self._kill()
            raise FileParseError(f"the parser process could not start (exit code {code}) with {sys.executable}")

    def close(self) -> None:
        """Stop the child: end of input lets it exit; one that does not is killed."""
        for connection in (self._requests, self._replies):
            if connection is not None:
                connection.close()
        self._requests = self._replies = None
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def _kill(self) -> int:
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
        code = process.wait() if process is not None else 0
        self.close()
        return code

    def parse(self, name: str, data: bytes) -> PageTexts:
        """Page texts of one file, parsed in the child within the time and memory limits; FileParseError otherwise."""
        return self.extract(name, data).pages

    def extract(self, name: str, data: bytes) -> Extraction:
        """Page texts, title and headings of one file, parsed in the child within the time and memory limits; FileParseError otherwise."""
        if not self.timeout:
            return extract_file(name, data, self.max_pdf_pages, self.pdf_parser, self.clean_pdf_text)
        if self._process is not None and (self._served >= self.files_per_child or self._process.poll() is not None):
            self.close()  # served its share, or ended while idle (killed from outside): not an error of this file
        if self._process is None:
            self._start()
        self._served += 1
        assert self._requests is not None and self._replies is not None
        deadline = time.monotonic() + self.timeout
        try:
            self._requests.send_bytes(json.dumps({"name": name, "max_pdf_pages": self.max_pdf_pages, "pdf_parser": self.pdf_parser,
                                                  "clean_pdf_text": self.clean_pdf_text}).encode())
            self._requests.send_bytes(data)
            if not self._replies.poll(max(0.0, deadline - time.monotonic())):
                self._kill()
                raise FileParseError(
                    f"parsing took longer than {self.timeout:g} s and was stopped (setting parse_timeout_seconds); "
                    "the file may be malformed or hostile, e.g. a decompression bomb"
                )
            reply = json.loads(self._replies.recv_bytes().decode("utf-8", "surrogatepass"))
        except (EOFError, OSError):
            code = self._kill()
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            raise FileParseError(
                f"the parser stopped on this file ({how}); it may be malformed or hostile (a decompression bomb?), or need more than "
                f"{self.memory_mb} MB of memory (setting parse_memory_mb)"
            ) from None
        if "memory" in reply:
            self._kill()
            raise FileParseError(
                f"parsing needed more than {self.memory_mb} MB of memory and was stopped (setting parse_memory_mb); "
                "the file may be a decompression bomb"
            )
        if "error" in reply:
            raise FileParseError(reply["error"])
        return Extraction.from_json(reply)


_KEPT_WORKERS: list[ParseWorker] = []  # idle workers of this process, most recently used last
_KEPT_LIMIT = 4
_KEPT_LOCK = threading.Lock()


@contextmanager
def kept_parse_worker(memory_mb: int = 2048, timeout: float = 120.0, max_pdf_pages: int = 0, pdf_parser: str = "pypdf",
                      clean_pdf_text: bool = True) -> Iterator[ParseWorker]:
    """A ParseWorker with these limits whose child outlives the `with`, for the next batch of this process: a batch of
    256 small files spent about 0.4 s of its 1 s starting and stopping a child of its own. Concurrent batches (the
    threads executor) each get their own; at most four idle ones are kept, and one left in a bad state by an error
    escaping the `with` is closed, not kept. A killed child (a file over a limit) is replaced on the next file."""
    settings = (memory_mb, timeout, max_pdf_pages, pdf_parser, clean_pdf_text)
    with _KEPT_LOCK:
        worker = next((w for w in reversed(_KEPT_WORKERS) if _limits(w) == settings), None)
        if worker is not None:
            _KEPT_WORKERS.remove(worker)
    worker = worker or ParseWorker(*settings)
    try:
        yield worker
    except BaseException:
        worker.close()
        raise
    with _KEPT_LOCK:
        _KEPT_WORKERS.append(worker)
        retired = _KEPT_WORKERS[:-_KEPT_LIMIT]
        del _KEPT_WORKERS[:-_KEPT_LIMIT]
    for old in retired:
        old.close()


def close_kept_parse_workers() -> int:
    """Stop every idle kept worker's child (the next batch starts a fresh one); returns how many were kept."""
    with _KEPT_LOCK:
        kept = list(_KEPT_WORKERS)
        _KEPT_WORKERS.clear()
    for worker in kept:
        worker.close()
    return len(kept)


def _limits(worker: ParseWorker) -> tuple:
    return (worker.memory_mb, worker.timeout, worker.max_pdf_pages, worker.pdf_parser, worker.clean_pdf_text)
