"""What a new user sees, in chromium against a fresh `streamlit run`: the first paint, a live DAG that follows the
run (sync and Ray), a source opened at its page, a document deleted, the Runs DAG — and no request leaving 127.0.0.1.

The first test opens a page URL on a server nobody has visited yet (its own module-scoped server). Every test
listens to the browser's requests; any to a host other than 127.0.0.1 fails it.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.test_browser import (  # noqa: F401  (fixtures)
    DAG_IMAGE,
    _dag_text,
    _search,
    _shot,
    _wait_idle,
    needs_chromium,
    page,
    server,
    server_data_dir,
)
from tests.pdfs import make_pdf

pytestmark = pytest.mark.e2e

PAGE_TITLES = ["Home", "Ingest", "Retrieve", "Compare", "Chat", "Questions", "Runs"]
GUILD_PAGES = [
    "The Lighthouse Keepers Guild was founded in 1884 in the harbour town of Marrowick.\n"
    "Its first keeper, Ada Fenwick, kept the lamp lit for forty-one winters.",
    "The guild's emblem is a silver gull holding a brass key.\n"
    "Members meet every October in the old rope works by the quay.",
]
QUESTION = "Who was the first keeper of the lighthouse guild?"
_LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")


@pytest.fixture
def outside_requests(page):  # noqa: F811
    """Every request the page makes to a host other than 127.0.0.1 during the test; the test fails on any."""
    seen: list[str] = []

    def listen(request) -> None:
        if not request.url.startswith(_LOCAL):
            seen.append(request.url)

    page.on("request", listen)
    yield seen
    page.remove_listener("request", listen)
    assert seen == [], f"requests left 127.0.0.1: {seen[:5]}"


@pytest.fixture
def guild_indexed(server, server_data_dir):  # noqa: F811
    """guild.pdf in the server's default index, as the live-DAG test uploads it: a test that reads it runs alone too
    (ingesting it again when it is there writes nothing)."""
    from workbench import api
    from workbench.api import InputFile

    run = api.ingest({"source": "files", "data_dir": str(server_data_dir)}, files=[InputFile("guild.pdf", data=make_pdf(GUILD_PAGES))])
    assert run["status"] == "succeeded", run


def _corpus(folder, documents: int, paragraphs: int) -> list[str]:
    """Text files of distinct, readable paragraphs: enough chunks that embedding them is a long node."""
    paths = []
    for number in range(documents):
        text = "\n\n".join(
            f"Report {number}, section {part}: the harbour crew {number * 31 + part} logged tide {part * 7 % 13} "
            f"metres at station {number}-{part}, and the lamp of tower {part} burned {number + part} hours. "
            "Keepers wrote the weather, the ships that passed, the oil used and the repairs made to the lens. " * 3
            for part in range(paragraphs))
        path = folder / f"report_{number:02d}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    return paths


def _dag_state(page) -> str:  # noqa: F811
    """The live DAG's text with the ticking seconds taken out: two snapshots differ only when a node's state changed."""
    text = _dag_text(page)
    return re.sub(r"\d+(\.\d+)?\s*s\b", "", text)


def _ingest_watching_the_dag(page, server, files: list[str], executor: str = "") -> list[str]:  # noqa: F811
    """Upload the files, pick the executor, press Ingest and record the DAG's states until the run finishes."""
    page.goto(server + "/ingest")
    _wait_idle(page)
    page.locator("input[type=file]").set_input_files(files)
    _wait_idle(page)
    if executor:
        page.get_by_text("Scale: batches and executor").click()
        _wait_idle(page)
        page.get_by_role("combobox", name="Executor").click()
        page.keyboard.type(executor)
        page.keyboard.press("Enter")
        _wait_idle(page)
        batch = page.get_by_role("spinbutton", name="Documents per batch")
        batch.fill("3")
        batch.press("Enter")
        _wait_idle(page)
        picked = page.locator("[data-testid='stSelectbox']").filter(has_text="Executor").first.evaluate("e => e.outerHTML")
        assert executor in picked, picked[:3000]
    page.get_by_role("button", name="Ingest", exact=True).click()
    states: list[str] = []
    deadline = time.time() + 300
    finished = page.get_by_text(re.compile(r"Run \S+ finished"))
    while time.time() < deadline and not finished.count():
        try:
            states.append(_dag_state(page))
        except Exception:  # the chart is being replaced between two redraws
            pass
        page.wait_for_timeout(400)
    finished.first.wait_for(timeout=5_000)
    _wait_idle(page)
    states.append(_dag_state(page))
    return states


