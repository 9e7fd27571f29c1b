"""Hostile document content in a real browser: shown as text on every page, never run or rendered as markup.

A document whose text (and file name, which becomes its title) holds `<script>`, `<img onerror>`,
`javascript:` links, iframes and Markdown is ingested with a broken file whose name is hostile too;
then Ingest, Retrieve, Compare, Chat (offline, extractive) and Runs are visited in chromium against a
real `streamlit run` (the server fixture of `test_browser.py`). On each page: `window.__xss` is never
set, no dialog opens, no element made from the content exists (a MutationObserver installed before
the app's own scripts records any that is ever inserted, even briefly), and the literal text shows.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_browser import _shot, _wait_idle, needs_chromium, page, server, server_data_dir  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=2">'
LINK = "[click](javascript:window.__xss=3)"
HOSTILE_TEXT = (
    "The Quillmere harbour report.\n"
    f"{SCRIPT}\n"
    f"{IMG}\n"
    f"{LINK}\n"
    '<iframe src="javascript:window.__xss=7"></iframe> <a href="javascript:window.__xss=8">a link</a> <b>bold?</b>\n'
    "<svg onload=window.__xss=9></svg> <style>body{display:none}</style> **strong** `code` ![pic](x) :red[colour] $x^2$\n"
    "The Quillmere lanterns are lit at dusk by the harbour master, every night of the year.\n"
    "Timetables at https://quillmere.example/lanterns\nor www.quillmere.example, questions to keeper@quillmere.example.\n"
)
HOSTILE_NAME = "quill <img src=x onerror=window.__xss=4> [x](javascript:window.__xss=5).txt"
BROKEN_NAME = "broken <img src=y onerror=window.__xss=6> **bold**.pdf"
QUESTION = "When are the Quillmere lanterns lit?"

# Runs in every document before the app's scripts: records content-made elements, even ones removed again.
WATCH = r"""
window.__hostileSeen = [];
const URL_ATTRIBUTES = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data'];
const suspicious = (el) => {
  if (!(el instanceof Element)) return false;
  const tag = el.tagName.toLowerCase();
  return (tag === 'script' && (el.textContent || '').includes('__xss'))
      || (tag === 'style' && (el.textContent || '').includes('display:none'))
      || [...el.attributes].some(a => (a.name.startsWith('on') && a.value.includes('__xss'))
                                      || (URL_ATTRIBUTES.includes(a.name) && /^\s*javascript:/i.test(a.value)));
};
new MutationObserver((mutations) => {
  for (const m of mutations) {
    for (const node of m.addedNodes) {
      const all = node instanceof Element ? [node, ...node.querySelectorAll('*')] : [];
      for (const el of all) if (suspicious(el)) window.__hostileSeen.push(el.outerHTML.slice(0, 200));
    }
    if (m.type === 'attributes' && suspicious(m.target)) window.__hostileSeen.push(m.target.outerHTML.slice(0, 200));
  }
}).observe(document, {childList: true, subtree: true, attributes: true});
"""

CHECK = r"""() => ({
  xss: typeof window.__xss === 'undefined' ? null : String(window.__xss),
  seen: window.__hostileSeen || ['(watcher missing)'],
  present: [...document.querySelectorAll('script, img, iframe, svg, a, style, object, embed')].filter(el =>
      (el.tagName !== 'A' && el.tagName !== 'STYLE' && (el.outerHTML || '').includes('__xss'))
      || /^\s*javascript:/i.test(el.getAttribute('href') || el.getAttribute('src') || '')
      || (el.tagName === 'STYLE' && el.textContent.includes('display:none'))).map(el => el.outerHTML.slice(0, 200)),
  links: [...document.querySelectorAll('a')].filter(a => (a.getAttribute('href') || '').includes('quillmere.example'))
      .map(a => a.outerHTML.slice(0, 200)),
})"""


@pytest.fixture(scope="module")
def watched(page):  # noqa: F811
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.add_init_script(WATCH)
    page.on("dialog", on_dialog)
    return page, dialogs


def _assert_inert(tab, dialogs: list[str], where: str) -> None:
    state = tab.evaluate(CHECK)
    assert state == {"xss": None, "seen": [], "present": [], "links": []}, where  # document text never becomes a link
    assert dialogs == [], where


def _visible_text(where, text: str) -> None:
    """`text` shows literally in `where` (a page or a locator); on failure a screenshot shows what did."""
    try:
        where.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=30_000)
    except Exception:
        page = getattr(where, "page", where)
        _shot(page, "hostile_failure")
        raise AssertionError(f"{text!r} is not shown as text; the page shows:\n{page.locator('body').inner_text()[:3000]}") from None


@needs_chromium
def test_hostile_content_is_shown_as_text_on_every_page(watched, server, tmp_path):  # noqa: F811
    page, dialogs = watched  # noqa: F811
    hostile = tmp_path / HOSTILE_NAME
    hostile.write_text(HOSTILE_TEXT, encoding="utf-8")
    broken = tmp_path / BROKEN_NAME
    broken.write_bytes(b"%PDF-1.4\nnot really a PDF " + HOSTILE_TEXT.encode())

    # Home first, as a person arriving would
    page.goto(server)
    _wait_idle(page)
    page.get_by_role("heading", name="RAG workbench").wait_for()
    _wait_idle(page)
    page.goto(server + "/ingest")
    _wait_idle(page)
    page.locator("[data-testid='stSidebar']").get_by_text("API keys").wait_for()  # inside app.py's navigation, as users see it
    page.locator("input[type=file]").set_input_files([str(hostile), str(broken)])
    page.get_by_text("quill", exact=False).first.wait_for()
    _wait_idle(page)
    page.get_by_role("button", name="Preview chunks").click()
    page.locator("[data-testid='stMarkdownContainer']").filter(has_text=re.compile(r"chunks? from \d+ documents?")).first.wait_for()
    _wait_idle(page)
    _visible_text(page, "broken <img src=y onerror=window.__xss=6> **bold**.pdf")  # the preview's file-error line
    _assert_inert(page, dialogs, "ingest preview")
    page.get_by_role("button", name="Ingest", exact=True).click()
    page.get_by_text(re.compile(r"finished( with errors)?:")).first.wait_for(timeout=180_000)
    _wait_idle(page)
    _visible_text(page, "broken <img src=y onerror=window.__xss=6> **bold**.pdf")  # "… was not ingested: …"
    _assert_inert(page, dialogs, "ingest")
    _shot(page, "hostile_ingest")

    page.goto(server + "/retrieve")
    _wait_idle(page)
    page.get_by_placeholder("e.g. Who won Super Bowl 50?").fill(QUESTION)
    page.get_by_role("button", name="Search").click()
    page.get_by_text(re.compile(r"\d+ hits? in \d+ ms")).first.wait_for(state="attached")  # attached: a hostile style could hide the page
    _wait_idle(page)
    page.locator(".st-key-hit_1").get_by_text("lit at dusk", exact=False).first.wait_for(state="attached")
    _assert_inert(page, dialogs, "retrieve")
    for literal in (SCRIPT, IMG, LINK, "<b>bold?</b>", "**strong**", "quill <img src=x onerror=window.__xss=4>"):
        _visible_text(page.locator(".st-key-hit_1"), literal)
    _shot(page, "hostile_retrieve")

    page.goto(server + "/compare")
    _wait_idle(page)
    page.get_by_placeholder("The same question goes to both sides").fill(QUESTION)
    page.get_by_role("button", name="Search both").click()
    page.get_by_text("found by both sides").wait_for()
    _wait_idle(page)
    for side in ("a", "b"):
        page.locator(f".st-key-hit{side}_1").get_by_text(SCRIPT, exact=False).first.wait_for()
    _assert_inert(page, dialogs, "compare")

    page.goto(server + "/chat")
    _wait_idle(page)
    page.get_by_placeholder("Ask the documents…").fill(QUESTION)
    page.keyboard.press("Enter")
    page.get_by_text("Extracted, not generated").first.wait_for()
    _wait_idle(page)
    answer = page.locator("[data-testid='stChatMessage']").last
    assert "lit at dusk" in answer.inner_text()
    source = answer.locator("[data-testid='stExpander']").filter(has_text="[1]").first
    _visible_text(source, "quill <img src=x onerror=window.__xss=4> [x](javascript:window.__xss=5)")  # the title
    source.locator("summary").first.click()
    source.get_by_text(SCRIPT, exact=False).first.wait_for(state="visible")
    _assert_inert(page, dialogs, "chat")
    _shot(page, "hostile_chat")

    page.goto(server + "/runs")
    _wait_idle(page)
    page.get_by_role("heading").filter(has_text="succeeded").first.wait_for()
    _visible_text(page, "broken <img src=y onerror=window.__xss=6> **bold**.pdf")  # the run's file error
    page.get_by_role("tab", name="Config").click()
    _assert_inert(page, dialogs, "runs")
    _shot(page, "hostile_runs")
