"""A page URL opened first on a fresh server gets app.py's navigation and API-key fields.

Streamlit runs a file of `pages/` on its own until app.py has run once in the server process; each
page hands such a run over to app.py (`ui/navigation.py`), keeping its URL.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import _wait_idle, needs_chromium, page, server, server_data_dir  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e


@needs_chromium
def test_a_page_url_opened_first_has_the_navigation_and_the_key_fields(server, page):  # noqa: F811
    page.goto(server + "/runs")
    _wait_idle(page)
    page.get_by_role("heading", name="Runs").first.wait_for()
    assert page.url.rstrip("/").endswith("/runs")
    labels = page.locator('[data-testid="stSidebarNavLink"]').all_inner_texts()
    assert [label.split()[-1] for label in labels] == ["Home", "Ingest", "Retrieve", "Compare", "Chat", "Questions", "Runs"]
    # The title and navigation paint before the workbench is imported (first paint); the key fields come after it.
    page.get_by_text("API keys").first.wait_for(timeout=60_000)
    _wait_idle(page)
    assert page.get_by_text("API keys").count() == 1
