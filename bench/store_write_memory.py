"""Benchmark: memory of LanceDB's write path alone, as a streaming ingestion drives it (issue 15, target 5).

    python bench/store_write_memory.py [--writes 160] [--rows 3000] [--dir DIR]

Each of --writes batches of --rows chunk rows (random document ids, 12 chunks a document, 384-d random vectors)
goes through the store's own per-batch calls: `stored_chunk_ids` for the batch's documents, then
`written_chunk_ids` (upserts of 2,000 rows, then the `document_id` B-tree index kept up to date). No model, no
parsing: only the store. It runs twice, each in a fresh process: with the write session as the store has it
(index cache capped) and with that cap lifted to LanceDB's default (6 GiB), the session the table was written through
before. Printed every 20 writes: seconds, RSS MB, malloc's bytes in use (MB), the write session's cache MB.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _memory(session) -> dict[str, int]:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    status = Path("/proc/self/status").read_text()
    return {"rss_mb": round(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024),
            "malloc_in_use_mb": round(libc.mallinfo2().uordblks / 2**20), "session_mb": round(session.size_bytes / 2**20)}


def _run(folder: str, writes: int, rows: int, uncapped: bool) -> list[dict]:
    """The writes, in this process; the samples."""
    import lancedb
    import numpy as np

    import workbench  # noqa: F401  (the process's malloc arena cap, as in the app)
    from dataflows.stores import lancedb as store
    from ragkit.native_memory import release_freed_memory
    from ragkit.schema import STORED_FIELDS

    if uncapped:
        store._WRITE_SESSION = lancedb.Session(metadata_cache_size_bytes=32 << 20)
    table = store.vector_index(store.store_client({"uri": folder}), "bench", 384)
    rng = np.random.default_rng(0)
    text = "lorem ipsum dolor sit amet " * 27
    samples, started = [], time.perf_counter()
    for write in range(writes):
        records = [{name: 0 for name in STORED_FIELDS} | {
            "chunk_id": f"c{write}-{i}", "document_id": hashlib.sha1(f"{write}-{i // 12}".encode()).hexdigest()[:24],
            "source_kind": "file", "source_name": f"doc{write}-{i // 12}.md", "title": "t", "content_hash": "h" * 64,
            "embedding_service": "sentence-transformers", "model_name": "m", "run_id": "r" * 20,
            "ingested_at": "2026-12-03T10:00:00", "text": text, "section": "", "indexed_text": text, "question_ids": []}
            for i in range(rows)]
        store.stored_chunk_ids(table, sorted({record["document_id"] for record in records}))
        store.written_chunk_ids(table, records, rng.standard_normal((rows, 384)).astype(np.float32), progress=lambda *a: None)
        release_freed_memory()
        if write % 20 == 19 or write == writes - 1:
            samples.append({"writes": write + 1, "seconds": round(time.perf_counter() - started, 1),
                            **_memory(store._WRITE_SESSION)})
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=160)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--dir", default="", help="scratch folder (default: a new temporary one)")
    parser.add_argument("--child", choices=["capped", "uncapped"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_run(args.dir, args.writes, args.rows, args.child == "uncapped")))
        return
    scratch = args.dir or tempfile.mkdtemp(prefix="store-write-memory-")
    print(f"{args.writes} writes of {args.rows:,} rows; load average {' / '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for variant in ("capped", "uncapped"):
        out = subprocess.run([sys.executable, __file__, "--child", variant, "--dir", os.path.join(scratch, variant),
                              "--writes", str(args.writes), "--rows", str(args.rows)],
                             check=True, capture_output=True, text=True).stdout
        print(f"write session index cache {variant}:")
        for sample in json.loads(out.strip().splitlines()[-1]):
            print("  " + ", ".join(f"{key} {value}" for key, value in sample.items()))
    print(f"load average {' / '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
