"""The command line, as a user runs it: `python -m dataflows ...` in a subprocess."""

import json
import os
import subprocess
import sys

from ragkit.schema import STORED_FIELDS
from tests.conftest import REPO, SQUAD_SAMPLE


def _cli(*args, data_dir, check=True):
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "dataflows", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          check=check, timeout=300)


def test_ingest_query_runs_and_indexes_as_json(data_dir, tmp_path):
    ingest = _cli("ingest", "--source", "squad", "--squad-path", str(SQUAD_SAMPLE), "--limit", "12", "--index", "sq",
                  "--json", "--display-dag", str(tmp_path / "dag.svg"), data_dir=data_dir)
    record = json.loads(ingest.stdout)
    assert record["status"] == "succeeded" and record["counts"]["read"] == 12
    assert (tmp_path / "dag.svg").exists() or (tmp_path / "dag.dot").exists()

    query = _cli("query", "Who won Super Bowl 50?", "--index", "sq", "--top-k", "3", "--json", data_dir=data_dir)
    hits = json.loads(query.stdout)
    assert len(hits) == 3
    assert set(STORED_FIELDS) | {"score"} <= set(hits[0])
    assert hits[0]["title"] == "Super Bowl 50"

    runs = json.loads(_cli("runs", "--json", data_dir=data_dir).stdout)
    assert runs[0]["run_id"] == record["run_id"]
    indexes = json.loads(_cli("indexes", "--json", data_dir=data_dir).stdout)
    assert indexes[0]["index_name"] == "sq" and indexes[0]["chunk_count"] == record["counts"]["written"]


def test_human_output_lists_failed_files_and_exits_3(data_dir, tmp_path):
    good, bad = tmp_path / "notes.md", tmp_path / "broken.pdf"
    good.write_text("Notes about gardening. Tomatoes need sun.")
    bad.write_bytes(b"%PDF-1.4 garbage")
    result = _cli("ingest", str(good), str(bad), data_dir=data_dir, check=False)
    assert result.returncode == 3
    assert "failed: broken.pdf:" in result.stdout and "written 1" in result.stdout


def test_errors_are_one_line_not_a_traceback(data_dir):
    result = _cli("query", "anything", "--index", "missing", data_dir=data_dir, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: No index 'missing'") and "Traceback" not in result.stderr


def test_vector_db_config_must_be_a_json_object(data_dir):
    result = _cli("query", "x", "--vector-db-config", "[1, 2]", data_dir=data_dir, check=False)
    assert result.returncode == 2 and "must be a JSON object" in result.stderr
