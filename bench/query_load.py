"""Benchmark: concurrent query sessions — queries/s and latency p50/p95 — and whether the app stays responsive.

N query sessions (threads of this process, each a loop of `api.search` with its own SQuAD dev
questions, top 5, the embedded default model, LanceDB) run for a bounded time at each N. Meanwhile a
`streamlit run app.py` serving the same data folder is probed: `/_stcore/health` and the page over
HTTP every few seconds, and once per N a real page load in chromium (Playwright: open Retrieve,
wait until the script has run past the index picker: its Search button shows). Every figure is printed with
the 1-minute load average before and after.

The index (the first `--paragraphs` SQuAD dev paragraphs, `api.ingest` with the defaults) is
built once into `--data-dir` (default: a temporary folder) and reused when it is already there.

`--target app` drives the running app instead of the dataflow layer: N chromium pages, each asking
its questions on the Retrieve page and timing question → results shown (the Streamlit round trip,
the script rerun and the rendering included).

    python bench/query_load.py [--data-dir DIR] [--paragraphs 2067] [--concurrency 1,2,4,8] [--seconds 30]
           [--target dataflow|app] [--app-url URL | --no-app] [--no-browser]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
import _server  # noqa: E402

DEFAULT_SQUAD = REPO.parent / "shared" / "data" / "squad" / "dev-v1.1.json.gz"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
INDEX = "squad_load"
# What a search changes on Retrieve: the first card's highlighted text and the caption with this search's latencies.
RESULTS_STATE = ("() => ((document.querySelector('.st-key-hit_1 .hit-text') || {}).innerHTML || '') + '|' + "
                 "[...document.querySelectorAll('[data-testid=\"stCaptionContainer\"]')].map(e => e.innerText).join('|')")
TOP_K = 5


def load_average() -> float:
    return os.getloadavg()[0]


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def squad_questions(squad_path: Path, paragraphs: int) -> list[str]:
    """The questions of the first `paragraphs` dev paragraphs, in file order (their answers are in the index)."""
    with gzip.open(squad_path, "rt", encoding="utf-8") if squad_path.suffix == ".gz" else open(squad_path) as handle:
        dataset = json.load(handle)
    seen: set[str] = set()
    questions: list[str] = []
    for article in dataset["data"]:
        for paragraph in article["paragraphs"]:
            if paragraphs and len(seen) >= paragraphs and paragraph["context"] not in seen:
                continue
            seen.add(paragraph["context"])
            questions.extend(qa["question"] for qa in paragraph["qas"])
    return questions


def ensure_index(data_dir: Path, squad_path: Path, paragraphs: int) -> dict:
    """The query config of the bench index, ingesting it first when the data folder does not hold it yet."""
    from workbench import api

    config = {"index_name": INDEX, "data_dir": str(data_dir)}
    if not any(m["index_name"] == INDEX for m in api.indexes(str(data_dir))):
        print(f"building the index: {paragraphs or 'all'} SQuAD dev paragraphs into {data_dir} …", flush=True)
        started = time.perf_counter()
        record = api.ingest({**config, "source": "squad", "squad_path": str(squad_path), "limit": paragraphs}, api_keys={})
        print(f"  {record['counts']['written']} chunks in {time.perf_counter() - started:.0f} s", flush=True)
    return config


# --- the app: started on the same data folder, probed while the load runs ---------------------------


def start_app(data_dir: Path) -> tuple[subprocess.Popen, str]:
    """The app serving the data folder, its output in a log beside it."""
    return _server.start_app(data_dir, data_dir.parent / "streamlit.log")


def http_probe(url: str) -> tuple[float, float]:
    """Seconds for GET /_stcore/health and for GET / (the page), each with a 30 s limit."""
    times = []
    for path in ("/_stcore/health", "/"):
        started = time.perf_counter()
        with urllib.request.urlopen(url + path, timeout=30) as response:
            response.read()
        times.append(time.perf_counter() - started)
    return times[0], times[1]


class Browser:
    """One chromium (Playwright, sync API) used from the thread that made it."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

    def home_load(self, url: str) -> float:
        """Seconds to load Home; the bench opens it first so that the first load's model warm-up is timed apart."""
        page = self._browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(180_000)
        try:
            started = time.perf_counter()
            page.goto(url + "/")
            page.get_by_role("button", name="Try it", exact=False).wait_for()
            page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
            return time.perf_counter() - started
        finally:
            page.close()

    def page_load(self, url: str) -> float:
        """Seconds from navigation to the Retrieve page rendered by the app script (past its index picker)."""
        page = self._browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(120_000)
        try:
            started = time.perf_counter()
            page.goto(url + "/retrieve")
            page.get_by_role("heading", name="Retrieve").wait_for()
            page.get_by_role("button", name="Search").wait_for()  # shown only once the script found the index
            page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
            return time.perf_counter() - started
        finally:
            page.close()

    def close(self) -> None:
        self._browser.close()
        self._playwright.stop()


