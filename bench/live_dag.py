"""The live DAG during a long ingestion, as a person sees it: a screenshot of the Ingest page's DAG every second.

    python bench/live_dag.py [--files A.pdf,B.pdf] [--executor sync|threads|processes|ray] [--server-nice 10] [--out DIR]

Starts a fresh `streamlit run app.py` (an empty data folder), opens Ingest in chromium, uploads the files (default:
two of the real-document benchmark's PDFs, `bench/fetch_real_docs.py`), presses Ingest and, until the run's status
says it finished, takes a screenshot of the DAG once a second and reads the DAG's text at that moment. Prints how
many screenshots show a running node (issue 13's target: >= 80% during a ~60 s ingestion), how many distinct
states the DAG went through, the run's length and the load average. The screenshots are kept in --out.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _server import CHROMIUM, CHROMIUM_ARGS, load_text, start_app, stop_app  # noqa: E402
from fetch_real_docs import real_doc_paths  # noqa: E402

from tests.svg_pictures import SVG_DATA_URL, svg_text  # noqa: E402  (how the browser tests read the picture too)

EXECUTOR_LABELS = {"sync": "Synchronous", "threads": "Threads", "processes": "Processes", "ray": "Ray"}
DEFAULT_DOCUMENTS = ("standards.pdf", "maintain.pdf")
# The DAG and where it is on the page, read in one step (the same picture, not two redraws apart): the SVG image
# the page shows (its text is in the image's data URL), or the browser-drawn chart where `dot` is not installed.
DAG_NOW = """() => {
  const image = document.querySelector("[data-testid='stImage'] img[src^='data:image/svg+xml']");
  const chart = image || document.querySelector("[data-testid='stGraphVizChart']");
  if (!chart) return ["", null];
  const r = chart.getBoundingClientRect();
  return [image ? image.src : chart.innerText, r.width && r.height ? {x: r.x, y: r.y, width: r.width, height: r.height} : null];
}"""


def _dag_text(shown: str) -> str:
    """The DAG's words: the text elements of the SVG image, or the chart's own text."""
    return svg_text(shown) if shown.startswith(SVG_DATA_URL) else shown


def _idle(page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=180_000)


def watch(url: str, files: list[str], executor: str, out: Path) -> list[tuple[float, bool, str]]:
    """(seconds since Ingest was pressed, a node shown running, the DAG's state) for each screenshot taken."""
    from playwright.sync_api import sync_playwright

    samples: list[tuple[float, bool, str]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        page.goto(url + "/ingest")
        _idle(page)
        page.locator("input[type=file]").set_input_files(files)
        _idle(page)
        if executor != "sync":
            page.get_by_text("Scale: batches and executor").click()
            page.get_by_role("combobox", name="Executor").click()
            page.keyboard.type(EXECUTOR_LABELS[executor])
            page.keyboard.press("Enter")
            _idle(page)
        page.get_by_role("button", name="Ingest", exact=True).click()
        started = time.perf_counter()
        finished = page.get_by_text(re.compile(r"Run \S+ finished|Ingestion failed"))
        while not finished.count() and time.perf_counter() - started < 3600:
            tick = time.perf_counter()
            try:  # read in the page (a locator waits for animation frames, which a redrawing chart holds up)
                shown, box = page.evaluate(DAG_NOW)
                text = _dag_text(shown)
                if box:
                    page.screenshot(path=str(out / f"dag_{len(samples):04d}.png"), clip=box, timeout=10_000)
            except Exception:  # the chart was being replaced by a redraw: count the second as not showing it
                text = ""
            state = re.sub(r"\d+(\.\d+)?\s*s\b", "", text)
            samples.append((tick - started, "running" in text, state))
            page.wait_for_timeout(max(0.0, 1.0 - (time.perf_counter() - tick)) * 1000)
        browser.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", default="", help="comma-separated files to ingest (default: two benchmark PDFs)")
    parser.add_argument("--executor", choices=list(EXECUTOR_LABELS), default="sync")
    parser.add_argument("--server-nice", type=int, default=10,
                        help="the server's nice value (default 10: the browser is not starved by the model's threads on a "
                             "machine that runs both; 0 to share the CPU evenly)")
    parser.add_argument("--out", default="", help="folder for the screenshots (default: a temporary one, removed)")
    args = parser.parse_args()
    files = args.files.split(",") if args.files else [str(real_doc_paths()[name]) for name in DEFAULT_DOCUMENTS]
    print(f"load average before: {load_text()}; server nice {args.server_nice}")
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(args.out or scratch) / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        process, url = start_app(Path(scratch) / "data", nice=args.server_nice)
        try:
            samples = watch(url, files, args.executor, out)
        finally:
            stop_app(process)
        running = sum(1 for _, shown, _ in samples if shown)
        states = len(dict.fromkeys(state for _, _, state in samples if state))
        length = samples[-1][0] if samples else 0.0
        print("| executor | files | run s | screenshots | showing a running node | distinct DAG states |")
        print("| --- | --- | --- | --- | --- | --- |")
        print(f"| {args.executor} | {len(files)} | {length:.0f} | {len(samples)} | {running} "
              f"({running / max(1, len(samples)):.0%}) | {states} |")
        if args.out:
            print(f"screenshots in {out}")
    print(f"load average after: {load_text()}")


if __name__ == "__main__":
    main()
