"""'Open source': a hit shown in its kept source file — a PDF page with the chunk boxed, or the text at the chunk."""

from __future__ import annotations

from pathlib import Path

from tests.pdfs import make_pdf
from workbench import api
from workbench.source_view import match_span, pdf_page_image, text_at_chunk

PAGES = ["A first page about gardening.\nTomatoes need sun and water.",
         "The second page is about volcanoes.\nMount Etna erupts often on Sicily.\nVesuvius buried Pompeii."]


def test_match_span_ignores_spacing_hyphens_and_case():
    text = "Intro.\nMount Et-\nna   ERUPTS often.\nEnd."
    start, end = match_span(text, "mount etna erupts often")
    assert text[start:end] == "Mount Et-\nna   ERUPTS often"
    assert match_span(text, "nothing like this") is None


def test_text_at_chunk_is_the_surrounding_text_with_the_chunk_in_the_middle():
    source = "# Title\n\n<script>alert(1)</script> before. The chunk text here. After it."
    view = text_at_chunk(source, "The chunk text here.", context=20)
    assert view["found"] and view["match"] == "The chunk text here"  # from its first to its last letter
    assert view["before"].endswith("before. ") and view["after"].startswith(". After")


def test_pdf_page_is_rendered_with_boxes_over_the_chunk(tmp_path: Path):
    path = tmp_path / "doc.pdf"
    path.write_bytes(make_pdf(PAGES))
    shown = pdf_page_image(path, 2, "Mount Etna erupts often on Sicily.")
    assert shown["pages"] == 2 and shown["boxes"]
    image = shown["image"]
    left, top, right, bottom = shown["boxes"][0]
    assert 0 <= left < right <= image.width and 0 <= top < bottom <= image.height
    inside = image.getpixel((int((left + right) / 2), int(top + 1)))
    plain = pdf_page_image(path, 2, "not on this page")
    assert plain["boxes"] == []
    assert inside != plain["image"].getpixel((int((left + right) / 2), int(top + 1)))  # the box tints the page


def test_an_ingested_pdf_and_text_open_at_the_hit(files_config, tmp_path: Path):
    pdf, note = tmp_path / "volcanoes.pdf", tmp_path / "note.md"
    pdf.write_bytes(make_pdf(PAGES))
    note.write_text("Shopping list.\n\nBuy <b>bread</b> and milk for the week.", encoding="utf-8")
    config = {**files_config, "file_paths": [str(pdf), str(note)], "ingest_root": str(tmp_path)}
    api.ingest(config)
    hit = next(h for h in api.search(config, "Mount Etna Sicily", top_k=5)["hits"] if h["source_name"] == "volcanoes.pdf")
    shown = api.source_view(config, hit)
    assert shown["kind"] == "pdf" and shown["page"] == hit["page"] == 2 and shown["boxes"]
    hit = next(h for h in api.search(config, "bread and milk", top_k=5)["hits"] if h["source_name"] == "note.md")
    shown = api.source_view(config, hit)
    assert shown["kind"] == "text" and "milk" in shown["match"]
    api.delete_documents(config, ["note.md"])
    assert api.source_view(config, hit)["kind"] == "missing"


def test_the_boxes_land_on_the_text_of_a_page_with_a_cropped_margin(tmp_path: Path):
    """A page whose crop box does not start at the origin (a cropped scan, a trimmed slide): the picture shows the crop
    box, text positions are in page space, so a box must be moved by the crop box's corner to cover its text."""
    import io

    import pypdf
    from PIL import ImageOps

    reader = pypdf.PdfReader(io.BytesIO(make_pdf(PAGES)))
    writer = pypdf.PdfWriter()
    for page in reader.pages:
        page.cropbox = pypdf.generic.RectangleObject([40, 60, float(page.mediabox.right) - 20, float(page.mediabox.top) - 20])
        writer.add_page(page)
    path = tmp_path / "cropped.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    shown = pdf_page_image(path, 2, "Mount Etna erupts often on Sicily.")
    plain = ImageOps.grayscale(pdf_page_image(path, 2, "not on this page")["image"])
    assert shown["boxes"]
    for left, top, right, bottom in shown["boxes"]:
        inked = [plain.getpixel((x, y)) < 128 for x in range(int(left), int(right)) for y in range(int(top), int(bottom))]
        assert sum(inked) > 0.05 * len(inked), (left, top, right, bottom)  # the box covers the words, not the margin