class Prober(threading.Thread):
    """HTTP probes of the app every `interval` seconds until stopped; failures are counted, not raised."""

    def __init__(self, url: str, interval: float = 3.0) -> None:
        super().__init__(daemon=True)
        self.url, self.interval = url, interval
        self.health: list[float] = []
        self.page: list[float] = []
        self.failures: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                health, page = http_probe(self.url)
                self.health.append(health)
                self.page.append(page)
            except OSError as error:
                self.failures.append(f"{type(error).__name__}: {error}")
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


# --- the load ------------------------------------------------------------------------------------


def session_questions(questions: list[str], number: int, sessions: int) -> Iterator[str]:
    """One session's questions: the list from this session's own offset, round and round."""
    position = number * (len(questions) // max(sessions, 1))
    while True:
        yield questions[position % len(questions)]
        position += 1


def dataflow_load(config: dict, questions: list[str], sessions: int, seconds: float) -> tuple[list[float], list[str], float]:
    """`sessions` threads searching until the deadline: latencies (s) of every completed search, errors, wall time (s)."""
    from workbench import api

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def session(number: int) -> None:
        for question in session_questions(questions, number, sessions):
            if time.perf_counter() >= deadline:
                break
            started = time.perf_counter()
            try:
                hits = api.search(config, question, top_k=TOP_K, api_keys={})["hits"]
                assert len(hits) == TOP_K, f"{len(hits)} hits"
            except Exception as error:  # counted and shown; the run goes on
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")
                continue
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=session, args=(n,)) for n in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - deadline + seconds


def load_and_page_load(
    load: Callable[[], tuple[list[float], list[str], float]], seconds: float, browser: Browser, url: str
) -> tuple[list[float], list[str], float, float]:
    """The load in a thread; meanwhile, once it has ramped up, one page load of the app in chromium (s, or NaN)."""
    result: dict = {}
    loader = threading.Thread(target=lambda: result.update(load=load()))
    loader.start()
    time.sleep(min(5.0, seconds / 3))
    page_load = float("nan")
    try:
        page_load = browser.page_load(url)
    except Exception as error:  # noqa: BLE001 - reported, the row shows NaN
        print(f"  page load failed: {type(error).__name__}: {error}", flush=True)
    loader.join()
    return (*result["load"], page_load)


