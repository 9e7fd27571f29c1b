"""Ingestion with the embedded default (real model, real LanceDB on disk): idempotence, replacement, lineage, records."""

import json

import pytest

from dataflows.stores import lancedb as lancedb_store
from ragkit.errors import IndexMismatchError, MissingApiKeyError
from ragkit.local_models import DEFAULT_LOCAL_MODEL
from ragkit.schema import STORED_FIELDS, InputFile
from workbench import api

LIGHTHOUSE = (
    "The Pharos of Alexandria was a lighthouse built by the Ptolemaic Kingdom. "
    "It stood on the island of Pharos. Its height is estimated at over 100 metres.\n\n"
    "Earthquakes damaged the lighthouse between 956 and 1323. It became an abandoned ruin."
)
VOLCANO = "Mount Etna is an active stratovolcano on the east coast of Sicily. It is one of the most active volcanoes in the world."


def _table(config):
    resolved = api.resolve_config(config)
    client = lancedb_store.store_client(resolved["vector_db_config"])
    return lancedb_store.existing_index(client, resolved["index_name"])


def _rows(config):
    return _table(config).to_arrow().drop_columns(["vector"]).to_pylist()


def _files(**texts):
    return [InputFile(name=name.replace("_", "."), data=text.encode()) for name, text in texts.items()]


def test_ingest_then_query_finds_the_passage_with_full_lineage(files_config):
    record = api.ingest({**files_config, "chunk_size": 120, "chunk_overlap": 0}, files=_files(pharos_txt=LIGHTHOUSE, etna_md=VOLCANO))
    assert record["status"] == "succeeded"
    counts = record["counts"]
    assert counts["read"] == 2 and counts["failed"] == 0
    assert counts["chunked"] == counts["embedded"] == counts["written"] >= 3
    rows = _rows(files_config)
    assert len(rows) == counts["written"]
    for row in rows:
        assert set(STORED_FIELDS) <= set(row)
        assert row["run_id"] == record["run_id"] and row["model_name"] == DEFAULT_LOCAL_MODEL and row["dimension"] == 384
        assert row["embedding_service"] == "sentence_transformers" and row["ingested_at"]
    source = {"pharos.txt": LIGHTHOUSE, "etna.md": VOLCANO}
    assert all(source[r["source_name"]][r["char_start"] : r["char_end"]] == r["text"] for r in rows)

    result = api.search(files_config, "Which volcano is in Sicily?", top_k=2)
    assert result["hits"][0]["source_name"] == "etna.md"
    assert result["hits"][0]["score"] > result["hits"][1]["score"]
    assert result["latency_ms"]["total"] >= result["latency_ms"]["search"] > 0


def test_reingest_is_a_noop(files_config):
    files = _files(pharos_txt=LIGHTHOUSE, etna_md=VOLCANO)
    first = api.ingest(files_config, files=files)
    version = _table(files_config).version
    second = api.ingest(files_config, files=files)
    assert second["counts"]["written"] == 0 and second["counts"]["embedded"] == 0
    assert second["counts"]["skipped_unchanged"] == first["counts"]["chunked"]
    assert _table(files_config).count_rows() == first["counts"]["written"]
    assert _table(files_config).version == version  # nothing was rewritten


def test_a_changed_document_replaces_its_chunks_and_a_removed_chunk_is_gone(files_config):
    config = {**files_config, "chunk_size": 120, "chunk_overlap": 0}
    api.ingest(config, files=_files(pharos_txt=LIGHTHOUSE, etna_md=VOLCANO))
    before = {r["text"] for r in _rows(config) if r["source_name"] == "pharos.txt"}
    assert any("Earthquakes" in text for text in before)
    changed = LIGHTHOUSE.split("\n\n")[0] + "\n\nToday a museum tells its story."
    record = api.ingest(config, files=_files(pharos_txt=changed))
    after = {r["text"] for r in _rows(config) if r["source_name"] == "pharos.txt"}
    assert not any("Earthquakes" in text for text in after)  # the removed chunk is gone
    assert any("museum" in text for text in after)
    assert record["counts"]["deleted_stale"] >= 1
    assert record["counts"]["skipped_unchanged"] >= 1  # the unchanged first paragraph was not re-embedded
    assert any(r["source_name"] == "etna.md" for r in _rows(config))  # other documents untouched
    ids = [r["chunk_id"] for r in _rows(config)]
    assert len(ids) == len(set(ids))


