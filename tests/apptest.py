"""Opening a page of the app in Streamlit's AppTest, as a person would: app.py first, then the page."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import REPO


def open_page(page: str, timeout: float = 300) -> AppTest:
    """app.py run through its navigation to `page` (e.g. "pages/compare.py"), with no exception on the way."""
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    app.run()
    app.switch_page(page)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app
