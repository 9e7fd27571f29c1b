"""Chunking: sizes, page spans, SQuAD paragraphs whole, model-limit splitting, deterministic ids."""

import pytest

from dataflows import chunking
from ragkit.schema import Document, Page


def _document(text: str, kind: str = "file", pages: tuple[Page, ...] | None = None) -> Document:
    return Document(
        document_id=Document.id_for(kind, text[:10]),
        source_kind=kind,
        source_name="doc.txt",
        title="doc",
        text=text,
        pages=pages or (Page(0, 0, len(text)),),
    )


LONG = " ".join(f"Sentence number {i} says something about topic {i % 7}." for i in range(60))


def test_sized_chunks_fit_and_map_back_to_the_document():
    document = _document(LONG)
    chunks = chunking.sized_chunks([document], chunk_size=200, chunk_overlap=50)
    assert len(chunks) > 5
    for chunk in chunks:
        assert len(chunk.text) <= 200
        assert document.text[chunk.char_start : chunk.char_end] == chunk.text
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))


def test_chunks_never_span_pages_and_keep_page_numbers():
    text = "Page one talks about apples. " * 3 + "\n\n" + "Page two talks about pears. " * 3
    split = text.index("\n\n")
    document = _document(text, pages=(Page(1, 0, split), Page(2, split + 2, len(text))))
    chunks = chunking.sized_chunks([document], chunk_size=1000, chunk_overlap=0)
    assert [c.page for c in chunks] == [1, 2]
    assert "pears" not in chunks[0].text and "apples" not in chunks[1].text


def test_squad_paragraphs_stay_whole_by_default():
    document = _document(LONG, kind="squad")
    assert len(chunking.sized_chunks([document], chunk_size=200)) == 1
    assert len(chunking.sized_chunks([document], chunk_size=200, split_squad_paragraphs=True)) > 1


def test_chunk_ids_are_deterministic_and_unique_even_for_repeated_text():
    document = _document("Same. Same. Same. Other.")
    first = chunking.sized_chunks([document], chunk_size=6, chunk_overlap=0)
    second = chunking.sized_chunks([document], chunk_size=6, chunk_overlap=0)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]
    assert len({c.chunk_id for c in first}) == len(first) == 4
    assert all(c.chunk_id.startswith(document.document_id + "-") for c in first)


def test_changed_content_changes_only_the_ids_of_changed_chunks():
    before = _document("Alpha is first. Beta is second. Gamma is third.")
    after = Document(**{**before.__dict__, "text": "Alpha is first. Beta changed. Gamma is third."})
    after = Document(**{**after.__dict__, "pages": (Page(0, 0, len(after.text)),)})
    ids_before = {c.text: c.chunk_id for c in chunking.sized_chunks([before], chunk_size=16, chunk_overlap=0)}
    ids_after = {c.text: c.chunk_id for c in chunking.sized_chunks([after], chunk_size=16, chunk_overlap=0)}
    assert ids_before["Alpha is first."] == ids_after["Alpha is first."]
    assert ids_before["Gamma is third."] == ids_after["Gamma is third."]
    assert "Beta changed." in ids_after and "Beta changed." not in ids_before


def _word_counts(texts: list[str]) -> list[int]:
    return [len(text.split()) for text in texts]


def test_chunks_over_the_model_limit_are_split_not_truncated():
    document = _document(LONG, kind="squad")
    sized = chunking.sized_chunks([document])
    assert len(sized) == 1
    result = chunking.chunks(sized, _word_counts, 40)
    assert len(result) > 1
    assert all(c.token_count <= 40 and c.token_limit == 40 for c in result)
    assert " ".join(c.text for c in result).split() == LONG.split()  # every word kept, in order
    assert all(document.text[c.char_start : c.char_end] == c.text for c in result)


def test_the_chunk_check_fails_the_run_when_a_chunk_is_over_the_limit():
    from dataflows._quality import ChunksAreValid
    from ragkit.schema import Chunk

    bad = Chunk("c", "d", "file", "s", "t", 0, 0, 0, 3, "abc", "h", token_count=10, token_limit=5)
    empty = Chunk("e", "d", "file", "s", "t", 0, 1, 3, 3, "   ", "h", token_count=1, token_limit=5)
    result = ChunksAreValid(importance="fail").validate([bad, empty])
    assert not result.passes
    assert "1 empty chunk" in result.message and "1 chunk(s) over" in result.message


@pytest.mark.parametrize("size", [50, 120, 400])
def test_every_chunk_maps_back_whatever_the_size(size):
    document = _document(LONG + "\n\n" + LONG[::-1])
    for chunk in chunking.sized_chunks([document], chunk_size=size, chunk_overlap=size // 4):
        assert document.text[chunk.char_start : chunk.char_end] == chunk.text
        assert 0 < len(chunk.text) <= size
