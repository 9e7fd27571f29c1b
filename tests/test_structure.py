"""Structure-aware chunks and contextual headers: section paths from PDF outlines, Markdown, HTML and DOCX headings;
slide-sized pages one chunk each; the header embedded and indexed but never shown (real model, real LanceDB)."""

from __future__ import annotations

import io

import pytest

from dataflows import chunking, sources
from dataflows.stores import lancedb as lancedb_store
from ragkit.parsers import PdfExtraction
from ragkit.schema import SECTION_SEPARATOR, InputFile
from tests.pdfs import make_pdf, make_structured_pdf
from workbench import api

SEP = SECTION_SEPARATOR
MARKDOWN = """# Lighthouse Handbook

Welcome, keeper.

## Lamps

Trim the wick every evening before sunset.

### Oil

Use colza oil in winter.

## Fog

Sound the horn every thirty seconds in fog.
"""
HTML = """<html><head><title>Harbour Guide</title><script>var x = "<h2>not a heading</h2>";</script></head>
<body><h1>Harbour Guide</h1><p>Welcome aboard.</p><h2>Moorings</h2><p>Tie up at the north quay.</p>
<h3>Fees</h3><p>Two shillings a night.</p><h2>Tides</h2><p>High water comes at noon.</p></body></html>"""


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "Keeper's Manual"
    document.add_heading("Keeper's Manual", level=0)  # the "Title" style
    document.add_paragraph("An introduction for new keepers.")
    document.add_heading("Duties", level=1)
    document.add_paragraph("Keep the lamp lit from dusk to dawn.")
    document.add_heading("Night watch", level=2)
    document.add_paragraph("Wind the clockwork every four hours.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _documents(files: dict[str, bytes], extraction: PdfExtraction = PdfExtraction()):
    result = sources.parsed_files([InputFile(name, data) for name, data in files.items()], extraction)
    assert not result.errors, result.errors
    return {document.source_name: document for document in result.documents}


def _sections(document, **settings) -> dict[str, str]:
    """Each chunk's first line → its section path."""
    return {chunk.text.split("\n")[0]: chunk.section for chunk in chunking.sized_chunks([document], chunk_size=200, **settings)}


def test_markdown_html_and_docx_headings_give_each_chunk_its_section_path():
    documents = _documents({"handbook.md": MARKDOWN.encode(), "guide.html": HTML.encode(), "manual.docx": _docx()})
    handbook, guide, manual = documents["handbook.md"], documents["guide.html"], documents["manual.docx"]
    assert (handbook.title, guide.title, manual.title) == ("Lighthouse Handbook", "Harbour Guide", "Keeper's Manual")
    assert _sections(handbook) == {
        "# Lighthouse Handbook": "Lighthouse Handbook",
        "## Lamps": f"Lighthouse Handbook{SEP}Lamps",
        "### Oil": f"Lighthouse Handbook{SEP}Lamps{SEP}Oil",
        "## Fog": f"Lighthouse Handbook{SEP}Fog",
    }
    by_text = {chunk.text.split("\n")[-1].strip(): chunk.section for chunk in chunking.sized_chunks([guide], chunk_size=200)}
    assert by_text["Two shillings a night."] == f"Harbour Guide{SEP}Moorings{SEP}Fees"
    assert by_text["High water comes at noon."] == f"Harbour Guide{SEP}Tides"
    assert "not a heading" not in guide.text  # the script's text is dropped, so it makes no heading
    assert {chunk.text.split("\n\n")[-1]: chunk.section for chunk in chunking.sized_chunks([manual], chunk_size=200)} == {
        "An introduction for new keepers.": "",
        "Keep the lamp lit from dusk to dawn.": "Duties",
        "Wind the clockwork every four hours.": f"Duties{SEP}Night watch",
    }


@pytest.mark.parametrize("parser", ["pypdf", "pypdfium2"])
def test_pdf_outline_gives_sections_and_chunks_are_cut_at_headings(parser):
    body = "The keepers lived in the tower for many years and kept the light burning. " * 5
    pages = [[(24, "Lighthouse Handbook"), (11, "Foreword by the harbour board.")],
             [(11, "1 Keepers"), *[(11, body[i:i + 90]) for i in range(0, len(body), 90)], (11, "1.1 Duties"),
              (11, "They lit the lamp at dusk."), (11, "2 Visitors"), (11, "Visitors sign the book.")]]
    data = make_structured_pdf(pages, title="Lighthouse Handbook", outline=[(1, "1 Keepers", 1), (2, "1.1 Duties", 1), (1, "2 Visitors", 1)])
    document = _documents({"handbook.pdf": data}, PdfExtraction(parser))["handbook.pdf"]
    chunks = chunking.sized_chunks([document], chunk_size=300)
    sections = [(chunk.page, chunk.section) for chunk in chunks]
    assert list(dict.fromkeys(sections)) == [
        (1, ""), (2, "1 Keepers"), (2, f"1 Keepers{SEP}1.1 Duties"), (2, "2 Visitors"),
    ]
    firsts = {section: next(c.text for c in chunks if c.section == section) for _, section in sections}
    assert all(text.startswith(section.split(SEP)[-1]) for section, text in firsts.items() if section)  # cut at its heading
    assert not any("They lit the lamp" in c.text and "Visitors sign" in c.text for c in chunks)
    uncut = chunking.sized_chunks([document], chunk_size=300, chunk_by_sections=False)
    assert any("They lit the lamp" in c.text and "Visitors sign" in c.text for c in uncut)  # without: across headings


def test_slide_sized_pages_stay_one_chunk_each_unless_asked():
    slides = ["1 Tides\nHigh water at noon, low water at six.\n1.1 Springs\nSpring tides follow the full moon.",
              "2 Ropes\nHemp for mooring lines.\n2.1 Knots\nThe bowline never slips.\nAsk the bosun.",
              "3 Lamps\nTrim the wick at dusk.\n3.1 Oil\nColza in winter, whale oil never.",
              "4 Gulls\nThey steal the bait.\n4.1 Nests\nLeave the nests on the north cliff alone."]
    document = _documents({"deck.pdf": make_pdf(slides)})["deck.pdf"]
    assert len(document.headings) >= 8  # numbered headings on every slide
    kept = chunking.sized_chunks([document], chunk_size=400)
    assert [chunk.page for chunk in kept] == [1, 2, 3, 4]  # not cut at the headings, not merged across slides
    merged = chunking.sized_chunks([document], chunk_size=400, keep_slides=False)
    assert len(merged) < 4 and all(chunk.text == document.text[chunk.char_start:chunk.char_end] for chunk in merged)
    assert any("1 Tides" in chunk.text and "2 Ropes" in chunk.text for chunk in merged)


def test_squad_paragraphs_are_unchanged_but_for_the_header():
    from ragkit.schema import Document, Page

    text = "Super Bowl 50 was an American football game. The Broncos won."
    paragraph = Document("d1", "squad", "SQuAD: Super Bowl 50", "Super Bowl 50", text, (Page(0, 0, len(text)),))
    (with_header,) = chunking.sized_chunks([paragraph])
    (without,) = chunking.sized_chunks([paragraph], contextual_headers=False)
    assert with_header.text == without.text == text and with_header.section == without.section == ""
    assert with_header.indexed_text == f"Super Bowl 50\n\n{text}" and without.indexed_text == text
    assert with_header.chunk_id != without.chunk_id  # another embedded text: another chunk


def _rows(config):
    resolved = api.resolve_config(config)
    table = lancedb_store.existing_index(lancedb_store.store_client(resolved["vector_db_config"]), resolved["index_name"])
    return table.to_arrow().drop_columns(["vector"]).to_pylist()


def test_the_header_is_embedded_and_indexed_but_not_shown(files_config):
    config = {**files_config, "chunk_size": 300, "contextual_headers": True}
    files = [InputFile("handbook.md", MARKDOWN.encode())]
    record = api.ingest(config, files=files)
    assert record["status"] == "succeeded"
    rows = {row["section"]: row for row in _rows(config)}
    oil = rows[f"Lighthouse Handbook{SEP}Lamps{SEP}Oil"]
    assert oil["text"] == "### Oil\n\nUse colza oil in winter."  # shown: the chunk itself
    assert oil["indexed_text"] == f"Lighthouse Handbook{SEP}Lamps{SEP}Oil\n\n" + oil["text"]
    assert oil["title"] == "Lighthouse Handbook"

    # The stored vector is the model's vector of the indexed text, not of the text shown.
    exact = api.search(config, oil["indexed_text"], top_k=1)["hits"][0]
    assert exact["chunk_id"] == oil["chunk_id"] and exact["score"] == pytest.approx(1.0, abs=1e-4)
    shown = api.search(config, oil["text"], top_k=3)["hits"]
    assert next(hit["score"] for hit in shown if hit["chunk_id"] == oil["chunk_id"]) < 0.995
    # BM25 sees the header: "Lamps" is only in the header of the oil chunk, and the hit shows the text alone.
    lexical = api.search({**config, "retrieval_mode": "lexical"}, "colza lamps handbook", top_k=1)["hits"][0]
    assert lexical["chunk_id"] == oil["chunk_id"] and lexical["text"] == oil["text"]

    again = api.ingest(config, files=files)  # unchanged: nothing embedded or written
    assert again["counts"]["written"] == 0 and again["counts"]["embedded"] == 0

    off = api.ingest({**config, "contextual_headers": False}, files=files)  # the header setting changes: re-embed
    assert off["counts"]["embedded"] == off["counts"]["written"] == len(rows)  # no stale vector reused
    assert off["counts"]["embedded_by_model"] == len(rows) - 1  # all but the oil text, which was searched above (cached)
    assert off["counts"]["deleted_stale"] == len(rows)
    after = {row["section"]: row for row in _rows(config)}
    assert len(after) == len(rows) and all(row["indexed_text"] == row["text"] for row in after.values())
    plain = api.search(config, oil["text"], top_k=1)["hits"][0]
    assert plain["chunk_id"] == after[oil["section"]]["chunk_id"] and plain["score"] == pytest.approx(1.0, abs=1e-4)


def test_an_index_from_before_sections_gains_the_new_columns(tmp_path):
    import numpy as np
    import pyarrow as pa

    client = lancedb_store.store_client({"uri": str(tmp_path / "lancedb")})
    old_schema = pa.schema([f for f in lancedb_store._arrow_schema(4) if f.name not in ("section", "indexed_text", "hit_json")])
    row = {f.name: (0 if pa.types.is_integer(f.type) else [] if pa.types.is_list(f.type) else f"{f.name}-1") for f in old_schema}
    row.update(text="Colza oil burns clean in the winter lamp.", vector=[0.5, 0.5, 0.5, 0.5])
    client.create_table("old", schema=old_schema).add(pa.Table.from_pylist([row], schema=old_schema))

    table = lancedb_store.vector_index(client, "old", 4)  # the write path adds the columns, filled from the text
    assert {"section", "indexed_text"} <= set(table.schema.names)
    (stored,) = table.to_arrow().drop_columns(["vector"]).to_pylist()
    assert stored["section"] == "" and stored["indexed_text"] == row["text"]
    lancedb_store.maintained_index(client, "old", {"written": 1})  # the upkeep after a run builds the full-text index
    hits = lancedb_store.lexical_hits(lancedb_store.text_index(lancedb_store.existing_index(client, "old")), "colza winter", 1)
    assert hits[0]["chunk_id"] == "chunk_id-1"
    dense = lancedb_store.search_hits(table, np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32), 1)
    assert dense[0]["section"] == "" and dense[0]["text"] == row["text"]
