"""A re-run skips a file before parsing when its bytes, the chunk settings and the stored chunks all match its record
(real model, real LanceDB): the parse worker is not called for it, and anything that breaks the match re-parses it."""

from __future__ import annotations

import pytest

from dataflows.stores import lancedb as lancedb_store
from ragkit.errors import DiskFullError
from ragkit.parsers import ParseWorker
from ragkit.schema import Document, InputFile
from workbench import api
from workbench.catalog import Catalog
from workbench.indexes import index_key_for
from workbench.ingesting import file_settings

TEXTS = {
    "alpha.txt": "Alpha centauri is the closest star system to the Sun, about 4.37 light years away.",
    "notes/beta.md": "# Beta\n\nBeta decay turns a neutron into a proton, emitting an electron and an antineutrino.",
    "gamma.txt": "Gamma rays are the most energetic photons, produced by radioactive decay and cosmic events.",
    "delta.txt": "A river delta forms where a river deposits sediment as it enters slower water.",
}


def _files(texts: dict[str, str]) -> list[InputFile]:
    return [InputFile(name, text.encode()) for name, text in texts.items()]


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names the parse worker is asked to extract, in order (the worker still runs for real)."""
    names: list[str] = []
    real_extract = ParseWorker.extract

    def extract(self, name, data):
        names.append(name)
        return real_extract(self, name, data)

    monkeypatch.setattr(ParseWorker, "extract", extract)
    return names


def _table(config: dict):
    resolved = api.resolve_config(config)
    return lancedb_store.existing_index(lancedb_store.store_client(resolved["vector_db_config"]), resolved["index_name"])


def _stored_ids(config: dict) -> set[str]:
    return set(_table(config).to_arrow()["chunk_id"].to_pylist())


def _expected_ids(config: dict, texts: dict[str, str]) -> set[str]:
    chunks, errors = api.preview_chunks(config, files=_files(texts))
    assert errors == []
    return {chunk.chunk_id for chunk in chunks}


def test_a_rerun_of_unchanged_files_parses_none_of_them_and_keeps_the_index_exact(files_config, parsed):
    first = api.ingest(files_config, files=_files(TEXTS))
    assert sorted(parsed) == sorted(TEXTS) and first["counts"]["skipped_files"] == 0
    parsed.clear()
    again = api.ingest(files_config, files=_files(TEXTS))
    assert parsed == []  # not one file went to the parse worker
    counts = again["counts"]
    assert counts["skipped_files"] == counts["read"] == len(TEXTS)
    assert counts["chunked"] == counts["embedded"] == counts["written"] == counts["deleted_stale"] == 0
    assert counts["skipped_unchanged"] == first["counts"]["written"]
    assert _stored_ids(files_config) == _expected_ids(files_config, TEXTS)


def test_a_changed_file_alone_is_parsed_and_replaced(files_config, parsed):
    api.ingest(files_config, files=_files(TEXTS))
    parsed.clear()
    changed = {**TEXTS, "gamma.txt": "Gamma is the third letter of the Greek alphabet."}
    record = api.ingest(files_config, files=_files(changed))
    assert parsed == ["gamma.txt"]
    assert record["counts"]["skipped_files"] == len(TEXTS) - 1
    assert record["counts"]["written"] >= 1 and record["counts"]["deleted_stale"] >= 1
    assert _stored_ids(files_config) == _expected_ids(files_config, changed)
    parsed.clear()
    api.ingest(files_config, files=_files(changed))
    assert parsed == []  # the new bytes were recorded with the batch


def test_a_file_whose_chunks_left_the_store_is_parsed_again(files_config, parsed):
    api.ingest(files_config, files=_files(TEXTS))
    document_id = Document.id_for_file("alpha.txt")
    _table(files_config).delete(f"document_id = '{document_id}'")  # behind the workbench's back: the record is now wrong
    parsed.clear()
    record = api.ingest(files_config, files=_files(TEXTS))
    assert parsed == ["alpha.txt"]
    assert record["counts"]["written"] >= 1
    assert _stored_ids(files_config) == _expected_ids(files_config, TEXTS)


def test_a_deleted_document_is_forgotten_and_its_file_parsed_on_the_next_run(files_config, parsed):
    api.ingest(files_config, files=_files(TEXTS))
    api.delete_documents(files_config, [Document.id_for_file("notes/beta.md")])
    parsed.clear()
    api.ingest(files_config, files=_files(TEXTS))
    assert parsed == ["notes/beta.md"]
    assert _stored_ids(files_config) == _expected_ids(files_config, TEXTS)


def test_other_chunk_settings_parse_every_file_again(files_config, parsed):
    api.ingest(files_config, files=_files(TEXTS))
    parsed.clear()
    config = {**files_config, "chunk_size": 60, "chunk_overlap": 0}
    record = api.ingest(config, files=_files(TEXTS))
    assert sorted(parsed) == sorted(TEXTS) and record["counts"]["skipped_files"] == 0
    assert _stored_ids(config) == _expected_ids(config, TEXTS)


def test_a_run_that_fails_mid_way_records_only_the_files_it_stored(files_config, parsed, monkeypatch):
    import errno

    from lancedb.table import LanceTable  # every new row is written by an add

    config = {**files_config, "ingest_batch_documents": 2}
    real_add = LanceTable.add
    writes: list[int] = []

    def disk_full_on_the_second_write(self, new_data, *args, **kwargs):
        writes.append(new_data.num_rows)
        if len(writes) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_add(self, new_data, *args, **kwargs)

    monkeypatch.setattr(LanceTable, "add", disk_full_on_the_second_write)
    with pytest.raises(DiskFullError):
        api.ingest(config, files=_files(TEXTS))
    monkeypatch.setattr(LanceTable, "add", real_add)
    resolved = api.resolve_config(config)
    records = Catalog(resolved["data_dir"]).file_records(
        index_key_for(resolved), file_settings(resolved), [Document.id_for_file(name) for name in TEXTS])
    stored_documents = {row["document_id"] for row in _table(config).to_arrow().to_pylist()}
    assert len(records) == 2 and set(records) == stored_documents  # the first batch's files, not the failed one's
    parsed.clear()
    record = api.ingest(config, files=_files(TEXTS))
    assert sorted(parsed) == sorted(name for name in TEXTS if Document.id_for_file(name) not in records)
    assert record["counts"]["skipped_files"] == 2
    assert _stored_ids(config) == _expected_ids(config, TEXTS)
