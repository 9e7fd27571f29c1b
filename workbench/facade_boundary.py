"""The Python facade's error boundary: what leaves `workbench.api` carries no secret, whatever raised it.

Expected failures are `WorkbenchError`s where they happen (a setting refused by `resolve_config`, a damaged
catalog, a missing index, a service's refusal), and their messages are redacted when they are made
(`ragkit.errors`). The boundary is for the rest. Failures of the machine or of damaged state that a library raised (a full disk, a file
that may not be written, damaged LanceDB files, input nested too deeply) become their `WorkbenchError` here
(`ragkit.failures`); any other exception a library raised that nothing turned into a `WorkbenchError` is a bug, and keeps its type and traceback so it can be reported and fixed, but its text (and
that of every exception chained under it) is redacted before it reaches the caller, who may log or show it.
The CLI's and the pages' boundaries show such an error as one line; this one makes sure that line is clean.

A function's lazy results (the answer `stream` of `answer`) raise while they are consumed, after the call
returned: those streams redact themselves (`ragkit.redaction.redact_stream`, `ServiceError`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from ragkit.errors import WorkbenchError
from ragkit.failures import exception_chain, expected_failure
from ragkit.redaction import redact, redact_value

_Function = TypeVar("_Function", bound=Callable[..., Any])
_TEXT_ATTRIBUTES = ("strerror", "filename", "filename2", "msg", "reason", "detail", "message")


class UnexpectedError(WorkbenchError):
    """An unexpected error whose text could not be redacted in place (its own `__str__`), told by type only."""


def facade_boundary(function: _Function) -> _Function:
    """`function` behind the facade's boundary: a `WorkbenchError` passes as it is; any other exception leaves with
    its text, and its chained exceptions' text, redacted (see the module docstring)."""

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except WorkbenchError:
            raise
        except Exception as error:
            _redact_in_place(error)
            expected = expected_failure(error)  # a full disk, a read-only file, damaged index files, input too deep
            if expected is not None:
                raise expected from error
            if redact(str(error)) != str(error):
                raise UnexpectedError(f"unexpected {type(error).__name__} in {function.__name__} (its message held a "
                                      "secret and is not shown). This is a bug: please report it.") from None
            raise

    bounded.__facade_boundary__ = True  # type: ignore[attr-defined]
    return bounded  # type: ignore[return-value]


def _redact_in_place(error: BaseException) -> None:
    """Redact the arguments and text attributes of an exception and of every exception chained under it."""
    for current in exception_chain(error):
        try:
            current.args = tuple(redact_value(argument) for argument in current.args)
        except (AttributeError, TypeError):
            pass
        for attribute in _TEXT_ATTRIBUTES:
            value = getattr(current, attribute, None)
            if isinstance(value, str) and redact(value) != value:
                try:
                    setattr(current, attribute, redact(value))
                except (AttributeError, TypeError):
                    pass