def test_run_record_has_config_counts_timings_errors_dag_and_code_version(files_config):
    files = _files(good_txt="A sentence about owls. Owls hunt at night.") + [InputFile(name="bad.xyz", data=b"??")]
    record = api.ingest(files_config, files=files)
    assert record["counts"]["failed"] == 1
    assert record["file_errors"] == [{"source_name": "bad.xyz", "reason": record["file_errors"][0]["reason"]}]
    assert "unsupported" in record["file_errors"][0]["reason"]
    assert record["config"]["embedding_service"] == "sentence_transformers" and record["config"]["vector_db"] == "lancedb"
    assert record["inputs"] == {"source": "files", "files": ["good.txt", "bad.xyz"], "file_count": 2}
    assert {"fresh_embeddings", "written_chunk_ids", "chunks"} <= set(record["timings"])
    assert record["dag_dot"].startswith("digraph") or "digraph" in record["dag_dot"][:200]
    assert "written_chunk_ids" in record["dag_dot"] and record["code_version"].count("dataflows@") == 1
    assert api.runs(files_config["data_dir"])[0]["run_id"] == record["run_id"]
    (manifest,) = api.indexes(files_config["data_dir"])
    assert (manifest["embedding_service"], manifest["model_name"], manifest["dimension"]) == ("sentence_transformers", DEFAULT_LOCAL_MODEL, 384)
    assert manifest["chunking"] == {"chunk_size": 800, "chunk_overlap": 100, "split_squad_paragraphs": False,
                                    "pdf_parser": "pypdfium2", "clean_pdf_text": True, "chunk_by_sections": True,
                                    "keep_slides": True, "contextual_headers": True}
    assert manifest["chunk_count"] == record["counts"]["written"]


def test_another_model_on_an_existing_index_fails_before_any_work(files_config, tmp_path):
    api.ingest(files_config, files=_files(a_txt="Some text about rivers."))
    runs_before = len(api.runs(files_config["data_dir"]))
    with pytest.raises(IndexMismatchError) as error:
        api.ingest({**files_config, "model_name": "paraphrase-MiniLM-L3-v2"}, files=_files(b_txt="More text."))
    assert "all-MiniLM-L6-v2" in str(error.value) and "paraphrase-MiniLM-L3-v2" in str(error.value)
    assert len(api.runs(files_config["data_dir"])) == runs_before  # refused before a run even started


def test_an_index_built_with_the_torch_model_keeps_it_when_a_run_names_no_model(files_config):
    torch_index = {**files_config, "model_name": "all-MiniLM-L6-v2"}
    api.ingest(torch_index, files=_files(a_txt="Some text about rivers."))
    record = api.ingest(files_config, files=_files(b_txt="More text about lakes."))  # no model: the index's own
    assert record["status"] == "succeeded" and record["config"]["model_name"] == "all-MiniLM-L6-v2"
    assert {row["model_name"] for row in _rows(files_config)} == {"all-MiniLM-L6-v2"}
    with pytest.raises(IndexMismatchError):  # a model named is checked, never swapped
        api.ingest({**files_config, "model_name": DEFAULT_LOCAL_MODEL}, files=_files(c_txt="Text about seas."))


