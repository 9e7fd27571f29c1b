"""The index a person picked survives the sidebar, the browser's back and forward buttons, and a refresh."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from ragkit.schema import InputFile
from tests.e2e.test_browser import _wait_idle, needs_chromium, page, server, server_data_dir  # noqa: F401  (fixtures)
from workbench import api

pytestmark = pytest.mark.e2e


def _index_param(url: str) -> str:
    return parse_qs(urlparse(url).query).get("index", [""])[0]


def _shown_index(page) -> str:  # noqa: F811
    return page.get_by_role("combobox", name="Index", exact=True).input_value()  # "name · store · model (n chunks)"


@needs_chromium
def test_the_picked_index_is_kept_through_the_sidebar_back_forward_and_refresh(server, page, server_data_dir):  # noqa: F811
    for name, text in (("lighthouses", "Lighthouse lamps burn all night."), ("windmills", "Windmills grind grain.")):
        api.ingest({"source": "files", "data_dir": str(server_data_dir), "index_name": name},
                      files=[InputFile(name=f"{name}.txt", data=text.encode())], api_keys={})
    page.goto(server + "/retrieve")
    _wait_idle(page)
    first = _shown_index(page).split(" · ")[0]
    other = {"lighthouses": "windmills", "windmills": "lighthouses"}[first]
    page.get_by_role("combobox", name="Index", exact=True).click()
    page.get_by_role("option").filter(has_text=other).click()
    _wait_idle(page)
    assert _index_param(page.url).endswith(f"#{other}") and _shown_index(page).startswith(other)

    page.locator('[data-testid="stSidebarNavLink"]').filter(has_text="Chat").click()
    _wait_idle(page)
    page.get_by_role("heading", name="Chat").first.wait_for()
    assert _shown_index(page).startswith(other)

    page.go_back()  # back leaves the page: no URL write of the page's own traps it
    page.get_by_role("heading", name="Retrieve").first.wait_for()
    _wait_idle(page)
    assert urlparse(page.url).path == "/retrieve" and _shown_index(page).startswith(other)

    page.go_forward()
    page.get_by_role("heading", name="Chat").first.wait_for()
    _wait_idle(page)
    assert _shown_index(page).startswith(other)

    page.go_back()
    page.get_by_role("heading", name="Retrieve").first.wait_for()
    page.reload()  # a new session: only the URL remembers
    _wait_idle(page)
    page.get_by_role("heading", name="Retrieve").first.wait_for()
    assert _index_param(page.url).endswith(f"#{other}") and _shown_index(page).startswith(other)
