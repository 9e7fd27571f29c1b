"""Text extraction per file type. Each parser takes bytes and returns page texts, or raises
FileParseError with a reason a person can act on. No Hamilton here: `sources.py` calls these.

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
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path, PurePath

from ragkit.errors import FileParseError

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


def parse_text(data: bytes) -> PageTexts:
    """Plain text and Markdown: UTF-8 (or UTF-16/UTF-32 with a byte-order mark), one page."""
    return [(0, _decode_text(data))]


def _pdf_limit_reason(error: Exception) -> str:
    return (
        f"the PDF exceeds a safety limit of the PDF reader ({error}); it may be a decompression bomb or "
        "otherwise malformed"
    )


def parse_pdf(data: bytes, max_pages: int = 0) -> PageTexts:
    """PDF through pypdf: text per page, 1-based page numbers; encrypted, image-only or over-long (`max_pages`) PDFs are refused."""
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

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
            page_count = len(reader.pages)
            if max_pages and page_count > max_pages:
                raise FileParseError(
                    f"too many pages: {page_count:,}, over the limit of {max_pages:,} (setting max_pdf_pages); "
                    "split the PDF or raise the limit"
                )
            pages = [(number, page.extract_text() or "") for number, page in enumerate(reader.pages, start=1)]
    except FileParseError:
        raise
    except LimitReachedError as error:
        raise FileParseError(_pdf_limit_reason(error)) from None
    except RecursionError:
        raise FileParseError("corrupt or hostile PDF: its objects are nested too deeply to read") from None
    except Exception as error:  # noqa: BLE001 - broken PDFs make pypdf raise many types; each costs one file
        raise FileParseError(f"corrupt or unreadable PDF ({type(error).__name__}: {str(error)[:300]})") from None
    if not any(text.strip() for _, text in pages):
        raise FileParseError(
            f"no text layer in {len(pages)} page(s): the PDF holds only images (a scan?); run OCR on it first"
        )
    return pages


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


def parse_docx(data: bytes) -> PageTexts:
    """Word .docx through python-docx: paragraph texts joined by blank lines, one page."""
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        _inline_unresolved_entities(document.element)
        paragraphs = [p.text for p in document.paragraphs]
    except MemoryError:
        raise
    except RecursionError:
        raise FileParseError("corrupt or hostile .docx: its XML is nested too deeply to read") from None
    except Exception as error:  # noqa: BLE001 - zip and XML errors of every kind; each costs one file
        raise FileParseError(f"corrupt or unreadable .docx ({type(error).__name__}: {str(error)[:300]})") from None
    return [(0, "\n\n".join(text for text in paragraphs if text.strip()))]


def parse_html(data: bytes) -> PageTexts:
    """HTML through BeautifulSoup: visible text only (scripts and styles dropped), one page."""
    from bs4 import BeautifulSoup

    text = _decode_text(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "looks more like a filename than HTML": the text is read all the same
            soup = BeautifulSoup(text, "html.parser")
            for element in soup(["script", "style", "noscript", "template"]):
                element.decompose()
            return [(0, soup.get_text("\n"))]
    except MemoryError:
        raise
    except RecursionError:
        raise FileParseError("hostile or broken HTML: its elements are nested too deeply to read") from None
    except Exception as error:  # noqa: BLE001 - the HTML parser on broken markup; costs one file
        raise FileParseError(f"unreadable HTML ({type(error).__name__}: {str(error)[:300]})") from None


PARSERS: dict[str, Callable[[bytes], PageTexts]] = {
    ".pdf": parse_pdf,
    ".txt": parse_text,
    ".md": parse_text,
    ".markdown": parse_text,
    ".docx": parse_docx,
    ".html": parse_html,
    ".htm": parse_html,
}


def _clean(text: str) -> str:
    """Text safe to store: NUL characters dropped, lone surrogates (invalid in UTF-8) replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _LONE_SURROGATE.sub("\ufffd", text)


def parse_file(name: str, data: bytes, max_pdf_pages: int = 0) -> PageTexts:
    """Page texts of one file, by its extension; FileParseError (and only that) for empty, unsupported or broken files."""
    suffix = PurePath(name).suffix.lower()
    parser = PARSERS.get(suffix)
    if parser is None:
        supported = ", ".join(sorted(PARSERS))
        raise FileParseError(f"unsupported file type {suffix or '(no extension)'!r}; supported: {supported}")
    if not data.strip():
        raise FileParseError("empty file")
    pages = parse_pdf(data, max_pdf_pages) if parser is parse_pdf else parser(data)
    pages = [(number, _clean(text)) for number, text in pages]
    if not any(text.strip() for _, text in pages):
        raise FileParseError("no text found in the file")
    return pages


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
            reply = {"pages": parse_file(header["name"], data, header["max_pdf_pages"])}
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
    rest; a normal file costs the same there as in this process (the bytes and the text cross a pipe)."""

    def __init__(self, memory_mb: int = 2048, timeout: float = 120.0, max_pdf_pages: int = 0) -> None:
        self.memory_mb = memory_mb
        self.timeout = timeout
        self.max_pdf_pages = max_pdf_pages
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
        if not self.timeout:
            return parse_file(name, data, self.max_pdf_pages)
        if self._process is None:
            self._start()
        assert self._requests is not None and self._replies is not None
        deadline = time.monotonic() + self.timeout
        try:
            self._requests.send_bytes(json.dumps({"name": name, "max_pdf_pages": self.max_pdf_pages}).encode())
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
                f"the parser stopped on this file ({how}); it may be malformed or hostile, or need more than "
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
        return [(int(number), str(text)) for number, text in reply["pages"]]
