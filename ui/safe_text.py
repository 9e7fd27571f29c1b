"""Document text shown as text, never as markup: escaping and query-term highlighting.

Documents are untrusted. Everything taken from them is HTML-escaped and has its Markdown-active
characters turned into entities, so `<script>`, `<img onerror=...>` or `[x](javascript:...)` show
up literally; only the `<mark>` tags added here are real markup.
"""

from __future__ import annotations

import re

_MARKDOWN_ACTIVE = {
    "[": "&#91;", "]": "&#93;", "(": "&#40;", ")": "&#41;", "*": "&#42;", "_": "&#95;", "`": "&#96;",
    "#": "&#35;", "~": "&#126;", "|": "&#124;", "$": "&#36;", ":": "&#58;", "!": "&#33;", "\\": "&#92;",
    "{": "&#123;", "}": "&#125;", "+": "&#43;", "-": "&#45;", ">": "&gt;", "<": "&lt;", "&": "&amp;",
    '"': "&quot;", "'": "&#39;", "=": "&#61;",
}
_STOP_WORDS = frozenset(
    "a an and are as at be by did do does for from had has have how in is it its of on or that the their this to"
    " was were what when where which who whom whose why will with".split()
)


# Markdown turns a URL, a www. name or an e-mail address in plain text into a link (GFM autolink literals), even with
# its ':' written as an entity; an empty tag inside each marker splits the text so no link can form, and adds nothing
# a reader sees or copies.
_AUTOLINK_MARKERS = re.compile(r"&#58;//|www\.|@", re.IGNORECASE)


def _unlinkable(escaped: str) -> str:
    """Escaped text with an empty <span> inside every '://', 'www.' and '@', so no autolink can form."""
    return _AUTOLINK_MARKERS.sub(lambda m: m.group(0)[:-1] + "<span></span>" + m.group(0)[-1] if m.group(0) != "@"
                                 else "<span></span>@<span></span>", escaped)


def escape_text(text: str) -> str:
    """Text made inert for `st.markdown(..., unsafe_allow_html=True)`: HTML-escaped, Markdown-neutral, no autolinks,
    newlines kept."""
    return _unlinkable("".join(_MARKDOWN_ACTIVE.get(ch, ch) for ch in text)).replace("\n", "<br>")


# Streamlit Markdown without HTML (st.error, st.warning, st.info, widget and expander labels): the characters
# that start markup anywhere, `_` where it can start or end emphasis (not inside a word), `:` where it starts
# a Streamlit directive or shortcode (`:red[x]`, `:material/home:`), and block markers at the start of a line.
_INLINE_ACTIVE = re.compile(r"[\\`*\[\]<>#~|$&]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|:(?=[\w/+-]+[:\[])")
_LINE_START_ACTIVE = re.compile(r"^([ \t]*(?:\d+)?)([-+=.)])", re.MULTILINE)


def markdown_literal(text: str) -> str:
    """Text shown literally by Streamlit's Markdown when HTML is off: Markdown- and HTML-active characters backslash-escaped.

    For messages and labels that carry document-derived text (file names, titles, parser errors). CommonMark
    allows a backslash before any ASCII punctuation, so the escapes vanish and the characters show as typed.
    """
    escaped = _INLINE_ACTIVE.sub(lambda match: "\\" + match.group(0), text)
    return _LINE_START_ACTIVE.sub(lambda match: match.group(1) + "\\" + match.group(2), escaped)


def query_terms(question: str) -> list[str]:
    """The words of a question worth highlighting: lower-cased, no stop words, at least 3 characters."""
    words = re.findall(r"\w+", question.lower())
    return sorted({w for w in words if len(w) >= 3 and w not in _STOP_WORDS}, key=len, reverse=True)


def highlighted(text: str, question: str) -> str:
    """Escaped text with the question's terms wrapped in <mark>, safe to render as HTML."""
    terms = query_terms(question)
    if not terms:
        return escape_text(text)
    pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in terms) + r")\w*", re.IGNORECASE)
    pieces, position = [], 0
    for match in pattern.finditer(text):
        pieces.append(escape_text(text[position : match.start()]))
        pieces.append("<mark>" + escape_text(match.group(0)) + "</mark>")
        position = match.end()
    pieces.append(escape_text(text[position:]))
    return "".join(pieces)
