"""Counts in words."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """'1 chunk', '2 chunks', '1,200 chunks'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
