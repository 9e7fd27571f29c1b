"""Time to the page title on a fresh server, in chromium: Home and a direct page link, several fresh servers each.

    python bench/first_paint.py [--runs 5] [--pages /,/retrieve]

For each run: a new `streamlit run app.py` process on a free port (an empty data folder), chromium
(Debian's, headless) opens the URL as soon as the server answers its health check, and the time from
navigation to the page's <h1> title being visible is taken, plus the time until the sidebar lists the
page titles. Also counts requests to any host other than 127.0.0.1. Prints p50 and max per page and the
load average.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import CHROMIUM, CHROMIUM_ARGS, load_text, start_app, stop_app  # noqa: E402


def measure(path: str, browser) -> tuple[float, float, int]:
    """Seconds to the title and to the sidebar's page titles on a fresh server, and outside requests seen."""
    with tempfile.TemporaryDirectory() as data_dir:
        process, url = start_app(data_dir)
        try:
            page = browser.new_page()
            outside: list[str] = []
            page.on("request", lambda request: outside.append(request.url)
                    if not request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")) else None)
            started = time.perf_counter()
            page.goto(url + path)
            page.locator("h1").first.wait_for(timeout=120_000)
            title = time.perf_counter() - started
            page.locator("[data-testid='stSidebarNav']").get_by_text("Retrieve").wait_for(timeout=120_000)
            navigation = time.perf_counter() - started
            page.close()
            return title, navigation, len(outside)
        finally:
            stop_app(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pages", default="/,/retrieve")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"load average before: {load_text()}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        print("| page | runs | title p50 s | title max s | page titles in the sidebar p50 s | requests off 127.0.0.1 |")
        print("| --- | --- | --- | --- | --- | --- |")
        for path in args.pages.split(","):
            results = [measure(path, browser) for _ in range(args.runs)]
            titles, navigation, outside = zip(*results)
            print(f"| {path} | {args.runs} | {statistics.median(titles):.2f} | {max(titles):.2f} | "
                  f"{statistics.median(navigation):.2f} | {sum(outside)} |")
        browser.close()
    print(f"load average after: {load_text()}")


if __name__ == "__main__":
    main()
