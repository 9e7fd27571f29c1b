"""Sentence spans and packing: offsets always map back to the source, sizes are respected."""

from ragkit.text_splitting import pack_spans, sentence_spans

TEXT = "First sentence here. Second one is longer than the first! Third? Fourth.\n\nNew paragraph starts. End."


def test_sentence_spans_are_stripped_sentences_of_the_text():
    spans = sentence_spans(TEXT)
    assert [TEXT[s:e] for s, e in spans] == [
        "First sentence here.",
        "Second one is longer than the first!",
        "Third?",
        "Fourth.",
        "New paragraph starts.",
        "End.",
    ]


def test_sentence_spans_respect_a_window():
    start = TEXT.index("New")
    assert [TEXT[s:e] for s, e in sentence_spans(TEXT, start, len(TEXT))] == ["New paragraph starts.", "End."]


def test_pack_spans_keeps_each_chunk_within_size_and_covers_every_sentence():
    spans = sentence_spans(TEXT)
    chunks = pack_spans(TEXT, spans, fits=lambda s, e: e - s <= 45)
    assert all(e - s <= 45 for s, e in chunks)
    joined = " ".join(TEXT[s:e] for s, e in chunks)
    for s, e in spans:
        assert TEXT[s:e] in joined


def test_pack_spans_overlap_repeats_trailing_sentences():
    text = "Aa aa. Bb bb. Cc cc. Dd dd. Ee ee."
    chunks = pack_spans(text, sentence_spans(text), fits=lambda s, e: e - s <= 20, overlap=7)
    pieces = [text[s:e] for s, e in chunks]
    assert pieces[0] == "Aa aa. Bb bb. Cc cc."
    assert pieces[1].startswith("Cc cc.")  # the last sentence of the previous chunk carries over
    assert pieces[-1].endswith("Ee ee.")


def test_a_sentence_longer_than_the_size_is_cut_at_word_boundaries():
    text = "word " * 50
    chunks = pack_spans(text, sentence_spans(text), fits=lambda s, e: e - s <= 23)
    assert all(e - s <= 23 for s, e in chunks)
    assert all(text[s:e].split() == ["word"] * len(text[s:e].split()) for s, e in chunks)
    assert sum(len(text[s:e].split()) for s, e in chunks) == 50


def test_a_huge_word_is_cut_anywhere_but_nothing_is_lost():
    text = "x" * 100
    chunks = pack_spans(text, sentence_spans(text), fits=lambda s, e: e - s <= 30)
    assert "".join(text[s:e] for s, e in chunks) == text
