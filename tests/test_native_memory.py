"""The native allocator settings the runtime makes: few malloc arenas in any process that imports the workbench."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ragkit.native_memory import MALLOC_ARENAS, _glibc

REPO = Path(__file__).resolve().parent.parent

# LanceDB writes and a search from its worker threads, then glibc's per-arena statistics on stderr.
_LANCEDB_WORK = """
import ctypes, sys
{preamble}
import lancedb, numpy as np, pyarrow as pa
db = lancedb.connect(sys.argv[1])
rng = np.random.default_rng(0)
for i in range(12):
    rows = pa.table({{"id": [f"{{i}}-{{j}}" for j in range(500)], "text": ["x" * 500] * 500,
                     "vector": pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(500 * 64).astype(np.float32)), 64)}})
    if i == 0:
        table = db.create_table("t", rows)
    else:
        table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(rows)
table.search(rng.standard_normal(64).astype(np.float32)).limit(5).to_arrow()
ctypes.CDLL("libc.so.6").malloc_stats()
"""


def _arenas_after_lancedb_work(tmp_path: Path, preamble: str) -> int:
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(_LANCEDB_WORK.format(preamble=preamble)), str(tmp_path / "db")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@pytest.mark.skipif(_glibc() is None, reason="glibc's malloc arenas: this platform has another allocator")
def test_importing_the_workbench_caps_malloc_arenas_for_lancedb_threads(tmp_path: Path) -> None:
    uncapped = _arenas_after_lancedb_work(tmp_path / "plain", "")
    capped = _arenas_after_lancedb_work(tmp_path / "workbench", "import workbench")
    assert uncapped > MALLOC_ARENAS  # LanceDB's threads do take arenas of their own when nothing caps them
    assert 1 <= capped <= MALLOC_ARENAS
