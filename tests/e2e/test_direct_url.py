"""A page URL opened first on a fresh server gets app.py's navigation and API-key fields.

Streamlit serves files of a `pages/` folder directly until the main script has run once in the
server process; the page files live in `views/` so every URL goes through app.py's `st.navigation`.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import _wait_idle, needs_chromium, page, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e


@needs_chromium
def test_a_page_url_opened_first_has_the_navigation_and_the_key_fields(server, page):  # noqa: F811
    page.goto(server + "/runs")
    _wait_idle(page)
    page.get_by_role("heading", name="Runs").first.wait_for()
    labels = page.locator('[data-testid="stSidebarNavLink"]').all_inner_texts()
    assert [label.split()[-1] for label in labels] == ["Home", "Ingest", "Retrieve", "Compare", "Chat", "Runs"]
    assert page.get_by_text("API keys").count() == 1
