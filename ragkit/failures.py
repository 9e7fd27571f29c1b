"""Failures of the machine and of damaged state, told apart from bugs: the one place that turns what a library raised
into a `WorkbenchError` with a cause and a remedy, used by every entry point's boundary (`workbench.facade_boundary`,
which the CLI and the pages call through) and by the ingestion's failure path (so its run record says the same).

Each kind is recognised anywhere in the exception's chain (a library often wraps the OS's error in its own):

- a full disk or quota (ENOSPC/EDQUOT; SQLite's "database or disk is full" and its "disk I/O error", which is
  what a full tmpfs gives), → `DiskFullError`;
- a file that may not be written (EACCES/EPERM/EROFS, SQLite's "readonly database"/"unable to open database file"),
  → `WorkbenchError` naming permissions;
- damaged LanceDB files (a "lance error" that is not a missing table) → `IndexDamagedError` pointing at `check` and
  `repair`;
- input nested too deeply to read (RecursionError, from JSON thousands of levels deep) and a number too large for
  what reads it (OverflowError) → `ConfigError`.

Anything else is left alone: it is a bug, reported as one as before.
"""

from __future__ import annotations

import errno
import sqlite3

from ragkit.errors import ConfigError, DiskFullError, IndexDamagedError, WorkbenchError

_FULL_DISK_WORDS = ("no space left on device", "database or disk is full", "disk quota exceeded", "disk i/o error")
INDEX_REPAIR = ("`python -m workbench check --index NAME` says what is wrong; "
                "`python -m workbench repair --index NAME --from-sources FILES...` rebuilds it.")
_READ_ONLY_WORDS = ("readonly database", "read-only", "unable to open database file")
_LANCE_WORDS = ("lance error", "lanceerror")


def exception_chain(error: BaseException) -> list[BaseException]:
    """The error and every exception chained under it (its cause, else its context), each once."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def sqlite_cannot_write(error: sqlite3.Error) -> bool:
    """Whether SQLite refused for permissions (a read-only file or folder), not because the file is damaged."""
    return any(words in str(error).lower() for words in _READ_ONLY_WORDS)


def _first_line(error: BaseException, limit: int = 240) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def expected_failure(error: BaseException) -> WorkbenchError | None:
    """The `WorkbenchError` that says what went wrong when `error` (or anything chained under it) is a failure of the
    machine or of damaged state; None for a `WorkbenchError` already, and for anything that is a bug."""
    chain = exception_chain(error)
    if any(isinstance(cause, DiskFullError) for cause in chain):
        return None
    for cause in chain:  # a full disk first: a store's error caused by one is told as what it is
        if (isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT)) or any(
                words in str(cause).lower() for words in _FULL_DISK_WORDS):
            return DiskFullError(f"The disk is full or cannot be written ({_first_line(error)}). Free some space and "
                                 "run the same command again: an ingestion skips what is stored and writes the rest.")
    if any(isinstance(cause, WorkbenchError) for cause in chain):
        return None
    for cause in chain:
        text = str(cause).lower()
        if (isinstance(cause, OSError) and cause.errno in (errno.EACCES, errno.EPERM, errno.EROFS)) or (
                isinstance(cause, sqlite3.Error) and sqlite_cannot_write(cause)):
            return WorkbenchError(f"A file of the data folder cannot be written ({_first_line(cause)}): check that the "
                                  "data folder and the files in it belong to this user and are writable.")
        if any(words in text for words in _LANCE_WORDS) and "not found" not in text:
            return IndexDamagedError(f"The LanceDB files of the index cannot be read ({_first_line(cause)}). {INDEX_REPAIR}")
        if isinstance(cause, RecursionError):
            return ConfigError("The input is nested too deeply to read (JSON thousands of levels deep): "
                               "give a file of the documented shape.")
        if isinstance(cause, OverflowError):
            return ConfigError(f"A number is too large ({_first_line(cause)}): give a value in the documented range.")
    return None
