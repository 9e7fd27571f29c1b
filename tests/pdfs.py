"""Build small PDFs for tests by hand (text pages, image-only pages, hostile ones), and encrypted copies with pypdf."""

from __future__ import annotations

import io
import zlib


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[str | None]) -> bytes:
    """A valid PDF with one page per entry: a string becomes text lines; None draws only a rectangle (no text layer)."""
    objects: list[bytes] = []
    page_ids = []
    font_id = 3
    next_id = 4
    page_objects: list[tuple[int, bytes]] = []
    for content in pages:
        if content is None:
            stream = b"0.5 g 72 600 200 100 re f"
        else:
            lines = content.split("\n")
            ops = ["BT", "/F1 11 Tf", "14 TL", "72 760 Td"]
            for line in lines:
                ops.append(f"({_escape(line)}) Tj T*")
            ops.append("ET")
            stream = "\n".join(ops).encode("latin-1")
        content_id, page_id = next_id, next_id + 1
        next_id += 2
        page_objects.append((content_id, b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"))
        page_objects.append(
            (page_id, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                      b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (content_id, font_id))
        )
        page_ids.append(page_id)
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects = [
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (2, b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(page_ids)),
        (3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"),
        *page_objects,
    ]
    return pdf_from_objects(objects)


def pdf_from_objects(objects: list[tuple[int, bytes]]) -> bytes:
    """A PDF file of numbered object bodies (object 1 is the catalog), with a correct cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = {}
    for number, body in sorted(objects):
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    count = max(offsets) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % count)
    for number in range(1, count):
        out.write(b"%010d 00000 n \n" % offsets.get(number, 0))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, xref))
    return out.getvalue()


def _stream(body: bytes, entries: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(body), entries) + body + b"\nendstream"


def _deflated_repeat(unit: bytes, total: int) -> bytes:
    """zlib data that inflates to `unit` repeated to about `total` bytes, built in milliseconds even for gigabytes.

    A raw deflate stream compresses one block of about 1 MB and sync-flushes (byte-aligned); from the
    second block on the compressor's output is the same bytes every time, so it is repeated instead of
    recomputed. The zlib header and the Adler-32 of the whole output are written by hand (closed form).
    """
    block = unit * max(1, (1 << 20) // len(unit))
    count = max(1, -(-total // len(block)))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
    steady = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH) == steady
    final = compressor.flush(zlib.Z_FINISH)
    # Adler-32 of `block` repeated `count` times: a = 1 + sum of bytes, b = sum over bytes of a (mod 65521).
    if len(set(block)) == 1:  # one byte value v repeated n times: closed form
        n, v = len(block) * count, block[0]
        a, b = (1 + n * v) % 65521, (n + v * n * (n + 1) // 2) % 65521
    else:
        a, b = 1, 0
        weighted = sum(byte * (len(block) - i) for i, byte in enumerate(block))
        for _ in range(count):
            a, b = (a + sum(block)) % 65521, (b + len(block) * a + weighted) % 65521
    return b"\x78\xda" + first + steady * (count - 1) + final + ((b << 16) | a).to_bytes(4, "big")


def pdf_with_contents(contents: list[bytes], pages: int = 1, resources: bytes = b"<< /Font << /F1 3 0 R >> >>") -> bytes:
    """`pages` pages that all draw the same content stream objects (given as whole stream objects)."""
    first_content = 4
    content_refs = b" ".join(b"%d 0 R" % (first_content + i) for i in range(len(contents)))
    first_page = first_content + len(contents)
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(pages))
    objects = [
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (2, b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages),
        (3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"),
        *((first_content + i, body) for i, body in enumerate(contents)),
        *(
            (first_page + i, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents [" + content_refs
             + b"] /Resources " + resources + b" >>")
            for i in range(pages)
        ),
    ]
    return pdf_from_objects(objects)


TEXT_STREAM = _stream(b"BT /F1 11 Tf 72 760 Td (Some real text on the page.) Tj ET")


def flate_bomb_pdf(inflated_bytes: int = 4 << 30) -> bytes:
    """A page with a little text and a FlateDecode content stream of about 4 MB that inflates to `inflated_bytes` of spaces."""
    return pdf_with_contents([TEXT_STREAM, _stream(_deflated_repeat(b" ", inflated_bytes), b"/Filter /FlateDecode ")])


def slow_pdf(pages: int = 100) -> bytes:
    """A ~15 KB PDF whose pages all draw one content stream of 5 MB of text operators: ~10 s of pypdf work per page."""
    operators = _deflated_repeat(b"BT /F1 11 Tf 72 760 Td (word) Tj ET\n", 5_000_000)
    return pdf_with_contents([_stream(operators, b"/Filter /FlateDecode ")], pages=pages)


def deeply_nested_pdf(depth: int = 100_000) -> bytes:
    """A page whose content stream draws text from arrays nested `depth` levels deep."""
    nested = b"[" * depth + b"(x)" + b"]" * depth
    return pdf_with_contents([_stream(b"BT /F1 11 Tf 72 760 Td " + nested + b" TJ ET")])


def invalid_unicode_pdf() -> bytes:
    """A text page whose font's ToUnicode map turns characters into lone surrogates and NUL (pypdf returns them as they are)."""
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Odd def\n"
        b"1 begincodespacerange <00> <FF> endcodespacerange\n"
        b"3 beginbfchar <41> <D800> <42> <0000> <43> <DFFF0041> endbfchar\n"
        b"endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    return pdf_from_objects([
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (2, b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>"),
        (3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>"),
        (4, _stream(b"BT /F1 11 Tf 72 760 Td (ABC odd font text about harbours.) Tj ET")),
        (5, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 3 0 R >> >> >>"),
        (6, _stream(cmap)),
    ])

def encrypt_pdf(data: bytes, password: str = "secret") -> bytes:
    """The same PDF encrypted with a user password (AES-256, through pypdf)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _pdf_string(text: str) -> bytes:
    """A PDF text string: literal for ASCII, UTF-16BE with a byte-order mark otherwise."""
    if text.isascii():
        return b"(" + _escape(text).encode("ascii") + b")"
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def make_structured_pdf(
    pages: list[list[tuple[float, str]]],
    title: str | None = None,
    outline: list[tuple[int, str, int]] = (),
) -> bytes:
    """A PDF whose pages are lines set in given font sizes ([(size, text), ...] per page), with an optional /Title in
    its document information and an optional outline of (level 1.., title, 0-based page index) entries, in order."""
    first_page = 10
    page_ids = [first_page + 2 * index + 1 for index in range(len(pages))]
    objects: list[tuple[int, bytes]] = [
        (2, b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % pid for pid in page_ids) + b"] /Count %d >>" % len(pages)),
        (3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"),
    ]
    for index, lines in enumerate(pages):
        ops, y = ["BT"], 760.0
        for size, text in lines:
            ops.append(f"/F1 {size:g} Tf 1 0 0 1 72 {y:g} Tm ({_escape(text)}) Tj")
            y -= size * 1.3
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        content_id, page_id = first_page + 2 * index, page_ids[index]
        objects.append((content_id, b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"))
        objects.append((page_id, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                                 b"/Resources << /Font << /F1 3 0 R >> >> >>" % (content_id, )))
    catalog = b"<< /Type /Catalog /Pages 2 0 R"
    if outline:
        item_ids = [first_page + 2 * len(pages) + index for index in range(len(outline))]
        parents: list[int] = []
        children: dict[int, list[int]] = {4: []}
        stack: list[tuple[int, int]] = []  # (level, item id)
        for (level, _, _), item in zip(outline, item_ids):
            while stack and stack[-1][0] >= level:
                stack.pop()
            parent = stack[-1][1] if stack else 4
            parents.append(parent)
            children.setdefault(parent, []).append(item)
            children.setdefault(item, [])
            stack.append((level, item))
        for (_, text, page), item, parent in zip(outline, item_ids, parents):
            siblings = children[parent]
            position = siblings.index(item)
            body = b"<< /Title " + _pdf_string(text) + b" /Parent %d 0 R /Dest [%d 0 R /XYZ null null null]" % (parent, page_ids[page])
            if position:
                body += b" /Prev %d 0 R" % siblings[position - 1]
            if position + 1 < len(siblings):
                body += b" /Next %d 0 R" % siblings[position + 1]
            if children[item]:
                body += b" /First %d 0 R /Last %d 0 R /Count %d" % (children[item][0], children[item][-1], len(children[item]))
            objects.append((item, body + b" >>"))
        top = children[4]
        objects.append((4, b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count %d >>" % (top[0], top[-1], len(top))))
        catalog += b" /Outlines 4 0 R"
    objects.append((1, catalog + b" >>"))
    data = pdf_from_objects(objects)
    if title is not None:
        objects.append((5, b"<< /Title " + _pdf_string(title) + b" /Producer (tests) >>"))
        data = pdf_from_objects(objects).replace(b"/Root 1 0 R >>", b"/Root 1 0 R /Info 5 0 R >>")
    return data
