"""The one redaction point: every secret value in play, replaced wherever it appears in text leaving the process.

API keys are registered as they are resolved (`workbench.keys.resolve_api_keys`: the environment, secrets.toml
and the session's fields), and `redact` replaces each of them, or any run of at least `_FRAGMENT` of its
characters (a service that truncates or masks an echoed key), with `[redacted]`. Everything that leaves the
process passes through it: `WorkbenchError` messages (`ragkit.errors`), every text column the catalog writes,
the CLI's output writer, the page's error boxes, and every log record of every logger (a log-record factory,
installed with the first secret, so a record is clean before any handler sees it).

Text that arrives in pieces (an LLM's streamed answer) goes through `redact_stream`: a key split across two
pieces is in neither, so each piece is redacted only once no secret can still be completing at its end.

Only known values are replaced: guessing at key-shaped strings would mangle documents that merely look like
keys, and a key the process never saw cannot be in its messages except by echo of one it did.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

REDACTED = "[redacted]"
_MIN_SECRET = 8  # shorter values are not treated as secrets: replacing "abc" everywhere would garble every message
_FRAGMENT, _STRIDE = 12, 4  # pieces of each secret looked for: so any run of 15 of its characters is found
_KEY_CHARACTER = re.compile(r"[A-Za-z0-9_\-.~+/=*]")  # a piece found is widened over the token around it

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_factory_installed = False


def register_secret(value: str | None) -> None:
    """Remember a secret value (an API key) so that `redact` replaces it from now on; short or empty values are ignored."""
    register_secrets([value] if value else [])


def register_secrets(values: Iterable[str | None]) -> None:
    """Remember several secret values at once (see `register_secret`)."""
    global _pattern
    fresh = {str(value).strip() for value in values if value and len(str(value).strip()) >= _MIN_SECRET}
    with _lock:
        if fresh <= _secrets:
            return
        _secrets.update(fresh)
        _pattern = _compile(_secrets)
    _install_log_redaction()


def known_secret_count() -> int:
    """How many secret values are registered (for tests and diagnostics; the values themselves are never handed out)."""
    return len(_secrets)


def _compile(secrets: set[str]) -> re.Pattern[str]:
    """One pattern of literals: every whole secret (longest first), then pieces of each at a fixed stride."""
    pieces = {secret[start:start + _FRAGMENT] for secret in secrets
              for start in range(0, max(1, len(secret) - _FRAGMENT + 1), _STRIDE)}
    pieces |= {secret[-_FRAGMENT:] for secret in secrets}
    literals = sorted(secrets | pieces, key=len, reverse=True)
    return re.compile("|".join(re.escape(literal) for literal in literals))


def redact(text: str) -> str:
    """The text with every registered secret, and every token holding a long enough piece of one, as `[redacted]`."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    spans: list[list[int]] = []
    for match in pattern.finditer(text):
        start, end = match.span()
        while start > 0 and _KEY_CHARACTER.match(text, start - 1):
            start -= 1
        while end < len(text) and _KEY_CHARACTER.match(text, end):
            end += 1
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    if not spans:
        return text
    pieces, position = [], 0
    for start, end in spans:
        pieces += [text[position:start], REDACTED]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def redact_stream(pieces: Iterable[str]) -> Iterator[str]:
    """The pieces of a streamed text, redacted as their joined text would be (`redact`), with nothing lost or reordered.

    A secret split across pieces ("sk-abc" + "def…") is redacted whole: the text is let out only up to a point
    where no secret can be completing, so the last token (a run of key characters) and any tail that could be
    the start of a registered secret are held back until the next piece, or the end, decides them. Each piece
    let out ends at a token boundary outside every match, so redacting it alone gives what redacting the whole
    text would. Without registered secrets the pieces pass through as they come.
    """
    held = ""
    for piece in pieces:
        if not piece:
            continue
        if _pattern is None and not held:
            yield piece
            continue
        held += piece
        cut = _safe_cut(held)
        if cut:
            yield redact(held[:cut])
            held = held[cut:]
    if held:
        yield redact(held)


def _safe_cut(text: str) -> int:
    """The longest prefix of a streamed text that can be redacted and let out now (0: hold it all)."""
    secrets = tuple(_secrets)
    cut = len(text)
    for length in range(min(len(text), max(map(len, secrets), default=0)), 0, -1):
        if any(text[-length:] in secret for secret in secrets):  # the tail could be a secret (or a piece) still arriving
            cut = len(text) - length
            break
    pattern = _pattern
    while True:
        start = cut
        while start > 0 and _KEY_CHARACTER.match(text, start - 1) and (start == len(text) or _KEY_CHARACTER.match(text, start)):
            start -= 1  # never inside a token: `redact` widens a match over the token around it
        if pattern is not None:
            for match in pattern.finditer(text):
                if match.start() < start < match.end():  # a whole secret straddling the cut (one holding non-key characters)
                    start = match.start()
        if start == cut:
            return cut
        cut = start


def redact_value(value: Any) -> Any:
    """A JSON-like value (dicts, lists, tuples, strings) with `redact` applied to every string in it, keys included."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(key): redact_value(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(inner) for inner in value)
    return value


def _install_log_redaction() -> None:
    """Wrap the log-record factory once: each record's message (arguments merged in) and traceback text are redacted."""
    global _factory_installed
    with _lock:
        if _factory_installed:
            return
        _factory_installed = True
        original = logging.getLogRecordFactory()

    def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = original(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(_redacting_factory)


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a record that cannot be formatted is left for the handler to report
        message = f"{record.msg!r} {record.args!r}"
    record.msg, record.args = redact(message), ()
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
