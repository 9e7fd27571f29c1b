"""The command line, as a user runs it: `python -m dataflows ...` in a subprocess."""

import json
import os
import re
import subprocess
import sys

from ragkit.schema import STORED_FIELDS
from tests.conftest import REPO, SQUAD_SAMPLE
from workbench import api


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


NOTES = {"lighthouse.md": "The Marrowick lighthouse was built in 1884. Ada Fenwick was its first keeper.\n\n"
                          "Its lamp burns paraffin and can be seen from 20 miles.",
         "guild.md": "The keepers' guild meets every spring in Whitby. Its emblem is a silver gull."}


def test_ask_prints_the_answer_its_citations_and_the_mode_as_text_and_json(data_dir, tmp_path):
    paths = []
    for name, text in NOTES.items():
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    _cli("ingest", *paths, "--index", "notes", data_dir=data_dir)

    text = _cli("ask", "Who was the first keeper of the lighthouse?", "--index", "notes", "--llm", "offline",
                data_dir=data_dir).stdout
    answer, _, tail = text.partition("\n[")
    assert answer.startswith("Extracted, not generated")
    assert "\u201cAda Fenwick was its first keeper.\u201d [1]" in answer
    cited = re.findall(r"^\[(\d+)\] (\S+), chunk (\S+)$", "[" + tail, re.MULTILINE)
    assert cited and cited[0][:2] == ("1", "lighthouse.md")
    assert text.rstrip().endswith("extracted (offline, no LLM)")

    history = tmp_path / "history.json"
    history.write_text(json.dumps([{"role": "user", "content": "Tell me about the keepers' guild in Whitby."},
                                   {"role": "assistant", "content": "It meets every spring [1]."}]))
    result = json.loads(_cli("ask", "And what is its emblem?", "--index", "notes", "--json", "--top-k", "1",
                             "--history", str(history), "--mode", "hybrid", data_dir=data_dir).stdout)
    assert result["mode"] == "extracted" and result["llm_service"] == "extractive"
    assert result["question"] == "And what is its emblem?" and "guild" in result["retrieval_question"]
    assert "\u201cIts emblem is a silver gull.\u201d [1]" in result["answer"]
    [citation] = result["citations"]
    assert citation["number"] == 1 and citation["document"] == "guild.md" and citation["page"] == 0
    stored = api.search({"data_dir": str(data_dir), "index_name": "notes", "retrieval_mode": "lexical"}, "emblem gull")["hits"]
    assert citation["chunk_id"] == stored[0]["chunk_id"] and stored[0]["source_name"] == "guild.md"


def test_ask_errors_are_one_line_on_stderr(data_dir, tmp_path):
    missing = _cli("ask", "Who was the first keeper?", "--index", "missing", data_dir=data_dir, check=False)
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.startswith("error: No index 'missing'") and missing.stderr.count("\n") == 1
    (tmp_path / "bad.json").write_text("{not json")
    bad = _cli("ask", "x", "--index", "missing", "--history", str(tmp_path / "bad.json"), data_dir=data_dir, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --history") and "Traceback" not in bad.stderr
