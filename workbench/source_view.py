"""A search hit shown in its source: a PDF page rendered with the chunk's text boxed, or the text around the chunk.

No Streamlit here: the page (or a test) gets a PIL image, or three pieces of plain text (before, the chunk,
after) to render safely as text. The chunk's text is found on the page through pypdfium2's text page: both
texts are compared on their letters and digits only (PDF cleaning joins hyphenated words and letter-spaced
runs), and the character boxes of the match are merged into one rectangle per line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.documents import source_of

_PDF_SUFFIXES = {".pdf"}
_TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
_HIGHLIGHT = (255, 214, 0, 96)


def _letters(text: str) -> tuple[str, list[int]]:
    """The text's letters and digits, lower-cased, and where each came from."""
    kept = [(ch.lower(), position) for position, ch in enumerate(text) if ch.isalnum()]
    return "".join(ch for ch, _ in kept), [position for _, position in kept]


def match_span(page_text: str, chunk_text: str) -> tuple[int, int] | None:
    """Where the chunk's text is in the page's (start, end character index), comparing letters and digits; None if absent.

    When the whole chunk is not found (the page text was cleaned differently), its first and last 40 letters are."""
    page, where = _letters(page_text)
    chunk, _ = _letters(chunk_text)
    if not chunk or not page:
        return None
    start = page.find(chunk)
    if start >= 0:
        return where[start], where[start + len(chunk) - 1] + 1
    head, tail = chunk[:40], chunk[-40:]
    first = page.find(head)
    last = page.find(tail, max(first, 0))
    if first < 0 or last < 0:
        return None
    return where[first], where[last + len(tail) - 1] + 1


def text_at_chunk(source_text: str, chunk_text: str, char_start: int = 0, char_end: int = 0,
                  context: int = 1200) -> dict[str, Any]:
    """The text around the chunk in its source: {"before", "match", "after", "found"} (plain text, to be escaped)."""
    span = match_span(source_text, chunk_text)
    found = span is not None
    if span is None:
        span = (max(0, char_start), max(char_start, min(len(source_text), char_end))) if char_end > char_start else (0, 0)
    start, end = span
    return {"before": source_text[max(0, start - context):start], "match": source_text[start:end],
            "after": source_text[end:end + context], "found": found}


def pdf_page_image(path: str | Path, page_number: int, chunk_text: str, scale: float = 1.5) -> dict[str, Any]:
    """A PDF page (1-based) rendered as a PIL image with translucent boxes over the chunk's text: {"image", "boxes", "pages"}."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    pdf = pdfium.PdfDocument(str(path))
    try:
        pages = len(pdf)
        page = pdf[max(0, min(pages - 1, page_number - 1))]
        image = page.render(scale=scale).to_pil().convert("RGBA")
        crop_left, _, _, crop_top = page.get_cropbox()  # the rendered area; text positions are in page space
        textpage = page.get_textpage()
        count = textpage.count_chars()
        page_text = textpage.get_text_range(0, count) if count else ""
        span = match_span(page_text, chunk_text)
        boxes: list[tuple[float, float, float, float]] = []
        if span is not None:
            start, end = span
            for index in range(textpage.count_rects(start, end - start)):
                left, bottom, right, top = textpage.get_rect(index)
                boxes.append(((left - crop_left) * scale, (crop_top - top) * scale,
                              (right - crop_left) * scale, (crop_top - bottom) * scale))
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for box in boxes:
            draw.rectangle(box, fill=_HIGHLIGHT)
        return {"image": Image.alpha_composite(image, overlay).convert("RGB"), "boxes": boxes, "pages": pages}
    finally:
        pdf.close()


def source_view(config: Mapping[str, Any], hit: Mapping[str, Any]) -> dict[str, Any]:
    """What "Open source" shows for a hit of the index a config points at: {"kind": "pdf", "image", "page", ...},
    {"kind": "text", "before", "match", "after", ...}, or {"kind": "missing", "reason"}."""
    found = source_of(config, str(hit.get("document_id", "")))
    if found is None:
        return {"kind": "missing", "reason": "The source file of this document is not kept (it was ingested before sources "
                                             "were kept, or keep_sources_mb made room for newer files). Ingest it again."}
    record, path = found
    suffix = Path(path).suffix.lower()
    if suffix in _PDF_SUFFIXES:
        page = int(hit.get("page") or 1)
        return {"kind": "pdf", "page": page, "source_name": record["source_name"],
                **pdf_page_image(path, page, str(hit.get("text", "")))}
    if suffix in _TEXT_SUFFIXES:
        text = Path(path).read_bytes().decode("utf-8", errors="replace")
        return {"kind": "text", "source_name": record["source_name"],
                **text_at_chunk(text, str(hit.get("text", "")), int(hit.get("char_start") or 0), int(hit.get("char_end") or 0))}
    return {"kind": "missing", "reason": f"A {suffix or 'extension-less'} source is not shown here; only PDF, text and Markdown are."}