def app_load(url: str, questions: list[str], sessions: int, seconds: float) -> tuple[list[float], list[str], float]:
    """`sessions` chromium pages on the Retrieve page, each asking questions until the deadline (opening them is not timed)."""
    import asyncio

    from playwright.async_api import async_playwright

    latencies: list[float] = []
    errors: list[str] = []

    async def open_page(browser):
        page = await browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(120_000)
        await page.goto(url + "/retrieve")
        await page.get_by_placeholder("e.g. Who won Super Bowl 50?").wait_for()
        return page

    async def session(page, number: int, deadline: float) -> None:
        for question in session_questions(questions, number, sessions):
            if time.perf_counter() >= deadline:
                break
            started = time.perf_counter()
            try:
                before = await page.evaluate(RESULTS_STATE)
                await page.get_by_placeholder("e.g. Who won Super Bowl 50?").fill(question)
                await page.get_by_role("button", name="Search").click()
                # done when the results of this search show (highlighting, latencies) and the script run has ended
                await page.wait_for_function(f"(before) => ({RESULTS_STATE})() !== before && !document.querySelector("
                                             "'[data-testid=\"stStatusWidget\"]')", arg=before, timeout=60_000)
                latencies.append(time.perf_counter() - started)
            except Exception as error:  # noqa: BLE001 - counted
                errors.append(f"{type(error).__name__}: {error}"[:200])
        await page.close()

    async def run() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = await asyncio.gather(*(open_page(browser) for _ in range(sessions)))  # not timed
            started = time.perf_counter()
            await asyncio.gather(*(session(page, n, started + seconds) for n, page in enumerate(pages)))
            wall.append(time.perf_counter() - started)
            await browser.close()

    # a thread of its own: the sync Playwright of the page-load probe keeps an event loop in this one
    wall: list[float] = []
    worker = threading.Thread(target=lambda: asyncio.run(run()))
    worker.start()
    worker.join()
    return latencies, errors, wall[0] if wall else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="", help="a data folder holding (or to hold) the bench index; default: a temporary one")
    parser.add_argument("--squad-path", default=os.environ.get("WORKBENCH_SQUAD_PATH", str(DEFAULT_SQUAD)))
    parser.add_argument("--paragraphs", type=int, default=0, help="SQuAD dev paragraphs in the index (0: all 2,067)")
    parser.add_argument("--concurrency", default="1,2,4,8", help="query sessions, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each load level")
    parser.add_argument("--target", choices=["dataflow", "app"], default="dataflow",
                        help="drive api.search in threads, or the app's Retrieve page in chromium pages")
    parser.add_argument("--app-url", default="", help="probe (and with --target app, drive) this running app instead of starting one")
    parser.add_argument("--no-app", action="store_true", help="no app: only the query load")
    parser.add_argument("--no-browser", action="store_true", help="probe the app over HTTP only (no chromium page load)")
    args = parser.parse_args()

    squad_path = Path(args.squad_path)
    temporary = None
    if args.data_dir:
        data_dir = Path(args.data_dir).expanduser().resolve()
    else:
        temporary = tempfile.TemporaryDirectory(prefix="query_load_")
        data_dir = Path(temporary.name) / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"load average at start {load_average():.2f}; {os.cpu_count()} cores", flush=True)
    config = ensure_index(data_dir, squad_path, args.paragraphs)
    questions = squad_questions(squad_path, args.paragraphs)

    from workbench import api

    api.search(config, questions[0], top_k=TOP_K, api_keys={})  # warm: model, clients, driver
    app, url = None, args.app_url.rstrip("/")
    if not url and not args.no_app:
        app, url = start_app(data_dir)
        print(f"app: {url} (streamlit run app.py on {data_dir})", flush=True)
    if args.target == "app" and not url:
        raise SystemExit("--target app needs the app (drop --no-app, or give --app-url)")
    browser = Browser() if url and not args.no_browser and Path(CHROMIUM).exists() else None
    if browser:
        first = browser.home_load(url)  # the app's first script run loads the model: not a page load of a running app
        print(f"first page load (chromium, Home; the app warms its model): {first:.2f} s", flush=True)
        print(f"idle page load (chromium, Retrieve): {browser.page_load(url):.2f} s", flush=True)

    rows = []
    try:
        for sessions in [int(n) for n in args.concurrency.split(",")]:
            before = load_average()
            prober = Prober(url) if url else None
            if prober:
                prober.start()
            page_load = float("nan")
            if args.target == "app":
                def load(sessions: int = sessions) -> tuple[list[float], list[str], float]:
                    return app_load(url, questions, sessions, args.seconds)
            else:
                def load(sessions: int = sessions) -> tuple[list[float], list[str], float]:
                    return dataflow_load(config, questions, sessions, args.seconds)
            if browser:
                latencies, errors, wall, page_load = load_and_page_load(load, args.seconds, browser, url)
            else:
                latencies, errors, wall = load()
            if prober:
                prober.stop()
            row = {
                "sessions": sessions, "queries": len(latencies), "errors": len(errors), "seconds": round(wall, 1),
                "qps": len(latencies) / wall, "p50_ms": percentile(latencies, 50) * 1000,
                "p95_ms": percentile(latencies, 95) * 1000,
                "health_max_s": max(prober.health) if prober and prober.health else float("nan"),
                "http_page_max_s": max(prober.page) if prober and prober.page else float("nan"),
                "probe_failures": len(prober.failures) if prober else 0,
                "page_load_s": page_load,
                "load_before": before, "load_after": load_average(),
            }
            rows.append(row)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
            if errors:
                print("  first error:", errors[0], flush=True)
    finally:
        if browser:
            browser.close()
        if app:
            app.terminate()
            try:
                app.wait(timeout=15)
            except subprocess.TimeoutExpired:
                app.kill()

    target = "api.search threads" if args.target == "dataflow" else "chromium pages on Retrieve"
    print(f"\n{target}; index {INDEX}, top {TOP_K}; {args.seconds:.0f} s per level\n")
    print("| sessions | queries/s | p50 ms | p95 ms | errors | app page load during load (s) | health / HTTP page max (s) | load avg before → after |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for row in rows:
        print(f"| {row['sessions']} | {row['qps']:.1f} | {row['p50_ms']:.0f} | {row['p95_ms']:.0f} | {row['errors']} | "
              f"{row['page_load_s']:.2f} | {row['health_max_s']:.3f} / {row['http_page_max_s']:.3f} "
              f"({row['probe_failures']} failed) | {row['load_before']:.2f} → {row['load_after']:.2f} |")
    if temporary:
        temporary.cleanup()


if __name__ == "__main__":
    main()
