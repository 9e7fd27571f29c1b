"""Chunking: documents → sentence-aligned chunks that fit the embedding model's input.

Sizes are in characters (`chunk_size`, `chunk_overlap`); a second pass measures every chunk with
the embedding model's own tokenizer and splits any chunk over the model's input limit, so no
text is ever silently truncated by the model. Chunk ids are deterministic from the document id
and the chunk's content, so re-ingesting the same input finds the same ids.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

from hamilton.function_modifiers import ResolveAt, check_output_custom, resolve

from dataflows._quality import ChunksAreValid
from ragkit.schema import SECTION_SEPARATOR, Chunk, Document, Heading, Page, sha256_hex
from ragkit.text_splitting import pack_spans, sentence_spans, strip_span


def _assign_ids(pieces: list[Chunk]) -> list[Chunk]:
    """Number chunks per document and give each an id from (document, content, occurrence)."""
    index_by_document: dict[str, int] = defaultdict(int)
    seen: dict[tuple[str, str], int] = defaultdict(int)
    result = []
    for piece in pieces:
        occurrence = seen[(piece.document_id, piece.content_hash)]
        seen[(piece.document_id, piece.content_hash)] += 1
        suffix = sha256_hex(piece.document_id, piece.content_hash, str(occurrence))[:16]
        result.append(
            replace(piece, chunk_id=f"{piece.document_id}-{suffix}", chunk_index=index_by_document[piece.document_id])
        )
        index_by_document[piece.document_id] += 1
    return result


def _content_hash(text: str, context: str, section: str) -> str:
    """The hash of what a chunk indexes: its text alone when it has no header and no section (the ids of
    chunks made before sections existed stay the same), else its header, text and section."""
    return sha256_hex(text) if not context and not section else sha256_hex(context + text, section)


def _context(title: str, section: str, contextual_headers: bool) -> str:
    """The contextual header embedded and indexed before a chunk's text: "Title › Section › Subsection" and a blank line."""
    if not contextual_headers:
        return ""
    title = " ".join(title.split())
    repeated = section == title or section.startswith(title + SECTION_SEPARATOR)  # the top heading is the title
    path = section if repeated else SECTION_SEPARATOR.join(part for part in (title, section) if part)
    return f"{path}\n\n" if path else ""


def _piece(document: Document, page: int, start: int, end: int, section: str, contextual_headers: bool) -> Chunk:
    text = document.text[start:end]
    context = _context(document.title, section, contextual_headers)
    return Chunk(
        chunk_id="",
        document_id=document.document_id,
        source_kind=document.source_kind,
        source_name=document.source_name,
        title=document.title,
        page=page,
        chunk_index=0,
        char_start=start,
        char_end=end,
        text=text,
        content_hash=_content_hash(text, context, section),
        question_ids=document.question_ids,
        section=section,
        context=context,
    )


class _Sections:
    """The heading path at any offset of a document: each heading's path is its open ancestors and itself."""

    def __init__(self, headings: tuple[Heading, ...]) -> None:
        stack: list[Heading] = []
        self.offsets: list[int] = []
        self.paths: list[str] = []
        for heading in headings:
            while stack and stack[-1].level >= heading.level:
                stack.pop()
            stack.append(heading)
            self.offsets.append(heading.offset)
            self.paths.append(SECTION_SEPARATOR.join(h.text for h in stack))

    def of_span(self, start: int, end: int) -> str:
        """The section of a span: that of its first heading, else the one open where it starts."""
        first = bisect.bisect_left(self.offsets, start)
        if first < len(self.offsets) and self.offsets[first] < end:
            return self.paths[first]
        return self.paths[first - 1] if first else ""


