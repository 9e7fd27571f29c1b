"""Chunking: documents → sentence-aligned chunks that fit the embedding model's input.

Sizes are in characters (`chunk_size`, `chunk_overlap`); a second pass measures every chunk with
the embedding model's own tokenizer and splits any chunk over the model's input limit, so no
text is ever silently truncated by the model. Chunk ids are deterministic from the document id
and the chunk's content, so re-ingesting the same input finds the same ids.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

from hamilton.function_modifiers import ResolveAt, check_output_custom, resolve

from dataflows._quality import ChunksAreValid
from ragkit.schema import Chunk, Document, sha256_hex
from ragkit.text_splitting import pack_spans, sentence_spans


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


def _piece(document: Document, page: int, start: int, end: int) -> Chunk:
    text = document.text[start:end]
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
        content_hash=sha256_hex(text),
        question_ids=document.question_ids,
    )


def sized_chunks(
    documents: list[Document],
    chunk_size: int = 800,
    chunk_overlap: int = 100,
    split_squad_paragraphs: bool = False,
) -> list[Chunk]:
    """Split each page into sentence-aligned chunks of at most `chunk_size` characters, overlapping by up to `chunk_overlap`; SQuAD paragraphs stay whole unless asked."""
    pieces: list[Chunk] = []
    for document in documents:
        for page in document.pages:
            if document.source_kind == "squad" and not split_squad_paragraphs:
                spans = [(page.start, page.end)]
            else:
                spans = pack_spans(
                    document.text,
                    sentence_spans(document.text, page.start, page.end),
                    fits=lambda start, end: end - start <= chunk_size,
                    overlap=chunk_overlap,
                )
            pieces.extend(_piece(document, page.number, start, end) for start, end in spans)
    return _assign_ids(pieces)


_COUNT_BATCH = 256  # texts measured per tokenizer call: the tokenizer's working memory stays bounded whatever the document's size
_SPECIAL_TOKENS = 2  # a tokenizer adds at most this many tokens (e.g. [CLS], [SEP]) to a text's own


def _fit_to_limit(chunk: Chunk, count_tokens: Callable[[str], int], limit: int) -> list[Chunk]:
    text = chunk.text

    def fits(start: int, end: int) -> bool:
        # No tokenizer makes more tokens than a text has UTF-8 bytes (plus its special tokens): short spans need no call.
        piece = text[start:end]
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
                content_hash=sha256_hex(part_text),
                token_count=count_tokens(part_text),
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
    """The chunks to embed: each measured with the model's tokenizer, and any over the model's input limit split at sentence, then word, boundaries."""
    counts = [count for start in range(0, len(sized_chunks), _COUNT_BATCH)
              for count in token_counts([chunk.text for chunk in sized_chunks[start : start + _COUNT_BATCH]])]
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
