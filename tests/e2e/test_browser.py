"""A real browser (Debian's chromium via Playwright) against a real `streamlit run` server on 127.0.0.1.

Uploads a small PDF, ingests it with the defaults, watches every DAG node reach "done", queries it,
and saves a full-page screenshot of every page to test-artifacts/ (the README uses them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import free_port
from tests.pdfs import make_pdf
from tests.svg_pictures import svg_text

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
PDF_PAGES = [
    "The Lighthouse Keepers Guild was founded in 1884 in the harbour town of Marrowick.\n"
    "Its first keeper, Ada Fenwick, kept the lamp lit for forty-one winters.",
    "The guild's emblem is a silver gull holding a brass key.\n"
    "Members meet every October in the old rope works by the quay.",
]

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def server_data_dir(tmp_path_factory) -> Path:
    """The data folder of the module's Streamlit server."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def server(server_data_dir):
    data_dir = server_data_dir
    port = free_port()
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "WORKBENCH_SECRETS_TOML": str(data_dir / "none.toml")}
    for key in ("OPENAI_API_KEY", "COHERE_API_KEY", "PINECONE_API_KEY", "WEAVIATE_API_KEY"):
        env.pop(key, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("streamlit did not start: " + (process.stdout.read() if process.stdout else ""))
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def _wait_idle(page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=180_000)
    page.wait_for_timeout(500)


def _shot(page, name: str) -> None:
    """A full-page screenshot: Streamlit scrolls inside its main section, so grow the viewport to its height first."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], [data-testid=\"stMainBlockContainer\"]')]"
        ".map(e => e.scrollHeight), 800)"
    )
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 80, 12000)})
    page.wait_for_timeout(400)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


DAG_IMAGE = "[data-testid='stImage'] img[src^='data:image/svg+xml']"


def _dag_text(page, nth: int = 0) -> str:
    """The words of the page's nth DAG picture (an SVG image drawn on the server), read in one step in the page
    (a redraw replaces the image: between the two, there is none for a moment)."""
    deadline = time.monotonic() + 30
    while True:
        src = page.evaluate("([selector, nth]) => document.querySelectorAll(selector)[nth]?.src ?? null", [DAG_IMAGE, nth])
        if src or time.monotonic() > deadline:
            assert src, f"no DAG picture {nth} on the page"
            return svg_text(src)
        page.wait_for_timeout(100)


def _search(page, server: str, question: str, mode: str = "") -> None:
    """Ask Retrieve a question (in the retrieval mode labelled `mode`, else the default) and wait for its hits."""
    page.goto(server + "/retrieve")
    _wait_idle(page)
    if mode:
        page.get_by_role("combobox", name="Retrieval mode").first.click()
        page.get_by_role("option", name=mode).click()
        _wait_idle(page)
    page.get_by_placeholder("e.g. Who won Super Bowl 50?").fill(question)
    page.get_by_role("button", name="Search").click()
    page.get_by_text(re.compile(r"\d+ hits? in \d+ ms")).first.wait_for()
    _wait_idle(page)


@needs_chromium
def test_upload_ingest_watch_dag_query_and_screenshot_every_page(page, server, tmp_path):
    pdf = tmp_path / "guild.pdf"
    pdf.write_bytes(make_pdf(PDF_PAGES))

    page.goto(server)
    _wait_idle(page)
    page.get_by_role("heading", name="RAG workbench").wait_for()
    _shot(page, "home_empty")

    page.goto(server + "/ingest")
    _wait_idle(page)
    page.locator("input[type=file]").set_input_files(str(pdf))
    page.get_by_text("guild.pdf").first.wait_for()
    _wait_idle(page)
    page.get_by_role("button", name="Ingest", exact=True).click()
    page.get_by_text("finished:").first.wait_for(timeout=180_000)
    _wait_idle(page)
    dag_text = _dag_text(page)
    assert "pending" not in dag_text and "running" not in dag_text and "failed" not in dag_text
    for node in ("parsed_files", "chunks", "fresh_embeddings", "written_chunk_ids", "ingestion_counts"):
        assert node in dag_text
    assert dag_text.count("done") >= 25
    _shot(page, "ingest")

    _search(page, server, "Who was the first keeper of the lighthouse?")
    first_card = page.locator(".st-key-hit_1")
    first_card.get_by_text("Ada Fenwick", exact=False).first.wait_for()
    assert "guild.pdf" in first_card.inner_text()
    _shot(page, "retrieve")

    page.goto(server + "/compare")
    _wait_idle(page)
    page.get_by_placeholder("The same question goes to both sides").fill("When does the guild meet?")
    page.get_by_role("button", name="Search both").click()
    page.get_by_text("found by both sides").wait_for()
    _wait_idle(page)
    _shot(page, "compare")

    page.goto(server + "/chat")
    _wait_idle(page)
    page.get_by_placeholder("Ask the documents…").fill("What is the guild's emblem?")
    page.keyboard.press("Enter")
    page.get_by_text("Extracted, not generated").first.wait_for()
    _wait_idle(page)
    assert "silver gull" in page.locator("[data-testid='stChatMessage']").last.inner_text()
    _shot(page, "chat")

    page.goto(server + "/runs")
    _wait_idle(page)
    page.get_by_role("heading").filter(has_text="succeeded").first.wait_for()
    _shot(page, "runs")

    page.goto(server)
    _wait_idle(page)
    page.get_by_text("chunks").first.wait_for()
    _shot(page, "home")


@needs_chromium
def test_try_it_then_benchmark_dense_against_hybrid_on_the_same_squad_questions(page, server, server_data_dir):
    from tests.conftest import shared_squad_path
    from workbench import api

    if not shared_squad_path().exists():
        pytest.skip("the shared SQuAD dev set is not beside the repo (Try it reads it)")
    page.goto(server)
    _wait_idle(page)
    page.get_by_role("button", name=re.compile("^Try it")).click()
    page.get_by_text(re.compile(r"Done: \d+ chunks written")).wait_for(timeout=300_000)
    _wait_idle(page)
    key = next(m["index_key"] for m in api.indexes(str(server_data_dir)) if m["index_name"] == "squad_sample")

    page.goto(f"{server}/compare?a={quote(key)}&b={quote(key)}")
    _wait_idle(page)
    page.get_by_role("combobox", name="Retrieval mode").nth(1).click()
    page.get_by_role("option", name="Hybrid (fused)").click()
    _wait_idle(page)
    page.get_by_role("button", name="Run benchmark on both").click()
    page.get_by_text("Latency per question, ms (lower is better)").wait_for(timeout=300_000)
    _wait_idle(page)
    page.locator("[data-testid='stVegaLiteChart']").nth(1).wait_for()  # the charts draw after the table
    assert page.locator("[data-testid='stVegaLiteChart']").count() == 2  # relevance and latency, both sides
    evaluations = api.evaluations(str(server_data_dir), index_key=key, limit=10)
    assert sorted(e["config"]["retrieval_mode"] for e in evaluations[:2]) == ["dense", "hybrid"]
    assert evaluations[0]["questions"] == evaluations[1]["questions"] > 0
    _shot(page, "compare_benchmark")


def test_screenshots_are_copied_for_the_readme():
    """The README shows the screenshots this test takes; copy them to docs/screenshots when asked to."""
    if os.environ.get("UPDATE_SCREENSHOTS") != "1" or not ARTIFACTS.exists():
        pytest.skip("set UPDATE_SCREENSHOTS=1 to refresh docs/screenshots from test-artifacts/")
    target = REPO / "docs" / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    shown = set(re.findall(r"docs/screenshots/([\w-]+\.png)", (REPO / "README.md").read_text(encoding="utf-8")))
    copied = [shutil.copy(ARTIFACTS / name, target / name) for name in sorted(shown)]
    assert len(copied) == len(shown) >= 6