@needs_chromium
def test_a_page_link_on_a_fresh_server_paints_its_title_and_page_titles(page, server, outside_requests):  # noqa: F811
    """First paint: the title and the navigation's page titles (not file names) without waiting for the model."""
    started = time.perf_counter()
    page.goto(server + "/retrieve")
    page.get_by_role("heading", name="Retrieve").first.wait_for(timeout=60_000)
    title_seconds = time.perf_counter() - started
    labels = page.locator('[data-testid="stSidebarNavLink"]').all_inner_texts()
    assert [label.split()[-1] for label in labels] == PAGE_TITLES
    assert not any(name in " ".join(labels) for name in ("app", "home.py", "retrieve.py"))
    print(f"first paint of /retrieve on a fresh server: title after {title_seconds:.2f} s")  # a figure, not a bound
    _wait_idle(page)


@needs_chromium
def test_the_live_dag_shows_a_running_node_then_every_node_done(page, server, tmp_path, outside_requests):  # noqa: F811
    pdf = tmp_path / "guild.pdf"
    pdf.write_bytes(make_pdf(GUILD_PAGES))
    states = _ingest_watching_the_dag(page, server, [str(pdf), *_corpus(tmp_path, 10, 8)])
    distinct = list(dict.fromkeys(states))
    assert len(distinct) >= 3, distinct
    assert any("running" in state for state in distinct), distinct
    assert "pending" in distinct[0] and "done" not in distinct[0].replace("done with errors", "")
    final = distinct[-1]
    assert "running" not in final and "pending" not in final and "failed" not in final
    assert final.count("done") >= 25
    _shot(page, "ingest_live")


@needs_chromium
def test_the_live_dag_follows_ray_workers(page, server, tmp_path, outside_requests):  # noqa: F811
    pytest.importorskip("ray")
    states = _ingest_watching_the_dag(page, server, _corpus(tmp_path, 6, 6), executor="Ray")
    distinct = list(dict.fromkeys(states))
    assert len(distinct) >= 3, distinct
    assert any("running" in state for state in distinct), distinct
    assert "running" not in distinct[-1] and "failed" not in distinct[-1]


@needs_chromium
def test_a_hit_opens_its_pdf_page_highlighted(page, server, guild_indexed, outside_requests):  # noqa: F811
    _search(page, server, QUESTION)
    card = page.locator(".st-key-hit_1")
    card.get_by_text("Ada Fenwick", exact=False).first.wait_for()  # the card's text draws after its widgets
    assert "guild.pdf" in card.inner_text()
    card.get_by_text("Open source").click()
    card.locator("[data-testid='stImage'] img").first.wait_for()
    _wait_idle(page)
    caption = card.locator("[data-testid='stImage']").first.inner_text()
    assert "page 1 of 2" in caption and "highlighted" in caption, caption
    size = card.locator("[data-testid='stImage'] img").first.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert size[0] > 300 and size[1] > 300, size  # a rendered page, not an icon
    _shot(page, "open_source")


@needs_chromium
def test_the_runs_dag_is_the_function_nodes_beside_a_settings_table(page, server, outside_requests):  # noqa: F811
    page.goto(server + "/runs")
    _wait_idle(page)
    page.get_by_role("tab", name="DAG").click()
    _wait_idle(page)
    text = _dag_text(page)
    for node in ("parsed_files", "chunks", "fresh_embeddings", "written_chunk_ids"):
        assert node in text
    for config_input in ("chunk_overlap", "embedding_batch_size", "upsert_batch_size"):
        assert config_input not in text  # config inputs are in the table, not stacked in the picture
    box = page.locator(DAG_IMAGE).first.bounding_box()
    assert box and box["width"] > 500, box  # wide enough to read
    assert page.get_by_text("chunk_overlap").count() >= 1  # the settings table
    _shot(page, "runs_dag")


@needs_chromium
def test_a_deleted_document_is_listed_no_more_and_found_by_no_search(page, server, guild_indexed, outside_requests):  # noqa: F811
    page.goto(server)
    _wait_idle(page)
    page.get_by_text("Documents", exact=True).first.click()
    _wait_idle(page)
    assert page.locator("[data-testid='stDataFrame']").count() >= 1  # the documents table (drawn on a canvas)
    page.get_by_role("combobox", name="Document").first.click()
    page.keyboard.type("guild.pdf")
    page.keyboard.press("Enter")
    _wait_idle(page)
    page.get_by_text(re.compile(r"Yes, delete guild\.pdf from")).click()
    _wait_idle(page)
    page.get_by_role("button", name="Delete the document").click()
    page.get_by_text(re.compile(r"Deleted guild\.pdf: \d+ chunks?")).wait_for()
    _wait_idle(page)
    _shot(page, "home_documents")
    for mode in ("Dense (vectors)", "Lexical (BM25 / full text)", "Hybrid (fused)"):
        _search(page, server, QUESTION, mode)
        main = page.locator("[data-testid='stMain']").inner_text()
        assert "guild.pdf" not in main and "Ada Fenwick" not in main, mode
