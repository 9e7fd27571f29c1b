"""Counts in words, for the pages and the command line alike."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """'1 chunk', '2 chunks', '1,200 chunks'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def page_count(pages: int | None) -> str:
    """'1 page', '12 pages', or 'no pages' for a document without pages (text, Markdown, HTML, a SQuAD paragraph)."""
    return plural(pages, "page") if pages else "no pages"
