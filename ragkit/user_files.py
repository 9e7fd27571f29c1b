"""Reading a file a user named (an input document, a --config file, a SQuAD file, a conversation, secrets.toml): the
file's kind and size are checked before it is read, so a FIFO, socket, device or folder is refused at once (a FIFO
would block `open()` forever, /dev/zero would fill memory) and a file over its limit is never read whole."""

from __future__ import annotations

import gzip
import io
import os
import stat
from pathlib import Path

from ragkit.errors import FileParseError

_SPECIAL_FILES = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                  (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def check_regular(mode: int) -> None:
    """FileParseError unless `mode` is a regular file's: a FIFO, socket, device or folder is never read (a FIFO would block)."""
    if not stat.S_ISREG(mode):
        kind = next((label for test, label in _SPECIAL_FILES if test(mode)), "a special file")
        raise FileParseError(f"not a regular file: it is {kind}; only regular files are read")


def too_large(size: int, max_bytes: int, setting: str) -> FileParseError:
    """The error for a file over its limit, naming the setting that sets it."""
    return FileParseError(f"too large: {size / 2**20:,.1f} MB, over the limit of {max_bytes / 2**20:,.0f} MB per file "
                          f"({setting}); split the file or raise the limit")


def read_regular_file(path: str | Path, max_bytes: int, setting: str = "max_file_mb") -> bytes:
    """The bytes of a regular file of at most `max_bytes`; FileParseError for any other kind of file, or a larger one
    (not read); OSError when it cannot be opened. Opened without blocking and checked again on the open descriptor, so
    a FIFO swapped in meanwhile never hangs the caller."""
    path = os.path.expanduser(str(path))
    check_regular(os.stat(path).st_mode)
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)), "rb") as handle:
        info = os.fstat(handle.fileno())
        check_regular(info.st_mode)
        if info.st_size > max_bytes:
            raise too_large(info.st_size, max_bytes, setting)
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileParseError(f"too large: over the limit of {max_bytes / 2**20:,.0f} MB per file ({setting})")
    return data


def read_text_file(path: str | Path, max_bytes: int, setting: str, gzipped: bool = False) -> str:
    """A regular file's UTF-8 text (decompressed first when `gzipped`, to at most `max_bytes` as well)."""
    data = read_regular_file(path, max_bytes, setting)
    if gzipped:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacked:
            data = unpacked.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise FileParseError(f"too large once decompressed: over {max_bytes / 2**20:,.0f} MB ({setting})")
    return data.decode("utf-8")