def test_missing_api_key_fails_before_any_work(files_config, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("WORKBENCH_SECRETS_TOML", "/nonexistent/secrets.toml")
    with pytest.raises(MissingApiKeyError) as error:
        api.ingest({**files_config, "embedding_service": "openai"}, files=_files(a_txt="text"))
    assert "OPENAI_API_KEY" in str(error.value)
    assert api.runs(files_config["data_dir"]) == []


def test_same_corpus_into_a_second_index_does_not_call_the_model_again(files_config):
    files = _files(pharos_txt=LIGHTHOUSE, etna_md=VOLCANO)
    first = api.ingest(files_config, files=files)
    second = api.ingest({**files_config, "index_name": "copy"}, files=files)
    assert first["counts"]["embedded_by_model"] == first["counts"]["written"] > 0
    assert second["counts"]["written"] == first["counts"]["written"]
    assert second["counts"]["embedded_by_model"] == 0  # every vector came from the embedding cache


def test_preview_stops_at_chunking(files_config):
    chunks, errors = api.preview_chunks({**files_config, "chunk_size": 100, "chunk_overlap": 0}, files=_files(pharos_txt=LIGHTHOUSE))
    assert len(chunks) >= 3 and errors == []
    assert all(c.token_count <= c.token_limit == 256 for c in chunks)
    assert api.runs(files_config["data_dir"]) == []  # nothing ran beyond chunking, nothing recorded


def test_query_uses_the_index_manifest_not_the_callers_model(files_config):
    api.ingest(files_config, files=_files(etna_md=VOLCANO))
    result = api.search({**files_config, "embedding_service": "openai", "model_name": "whatever"}, "volcano", top_k=1)
    assert result["manifest"]["model_name"] == DEFAULT_LOCAL_MODEL
    assert result["hits"][0]["source_name"] == "etna.md"


def test_run_records_json_round_trip(files_config):
    record = api.ingest(files_config, files=_files(a_txt="Text about bees. Bees make honey."))
    assert json.loads(json.dumps(record))["run_id"] == record["run_id"]


def test_a_squad_run_record_says_it_read_the_local_file_whole_not_the_split_that_was_picked(squad_config, monkeypatch):
    monkeypatch.delenv("WORKBENCH_SQUAD_PATH", raising=False)
    record = api.ingest({**squad_config, "squad_split": "train", "limit": 3}, api_keys={})
    assert record["inputs"] == {"source": "squad", "path": squad_config["squad_path"], "split": "the whole local file", "limit": 3}
    assert record["counts"]["read"] == 3


# --- identity of documents ---------------------------------------------------------------------------------


def test_same_named_files_in_other_folders_are_two_documents_and_a_changed_one_is_replaced_and_counted(files_config, tmp_path):
    root = tmp_path / "corpus"
    for folder, text in (("f1", LIGHTHOUSE), ("f2", VOLCANO)):
        (root / folder).mkdir(parents=True)
        (root / folder / "report.txt").write_text(text)
    (root / " report.txt").write_text("Glaciers carve valleys. The Aletsch glacier is the largest in the Alps.")
    (root / "report.txt").write_text("Bees make honey. A hive holds tens of thousands of bees.")
    config = {**files_config, "ingest_root": str(root)}
    api.ingest({**config, "file_paths": [str(root / "f1" / "report.txt")]})
    second = api.ingest({**config, "file_paths": [str(root / "f2" / "report.txt"), str(root / " report.txt"), str(root / "report.txt")]})
    assert second["counts"]["deleted_stale"] == 0 and second["counts"]["replaced_documents"] == 0  # nothing replaced silently
    rows = _rows(files_config)
    assert {r["source_name"] for r in rows} == {"f1/report.txt", "f2/report.txt", " report.txt", "report.txt"}
    assert len({r["document_id"] for r in rows}) == 4
    assert api.search(files_config, "Pharos lighthouse", top_k=1)["hits"][0]["source_name"] == "f1/report.txt"

    (root / "f1" / "report.txt").write_text(LIGHTHOUSE.replace("956", "1303"))  # the same path, other content: replaced
    third = api.ingest({**config, "file_paths": [str(root / "f1" / "report.txt")]})
    assert third["counts"]["replaced_documents"] == 1 and third["counts"]["deleted_stale"] >= 1
    assert {r["source_name"] for r in _rows(files_config)} == {"f1/report.txt", "f2/report.txt", " report.txt", "report.txt"}


def test_a_moved_data_folder_keeps_its_indexes(files_config, tmp_path):
    import shutil

    first = api.ingest(files_config, files=_files(lighthouse_txt=LIGHTHOUSE))
    moved = tmp_path / "moved-data"
    shutil.move(files_config["data_dir"], moved)
    config = {**files_config, "data_dir": str(moved)}
    (manifest,) = api.indexes(str(moved))
    assert manifest["chunk_count"] == first["counts"]["written"] and "$DATA_DIR" in manifest["index_key"]
    assert api.search(config, "Pharos lighthouse", top_k=1)["hits"][0]["source_name"] == "lighthouse.txt"
    again = api.ingest(config, files=_files(lighthouse_txt=LIGHTHOUSE))
    assert again["counts"]["written"] == 0 and again["counts"]["skipped_unchanged"] == first["counts"]["written"]
    assert {run["index_key"] for run in api.runs(str(moved))} == {manifest["index_key"]}


def test_past_the_key_index_threshold_batch_lookups_use_a_btree_index_and_replace_exactly(files_config, monkeypatch):
    monkeypatch.setattr(lancedb_store, "_KEY_INDEX_ROWS", 6)  # 10,000 in use: a handful of files here
    config = {**files_config, "ingest_batch_documents": 4}
    files = [InputFile(f"doc{i}.txt", data=f"Document {i} is about the river number {i}.".encode()) for i in range(14)]
    assert api.ingest(config, files=files)["counts"]["written"] == 14
    table = _table(config)
    keys = {index.columns[0]: index.name for index in table.list_indices() if index.index_type == "BTree"}
    assert set(keys) == {"document_id"}  # not chunk_id: LanceDB's indexed merge insert was slower and read whole rows
    assert table.index_stats(keys["document_id"]).num_unindexed_rows < 6  # rebuilt as rows came in, not built once
    plan = table.search().select(["chunk_id"]).where("document_id IN ('a', 'b')").limit(None).explain_plan(True)
    assert "ScalarIndexQuery" in plan and "document_id_idx" in plan

    changed = [*files[:3], InputFile("doc3.txt", data=b"Document 3 now talks about owls."), *files[4:]]
    again = api.ingest(config, files=[*changed, InputFile("doc99.txt", data=b"A new document about foxes.")])
    assert again["counts"]["written"] == 2 and again["counts"]["deleted_stale"] == 1
    rows = _rows(config)
    assert sorted(r["source_name"] for r in rows) == sorted([f"doc{i}.txt" for i in range(14)] + ["doc99.txt"])
    assert next(r["text"] for r in rows if r["source_name"] == "doc3.txt") == "Document 3 now talks about owls."
    assert len({r["chunk_id"] for r in rows}) == len(rows) == 15
    disk = api.index_state(config)["disk"]
    assert disk["key_index_bytes"] > 0 and disk["fts_index_bytes"] > 0 and disk["ann_index_bytes"] == 0  # each in its bucket


def test_an_ingestion_caches_its_rebuilt_key_index_in_the_capped_write_session(files_config, monkeypatch):
    import lancedb

    monkeypatch.setattr(lancedb_store, "_KEY_INDEX_ROWS", 6)  # rebuilt every few rows: each rebuild is a new index to cache
    capped = lancedb.Session(metadata_cache_size_bytes=256 << 10, index_cache_size_bytes=256 << 10)
    monkeypatch.setattr(lancedb_store, "_WRITE_SESSION", capped)
    config = {**files_config, "ingest_batch_documents": 4}
    files = [InputFile(f"doc{i}.txt", data=f"Document {i} is about the river number {i}.".encode()) for i in range(40)]
    assert api.ingest(config, files=files)["counts"]["written"] == 40
    assert 0 < capped.size_bytes <= 512 << 10  # the writes' caches, within their caps; the read session keeps its own
    assert api.search(config, "river number 17", top_k=1)["hits"][0]["source_name"] == "doc17.txt"
