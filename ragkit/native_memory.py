"""The process's native allocator (glibc): few malloc arenas, and freed pages handed back after each batch.

LanceDB's, the tokenizer's and Arrow's native threads allocate and free every batch's buffers. glibc gives
each contending thread its own arena (up to eight per core: 16 here after a few LanceDB writes) and keeps
the pages freed in an arena for that arena, so a long ingestion's resident memory crept up batch after
batch although nothing held it. Capping the arenas (set once, before those threads start) and trimming
after each batch keeps it to what the process uses. Where there is no glibc (macOS, Windows, musl) both
are no-ops that return False.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):  # not glibc
        return None
    return libc


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for the threads started from now on (a `MALLOC_ARENA_MAX` set in the
    environment wins: glibc has read it at start); True when the cap is in force."""
    libc = _glibc()
    if libc is None:
        return False
    if os.environ.get("MALLOC_ARENA_MAX"):
        return True
    return bool(libc.mallopt(_M_ARENA_MAX, arenas))


def release_freed_memory() -> bool:
    """Hand memory freed since the last call back to the system (glibc `malloc_trim`); False where there is no glibc."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
