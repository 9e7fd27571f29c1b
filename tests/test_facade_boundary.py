"""The Python facade's error boundary (`workbench.facade_boundary`): every public function of `workbench.api` is
behind it; expected failures come out as one-line `WorkbenchError`s; an unexpected error keeps its type but
carries no secret, in its message, its chained errors or its traceback."""

from __future__ import annotations

import inspect
import sqlite3
import traceback
from pathlib import Path

import pytest

from ragkit.errors import CatalogError, ConfigError, IndexNotFoundError, WorkbenchError
from ragkit.redaction import register_secret
from workbench import api, catalog
from workbench.facade_boundary import UnexpectedError, facade_boundary

SECRET = "sk-wbtest-FACADE-0b7c1d9e2f3a4b5c6d"


def test_every_public_function_of_the_facade_is_behind_the_boundary():
    functions = [name for name in api.__all__ if inspect.isfunction(getattr(api, name))]
    assert len(functions) > 40  # the walk sees the facade, not an empty list
    assert [name for name in functions if not getattr(getattr(api, name), "__facade_boundary__", False)] == []


def _garbage_catalog(folder: Path) -> str:
    folder.mkdir()
    (folder / "catalog.sqlite").write_bytes(b"not a database " * 100)
    return str(folder)


@pytest.mark.parametrize(("call", "expected"), [
    (lambda d: api.search({"data_dir": str(d), "index_name": "../up"}, "q"), ConfigError),
    (lambda d: api.search({"data_dir": str(d), "index_name": "x" * 5000}, "q"), ConfigError),
    (lambda d: api.search({"data_dir": str(d), "index_name": "docs"}, "q", top_k=0), ConfigError),
    (lambda d: api.resolve_config({"data_dir": str(d), "chunk_size": "big"}), ConfigError),
    (lambda d: api.resolve_config({"data_dir": str(d), "limit": -1}), ConfigError),
    (lambda d: api.resolve_config({"data_dir": str(d), "embedding_batch_size": -1}), ConfigError),
    (lambda d: api.runs(str(d / "catalog.sqlite")) if (d / "catalog.sqlite").write_text("x") else None, ConfigError),
    (lambda d: api.runs(_garbage_catalog(d / "damaged")), CatalogError),
    (lambda d: api.documents({"data_dir": str(d), "index_name": "absent"}), IndexNotFoundError),
    (lambda d: api.delete_documents({"data_dir": str(d), "index_name": "absent"}, ["a.txt"]), IndexNotFoundError),
], ids=["index-name-dotdot", "index-name-long", "top-k-0", "wrong-type", "limit-negative", "batch-negative",
        "data-dir-a-file", "garbage-catalog", "documents-of-no-index", "delete-in-no-index"])
def test_expected_failures_through_the_facade_are_one_line_workbench_errors(call, expected, data_dir):
    with pytest.raises(expected) as caught:
        call(data_dir)
    message = str(caught.value)
    assert message and "\n" not in message and "Traceback" not in message


def test_an_unexpected_error_keeps_its_type_and_loses_the_secret(monkeypatch, data_dir):
    register_secret(SECRET)

    def broken_runs(self, limit: int = 100):
        try:
            raise sqlite3.InterfaceError(f"driver echo: key {SECRET}")
        except sqlite3.InterfaceError as inner:
            raise KeyError(f"lookup failed for {SECRET}") from inner

    monkeypatch.setattr(catalog.Catalog, "runs", broken_runs)
    with pytest.raises(KeyError) as caught:  # a bug stays what it is, with its traceback
        api.runs(str(data_dir))
    printed = "".join(traceback.format_exception(caught.value))
    assert "lookup failed for [redacted]" in printed and "driver echo: key [redacted]" in printed
    assert SECRET not in printed and SECRET[-12:] not in printed


def test_an_error_whose_own_text_cannot_be_redacted_is_told_by_type_only():
    register_secret(SECRET)

    class StubbornError(Exception):
        def __str__(self) -> str:
            return f"computed from state: {SECRET}"

    @facade_boundary
    def leaky() -> None:
        raise StubbornError()

    with pytest.raises(UnexpectedError) as caught:
        leaky()
    assert isinstance(caught.value, WorkbenchError) and "StubbornError" in str(caught.value)
    assert SECRET not in "".join(traceback.format_exception(caught.value))


def test_a_workbench_error_passes_the_boundary_unchanged():
    original = ConfigError("chunk_size must be a whole number")

    @facade_boundary
    def refusing() -> None:
        raise original

    with pytest.raises(ConfigError) as caught:
        refusing()
    assert caught.value is original
