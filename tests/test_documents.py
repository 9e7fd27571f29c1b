"""Managing an index's documents as a user does: list them, delete one (or the index), sync a folder, re-ingest.

Every registered store is driven through the product (`api.ingest`, `api.delete_documents`, `api.search`) with
the real model: LanceDB and Qdrant local mode for real, Weaviate and Pinecone through their local fakes. After
a delete, no search mode the store serves may return a chunk of the deleted document.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dataflows.stores import STORES
from ragkit.backends import EMBEDDED, HYBRID, LEXICAL
from ragkit.errors import ConfigError, DocumentNotFoundError, IndexNotFoundError
from ragkit.schema import Document, InputFile
from tests.conftest import REPO
from tests.fakes import fixtures
from tests.small_corpora import VOLCANOES
from workbench import api
from workbench.catalog import Catalog
from workbench.kept_sources import keep_sources, kept_path, release_sources, sources_folder

weaviate_fake = fixtures.weaviate_fake
pinecone_fake = fixtures.pinecone_fake
# What a local fake does not serve (as in tests/test_store_contract.py).
FAKE_GAPS = {"weaviate": {LEXICAL, HYBRID}}


def _corpus(folder: Path, texts: dict[str, str] = VOLCANOES) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    return sorted(str(folder / name) for name in texts)


def _store_config(request: pytest.FixtureRequest, name: str, data_dir: Path) -> tuple[dict, dict]:
    """The config and API keys that point at a fresh index in store `name`."""
    base = {"source": "files", "data_dir": str(data_dir), "index_name": "managed", "vector_db": name}
    if STORES.get(name).has(EMBEDDED):
        return base, {}
    if name == "weaviate":
        fake = request.getfixturevalue("weaviate_fake")
        return {**base, "vector_db_config": {"url": fake.url, "grpc_port": fake.grpc_port}}, {"weaviate_api_key": ""}
    if name == "pinecone":
        fake = request.getfixturevalue("pinecone_fake")
        return {**base, "vector_db_config": {"host": fake.url, "namespace": "managed"}}, {"pinecone_api_key": fake.api_key}
    pytest.fail(f"store {name!r} has no way to run here: add it")


def _modes(name: str) -> list[str]:
    spec = STORES.get(name)
    served = {"dense"} | {mode for mode, capability in (("lexical", LEXICAL), ("hybrid", HYBRID))
                          if spec.has(capability) and capability not in FAKE_GAPS.get(name, set())}
    return sorted(served)


@pytest.mark.parametrize("store_name", STORES.names())
def test_a_deleted_document_is_found_by_no_search_mode(request, store_name, data_dir, tmp_path):
    config, keys = _store_config(request, store_name, data_dir)
    paths = _corpus(tmp_path / "docs")
    config.update(file_paths=paths, ingest_root=str(tmp_path))
    api.ingest(config, api_keys=keys)
    listed = api.documents(config, api_keys=keys)
    assert sorted(d["source_name"] for d in listed) == sorted(f"docs/{name}" for name in VOLCANOES)
    etna = next(d for d in listed if d["source_name"] == "docs/etna.txt")
    question = "Mount Etna active volcano east coast of Sicily"
    for mode in _modes(store_name):  # before: every mode finds Etna's chunk (so the check after can fail)
        hits = api.search({**config, "retrieval_mode": mode}, question, top_k=10, api_keys=keys)["hits"]
        assert etna["document_id"] in {hit["document_id"] for hit in hits}, mode

    record = api.delete_documents(config, ["docs/etna.txt"], api_keys=keys)

    assert record["kind"] == "delete" and record["status"] == "succeeded"
    assert record["counts"]["deleted_documents"] == 1 and record["counts"]["deleted_chunks"] == etna["chunks"]
    for mode in _modes(store_name):
        hits = api.search({**config, "retrieval_mode": mode}, question, top_k=10, api_keys=keys)["hits"]
        assert hits and etna["document_id"] not in {hit["document_id"] for hit in hits}, mode
    assert etna["document_id"] not in {d["document_id"] for d in api.documents(config, api_keys=keys)}
    assert api.index_manifest(config)["chunk_count"] == sum(d["chunks"] for d in listed) - etna["chunks"]
    assert api.runs(str(data_dir))[0]["run_id"] == record["run_id"]

    again = api.ingest(config, api_keys=keys)  # the same files again: Etna is written back, the rest unchanged
    assert again["counts"]["written"] == etna["chunks"]
    assert etna["document_id"] in {d["document_id"] for d in api.documents(config, api_keys=keys)}
    hits = api.search(config, question, top_k=3, api_keys=keys)["hits"]
    assert hits[0]["document_id"] == etna["document_id"]


def test_lancedb_lexical_search_after_a_delete_has_no_row_of_it_even_without_index_upkeep(files_config, tmp_path):
    config = {**files_config, "file_paths": _corpus(tmp_path / "docs"), "ingest_root": str(tmp_path), "fts_at_ingest": False}
    api.ingest({**config, "fts_at_ingest": True})  # the full-text index is built once, then never refreshed
    record = api.delete_documents(config, ["docs/pompeii.txt"])
    assert record["counts"]["deleted_chunks"] >= 1
    hits = api.search({**config, "retrieval_mode": "lexical"}, "Pompeii Roman town ruins ash", top_k=10)["hits"]
    assert "docs/pompeii.txt" not in {hit["source_name"] for hit in hits}
    assert "docs/vesuvius.txt" in {hit["source_name"] for hit in hits}  # the other Pompeii document is still found


def test_sync_deletes_what_the_inputs_no_longer_hold(files_config, tmp_path):
    paths = _corpus(tmp_path / "docs")
    config = {**files_config, "file_paths": paths, "ingest_root": str(tmp_path)}
    api.ingest(config)
    kept = [path for path in paths if not path.endswith(("alps.txt", "sicily.txt"))]
    record = api.ingest({**config, "file_paths": kept}, sync=True)
    assert record["counts"]["deleted_documents"] == 2 and record["counts"]["deleted_chunks"] >= 2
    assert record["inputs"]["sync"] is True
    names = {d["source_name"] for d in api.documents(config)}
    assert names == {f"docs/{Path(path).name}" for path in kept}
    assert api.index_manifest(config)["chunk_count"] == sum(d["chunks"] for d in api.documents(config))
    # without sync, a run of fewer files deletes nothing
    assert "deleted_documents" not in api.ingest({**config, "file_paths": kept[:1]})["counts"]
    assert len(api.documents(config)) == len(kept)
    with pytest.raises(ConfigError, match="needs files"):
        api.ingest({"source": "squad", "data_dir": files_config["data_dir"]}, sync=True)


def test_delete_index_drops_it_its_manifest_and_its_kept_sources(files_config, tmp_path):
    config = {**files_config, "file_paths": _corpus(tmp_path / "docs"), "ingest_root": str(tmp_path)}
    api.ingest(config)
    folder = sources_folder(files_config["data_dir"])
    assert len(list(folder.iterdir())) == len(VOLCANOES)
    record = api.delete_index(config)
    assert record["kind"] == "delete-index" and record["counts"]["index_dropped"] == 1
    assert record["counts"]["sources_removed"] == len(VOLCANOES)
    assert api.indexes(files_config["data_dir"]) == [] and list(folder.iterdir()) == []
    with pytest.raises(IndexNotFoundError):
        api.documents(config)
    assert api.ingest(config)["counts"]["written"] == len(VOLCANOES)  # and the name can be used again


def test_unknown_document_names_near_matches(files_config, tmp_path):
    config = {**files_config, "file_paths": _corpus(tmp_path / "docs"), "ingest_root": str(tmp_path)}
    api.ingest(config)
    with pytest.raises(DocumentNotFoundError, match="docs/etna.txt") as raised:
        api.delete_documents(config, ["etna"])
    assert "\n" not in str(raised.value)
    assert len(api.documents(config)) == len(VOLCANOES)  # nothing deleted
    by_id = api.delete_documents(config, [Document.id_for("file", "docs/alps.txt")])
    assert by_id["inputs"]["documents"][0]["source_name"] == "docs/alps.txt"


def test_kept_sources_are_shared_by_content_released_and_capped(data_dir, tmp_path):
    catalog = Catalog(data_dir)
    same = b"The same bytes in two documents."
    files = [InputFile(name="a.txt", data=same), InputFile(name="b.md", data=same), InputFile(name="c.txt", data=b"other"),
             InputFile(name="broken.pdf", data=b"%PDF-garbage")]
    assert keep_sources(catalog, data_dir, "k", files, {"broken.pdf"}, cap_mb=1) == 3
    kept = sorted(path.name for path in sources_folder(data_dir).iterdir())
    assert len(kept) == 3 and not any(name.endswith(".pdf") for name in kept)  # .txt and .md of the same bytes: two files
    a = catalog.source("k", Document.id_for("file", "a.txt"))
    keep_sources(catalog, data_dir, "other-index", [InputFile(name="a.txt", data=same)], set(), cap_mb=1)
    assert release_sources(catalog, data_dir, "k", [a["document_id"]]) == 0  # the other index still refers to it
    assert kept_path(data_dir, a).is_file()
    assert release_sources(catalog, data_dir, "other-index") == 1 and not kept_path(data_dir, a).exists()
    big = [InputFile(name=f"big{i}.txt", data=bytes([i]) * 600_000) for i in range(3)]
    keep_sources(catalog, data_dir, "k", big, set(), cap_mb=1)
    sizes = sum(path.stat().st_size for path in sources_folder(data_dir).iterdir())
    assert sizes <= 1024 * 1024
    assert catalog.source("k", Document.id_for("file", "big2.txt")) is not None  # the newest stays
    assert catalog.source("k", Document.id_for("file", "big0.txt")) is None  # the oldest went
    assert keep_sources(catalog, data_dir, "k", big[:1], set(), cap_mb=0) == 0


def test_keep_sources_mb_is_a_checked_setting():
    assert api.resolve_config({})["keep_sources_mb"] == api.DEFAULTS["keep_sources_mb"] > 0
    with pytest.raises(ConfigError, match="keep_sources_mb"):
        api.resolve_config({"keep_sources_mb": -1})
    with pytest.raises(ConfigError, match="keep_sources_mb"):
        api.resolve_config({"keep_sources_mb": "lots"})


def _cli(*args: str, data_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_cli_lists_refuses_without_yes_and_deletes(data_dir, tmp_path):
    paths = _corpus(tmp_path / "docs")
    api.ingest({"source": "files", "data_dir": str(data_dir), "index_name": "cli", "file_paths": paths, "ingest_root": str(tmp_path)})
    listed = json.loads(_cli("documents", "--index", "cli", "--json", data_dir=data_dir, cwd=tmp_path).stdout)
    assert {d["source_name"] for d in listed} == {f"docs/{name}" for name in VOLCANOES} and all(d["source_kept"] for d in listed)

    refused = _cli("delete-document", "--index", "cli", "docs/etna.txt", data_dir=data_dir, cwd=tmp_path)
    assert refused.returncode == 2 and "--yes" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    unknown = _cli("delete-document", "--index", "cli", "etna", "--yes", data_dir=data_dir, cwd=tmp_path)
    assert unknown.returncode == 2 and "docs/etna.txt" in unknown.stderr and len(unknown.stderr.strip().splitlines()) == 1
    assert len(api.documents({"data_dir": str(data_dir), "index_name": "cli"})) == len(VOLCANOES)

    done = _cli("delete-document", "--index", "cli", "docs/etna.txt", "--yes", "--json", data_dir=data_dir, cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["counts"]["deleted_documents"] == 1
    runs = _cli("runs", data_dir=data_dir, cwd=tmp_path).stdout
    assert "delete: deleted documents 1" in runs

    refused = _cli("delete-index", "cli", data_dir=data_dir, cwd=tmp_path)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert _cli("delete-index", "cli", "--yes", data_dir=data_dir, cwd=tmp_path).returncode == 0
    assert api.indexes(str(data_dir)) == []


def test_the_listing_counts_a_pdfs_pages_and_says_a_text_file_has_none(data_dir, tmp_path):
    from tests.pdfs import make_pdf

    config = {"source": "files", "data_dir": str(data_dir), "index_name": "paged"}
    paragraph = "The keeper of the north light wrote the weather into the ledger every evening. "
    api.ingest(config, files=[InputFile(name="ledger.pdf", data=make_pdf([paragraph * 3, paragraph * 3, paragraph * 3])),
                              InputFile(name="notes.txt", data=(paragraph * 2).encode())])
    pages = {document["source_name"]: document["pages"] for document in api.documents(config)}
    assert pages == {"ledger.pdf": 3, "notes.txt": None}
    listed = _cli("documents", "--index", "paged", data_dir=data_dir, cwd=tmp_path)
    lines = {line.split("  ")[1]: line for line in listed.stdout.strip().splitlines()}
    assert "3 pages, " in lines["ledger.pdf"] and "no pages, 1 chunk," in lines["notes.txt"], listed.stdout
    assert listed.stderr.strip().endswith("2 documents in index paged")