def _is_slide_deck(pages: tuple[Page, ...], chunk_size: int) -> bool:
    """Pages (a PDF's, not the one page 0 of other formats) whose median text fits one chunk: slides, not a manual's pages."""
    lengths = sorted(page.end - page.start for page in pages if page.number > 0)
    return bool(lengths) and lengths[len(lengths) // 2] <= chunk_size


_PAGE, _SLIDE, _RUN = "page", "slide", "run"


def _page_groups(pages: tuple[Page, ...], chunk_size: int, keep_slides: bool) -> list[tuple[int, int, str]]:
    """(start, end, kind) ranges to chunk: a page; in a slide deck, a slide-sized page kept whole ("slide"), or, without
    `keep_slides`, a run of consecutive slide-sized pages packed together ("run"), so its chunks may span slides."""
    if not _is_slide_deck(pages, chunk_size):
        return [(page.start, page.end, _PAGE) for page in pages]
    groups: list[tuple[int, int, str]] = []
    run: tuple[int, int] | None = None  # an open run of slide-sized pages (without keep_slides)
    for page in pages:
        small = page.end - page.start <= chunk_size
        if keep_slides or not small:
            if run:
                groups.append((*run, _RUN))
                run = None
            groups.append((page.start, page.end, _SLIDE if small else _PAGE))
        else:
            run = (run[0] if run else page.start, page.end)
    if run:
        groups.append((*run, _RUN))
    return groups


def sized_chunks(
    documents: list[Document],
    chunk_size: int = 800,
    chunk_overlap: int = 100,
    split_squad_paragraphs: bool = False,
    chunk_by_sections: bool = True,
    keep_slides: bool = True,
    contextual_headers: bool = True,
) -> list[Chunk]:
    """Split each page into sentence-aligned chunks of at most `chunk_size` characters, overlapping by up to `chunk_overlap`, cut at headings and labelled with their section path; a slide stays one chunk, SQuAD paragraphs stay whole unless asked."""
    pieces: list[Chunk] = []
    fits = lambda start, end: end - start <= chunk_size  # noqa: E731
    for document in documents:
        sections = _Sections(document.headings)
        cuts = [heading.offset for heading in document.headings] if chunk_by_sections else []
        page_starts = [page.start for page in document.pages]
        if document.source_kind == "squad" and not split_squad_paragraphs:
            groups = [(page.start, page.end, _SLIDE) for page in document.pages]
        else:
            groups = _page_groups(document.pages, chunk_size, keep_slides)
        for start, end, kind in groups:
            if kind == _SLIDE:
                spans = [strip_span(document.text, start, end)]
            else:  # a page is cut at its headings; a run of slides is packed across them
                bounds = [start, *(cut for cut in cuts if start < cut < end and kind == _PAGE), end]
                spans = [span for left, right in zip(bounds, bounds[1:]) for span in pack_spans(
                    document.text, sentence_spans(document.text, left, right), fits=fits, overlap=chunk_overlap)]
            for left, right in spans:
                if right <= left:
                    continue
                page = document.pages[max(0, bisect.bisect_right(page_starts, left) - 1)].number
                pieces.append(_piece(document, page, left, right, sections.of_span(left, right), contextual_headers))
    return _assign_ids(pieces)


_COUNT_BATCH = 256  # texts measured per tokenizer call: the tokenizer's working memory stays bounded whatever the document's size
_SPECIAL_TOKENS = 2  # a tokenizer adds at most this many tokens (e.g. [CLS], [SEP]) to a text's own


def _fit_to_limit(chunk: Chunk, count_tokens: Callable[[str], int], limit: int) -> list[Chunk]:
    text, context = chunk.text, chunk.context
    if context and 2 * count_tokens(context) > limit:  # a header that would take over half the model's input is left out
        context = ""

    def fits(start: int, end: int) -> bool:
        # No tokenizer makes more tokens than a text has UTF-8 bytes (plus its special tokens): short spans need no call.
        piece = context + text[start:end]
        return len(piece.encode("utf-8", "surrogatepass")) + _SPECIAL_TOKENS <= limit or count_tokens(piece) <= limit

    spans = pack_spans(text, sentence_spans(text), fits=fits)
    parts = []
    for start, end in spans:
        part_text = text[start:end]
        parts.append(
            replace(
                chunk,
                char_start=chunk.char_start + start,
                char_end=chunk.char_start + end,
                text=part_text,
                context=context,
                content_hash=_content_hash(part_text, context, chunk.section),
                token_count=count_tokens(context + part_text),
            )
        )
    return parts


@resolve(
    when=ResolveAt.CONFIG_AVAILABLE,
    decorate_with=lambda data_quality="fail": check_output_custom(ChunksAreValid(importance=data_quality)),
)
def chunks(
    sized_chunks: list[Chunk],
    token_counts: Callable[[list[str]], list[int]],
    max_input_tokens: int,
) -> list[Chunk]:
    """The chunks to embed: each measured (with its contextual header) with the model's tokenizer, and any over the model's input limit split at sentence, then word, boundaries."""
    counts = [count for start in range(0, len(sized_chunks), _COUNT_BATCH)
              for count in token_counts([chunk.indexed_text for chunk in sized_chunks[start : start + _COUNT_BATCH]])]
    result: list[Chunk] = []
    count_one = lambda text: token_counts([text])[0]  # noqa: E731 - only for the rare over-long chunk
    for chunk, count in zip(sized_chunks, counts):
        if count <= max_input_tokens:
            result.append(replace(chunk, token_count=count, token_limit=max_input_tokens))
        else:
            result.extend(
                replace(part, token_limit=max_input_tokens) for part in _fit_to_limit(chunk, count_one, max_input_tokens)
            )
    return _assign_ids(result)
