"""Bytes on disk: of a folder, and the share of an index's files by what they hold (vectors, full-text index, payload)."""

from __future__ import annotations

import os
from pathlib import Path

FLOAT32_BYTES = 4


def folder_bytes(path: str | Path) -> int:
    """The bytes of every file under a folder (a file: its size; a missing path: 0). Symbolic links are not followed."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:  # a file removed while walking (compaction)
                continue
    return total


def raw_vector_bytes(rows: int, dimension: int) -> int:
    """The bytes of `rows` float32 vectors of `dimension`: what a store that keeps vectors uncompressed holds for them."""
    return int(rows) * int(dimension) * FLOAT32_BYTES
