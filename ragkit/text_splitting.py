"""Sentence-aligned splitting of text into spans (start, end) of the original string.

Every function returns offsets, never copies, so a chunk always maps back to its source:
`text[start:end]` is the chunk. Sizes are in characters unless a `measure` is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Span = tuple[int, int]

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before white space,
# or at a blank line.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)\]]*\s+|\n\s*\n")
_WORD_BREAK = re.compile(r"\s+")


def strip_span(text: str, start: int, end: int) -> Span:
    """The span with white space at both ends left out."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentences of `text[start:end]` as stripped spans; white space between them belongs to none."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    position = start
    for match in _SENTENCE_END.finditer(text, start, end):
        span = strip_span(text, position, match.start() if match.group().startswith("\n") else match.end())
        if span[1] > span[0]:
            spans.append(span)
        position = match.end()
    span = strip_span(text, position, end)
    if span[1] > span[0]:
        spans.append(span)
    return spans


def _split_long_span(text: str, span: Span, fits: Callable[[int, int], bool]) -> list[Span]:
    """Cut one over-long span at word boundaries (or anywhere, for a single huge word) so each piece fits."""
    pieces: list[Span] = []
    start, end = span
    while start < end:
        if fits(start, end):
            pieces.append((start, end))
            break
        # Largest prefix that fits, by binary search on the end offset.
        low, high = start + 1, end
        while low < high:
            middle = (low + high + 1) // 2
            if fits(start, middle):
                low = middle
            else:
                high = middle - 1
        cut = low
        breaks = [m.start() for m in _WORD_BREAK.finditer(text, start, cut)]
        if breaks and breaks[-1] > start:
            cut = breaks[-1]
        piece = strip_span(text, start, cut)
        if piece[1] > piece[0]:
            pieces.append(piece)
        start = strip_span(text, cut, end)[0]
    return pieces


def _last_fitting(units: list[Span], first: int, fits: Callable[[int, int], bool]) -> int:
    """The last unit index such that units[first..index] fit together (at least `first`), by galloping then binary
    search: O(log n) calls of `fits` per chunk instead of one per unit, so a document of many tiny units (50,000
    one-word paragraphs) costs a few measurements per chunk, whatever `fits` costs (a tokenizer call).
    Relies on `fits` being monotone: a longer span never fits when a shorter one with the same start does not."""
    start = units[first][0]
    low, step = first, 1  # units[first..low] fit
    while low + step < len(units) and fits(start, units[low + step][1]):
        low, step = low + step, step * 2
    high = min(low + step, len(units))  # units[first..high] do not fit (or high is past the end)
    while high - low > 1:
        middle = (low + high) // 2
        if fits(start, units[middle][1]):
            low = middle
        else:
            high = middle
    return low


def pack_spans(
    text: str,
    spans: list[Span],
    fits: Callable[[int, int], bool],
    overlap: int = 0,
) -> list[Span]:
    """Greedily join consecutive sentence spans into chunks for which `fits(start, end)` holds.

    A sentence that does not fit alone is cut at word boundaries. Each chunk after the first
    starts with the trailing sentences of the previous chunk whose length is at most `overlap`
    characters, so context carries across the cut.
    """
    units: list[Span] = []
    for span in spans:
        units.extend([span] if fits(*span) else _split_long_span(text, span, fits))
    chunks: list[Span] = []
    index = 0
    while index < len(units):
        first = index
        end_index = _last_fitting(units, first, fits)
        chunks.append((units[first][0], units[end_index][1]))
        if end_index + 1 >= len(units):
            break
        # Step back over trailing sentences that fit in the overlap, but always move forward.
        next_index = end_index + 1
        while (
            overlap
            and next_index - 1 > first
            and units[end_index][1] - units[next_index - 1][0] <= overlap
            and fits(units[next_index - 1][0], units[end_index + 1][1])
        ):
            next_index -= 1
        index = next_index
    return chunks
