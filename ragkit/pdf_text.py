"""Clean-ups of the text a PDF parser gives, page by page, before it becomes a document.

- letter-spaced runs joined: "m y _ d a t a f l o w" → "my_dataflow" (tracked-out titles, some code fonts);
- words hyphenated across lines rejoined: "con-\\nfiguration" → "configuration", while compounds broken at
  their hyphen keep it ("command-\\nline" → "command-line"), by the document's own vocabulary;
- running headers and footers (a line repeated at the top or bottom of most pages, page numbers
  included) dropped;
- numbered headings ("2.1 Package management") found in the lines, for PDFs without an outline.

Page numbers never change: each function maps a list of page texts to a list of the same length.
"""

from __future__ import annotations

import math
import re
from collections import Counter

# --- letter-spaced runs -------------------------------------------------------------------------------

# One character (not an operator, so "x = a + b" stays as it is) between spaces or line ends.
_SPACED_CHAR = r"[\w.,:;!?'\"()\[\]/\\@#$%-]"
_LETTER_RUN = re.compile(rf"(?<![^\s]){_SPACED_CHAR}(?: {_SPACED_CHAR}){{3,}}(?![^\s])")
_SHORT_RUN = re.compile(rf"(?<![^\s]){_SPACED_CHAR}(?: {_SPACED_CHAR})+(?![^\s])")
_MIN_WORD_CHARACTERS = 3


def _is_letter_spaced(run: str) -> bool:
    return sum(character.isalnum() or character == "_" for character in run[::2]) >= _MIN_WORD_CHARACTERS


def join_letter_spaced(text: str) -> str:
    """Runs of four or more single characters separated by single spaces joined into words, line by line.

    On a line that has such a run, shorter runs (two or three characters, "m y") are joined too: a
    letter-spaced line keeps its word gaps as two or more spaces. A line without one is left alone, so
    "a I" or "x = a + b" never change.
    """
    if " " not in text:
        return text
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if not any(_is_letter_spaced(match.group()) for match in _LETTER_RUN.finditer(line)):
            continue
        joined = _SHORT_RUN.sub(lambda match: match.group().replace(" ", ""), line)
        lines[number] = re.sub(r" {2,}", " ", joined)
    return "\n".join(lines)


def letter_spaced_runs(text: str) -> int:
    """How many letter-spaced runs (four or more spaced single characters) a text still holds."""
    return sum(_is_letter_spaced(match.group()) for match in _LETTER_RUN.finditer(text))


# --- hyphenation across lines ---------------------------------------------------------------------------

_BREAK = re.compile(r"(?<![\w-])([A-Za-z]+)-[ \t]*\n[ \t]*([a-z][A-Za-z]*)\b")
_WORD = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*")


def _vocabulary(pages: list[str]) -> tuple[set[str], set[str]]:
    """Words (lower case) and hyphenated compounds of the pages, leaving out the fragments at line-end breaks."""
    words: set[str] = set()
    compounds: set[str] = set()
    for page in pages:
        for token in _WORD.findall(_BREAK.sub(" ", page)):
            token = token.lower()
            if "-" in token:
                compounds.add(token)
                words.update(token.split("-"))
            else:
                words.add(token)
    return words, compounds


def rejoin_hyphenated(pages: list[str]) -> list[str]:
    """Words broken with a hyphen at a line end made whole again, by the document's own vocabulary.

    "left-\\nright" becomes "leftright" when that word occurs elsewhere in the document; it stays
    "left-right" when that compound occurs elsewhere, or when both halves are words of the document and
    the joined word is not (a compound broken at its own hyphen: "command-\\nline"); otherwise it is
    joined (typesetters break words at syllables: "con-\\nfiguration"). A next line starting with a
    capital letter is never joined.
    """
    words, compounds = _vocabulary(pages)

    def rejoin(match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(2)
        joined = (left + right).lower()
        if joined in words:
            return left + right
        if f"{left}-{right}".lower() in compounds or (left.lower() in words and right.lower() in words):
            return f"{left}-{right}"
        return left + right

    return [_BREAK.sub(rejoin, page) for page in pages]


def hyphen_breaks(text: str) -> int:
    """How many line-end hyphen breaks ("word-" then a line starting in lower case) a text holds."""
    return len(_BREAK.findall(text))


# --- running headers and footers ------------------------------------------------------------------------

_EDGE_LINES = 2  # lines at the top and at the bottom of a page that may be a running header or footer
_MIN_PAGES = 4
_MIN_SHARE = 0.5
_ROMAN = re.compile(r"^[ivxlcdm]+$")


def _line_key(line: str) -> str:
    """A line as compared across pages: spaces collapsed, case folded, numbers (page numbers) as '#'."""
    key = re.sub(r"\s+", " ", line).strip().casefold()
    key = re.sub(r"\d+", "#", key)
    return "#" if _ROMAN.match(key) else key


def _edge_lines(lines: list[str]) -> list[tuple[str, int]]:
    """The first and last non-empty lines of a page (up to `_EDGE_LINES` each), outermost first, with their edge."""
    filled = [index for index, line in enumerate(lines) if line.strip()]
    top = filled[:_EDGE_LINES]
    bottom = [index for index in reversed(filled[-_EDGE_LINES:]) if index not in top]
    return [("top", index) for index in top] + [("bottom", index) for index in bottom]


def _is_page_marked(key: str) -> bool:
    """A line that starts or ends with a number (masked), as running heads with a page number do ("12 / 233", "Chapter 6: Legal Matters 5")."""
    return len(key) <= 100 and (key.startswith("#") or key.endswith("#"))


def drop_running_lines(pages: list[str]) -> list[str]:
    """Lines at the top or bottom of a page that recur there on at least half the pages (running headers, footers, page numbers) removed.

    Lines are compared with numbers masked, so "Page 3 of 40" and "Page 4 of 40" are one footer; a line that starts
    or ends with a number (a chapter's running head with its page number, "Chapter 6: Legal Matters 5") recurring at
    the same edge of three or more pages counts as running too. Only lines at the very edge go, outermost first (a
    second line only when the one outside it went too), and never a page's last line of text. Documents of fewer
    than four pages with text are left alone.
    """
    split = [page.split("\n") for page in pages]
    with_text = sum(bool(page.strip()) for page in pages)
    if with_text < _MIN_PAGES:
        return list(pages)
    seen: Counter[tuple[str, str]] = Counter()
    for lines in split:
        seen.update({(edge, _line_key(lines[index])) for edge, index in _edge_lines(lines)})
    needed = max(3, math.ceil(_MIN_SHARE * with_text))
    running = {key for key, count in seen.items() if count >= needed or (count >= 3 and _is_page_marked(key[1]))}
    result = []
    for page, lines in zip(pages, split):
        drop: set[int] = set()
        for edge in ("top", "bottom"):
            for side, index in _edge_lines(lines):
                if side != edge:
                    continue
                if (edge, _line_key(lines[index])) not in running:
                    break
                drop.add(index)
        kept = [line for index, line in enumerate(lines) if index not in drop]
        result.append("\n".join(kept) if drop and any(line.strip() for line in kept) else page)  # never a page emptied
    return result


def clean_pages(pages: list[str]) -> list[str]:
    """The three clean-ups in order: running lines dropped (they are whole lines), letter-spaced runs joined, hyphenated words rejoined."""
    pages = drop_running_lines(pages)
    pages = [join_letter_spaced(page) for page in pages]
    return rejoin_hyphenated(pages)


# --- numbered headings ------------------------------------------------------------------------------------

_NUMBERED = re.compile(r"^[ \t]*((?:\d+\.)*\d+)\.?[ \t]+([A-Z][^\n]{1,78}?)[ \t]*$", re.MULTILINE)
_MAX_HEADING_WORDS = 12


def numbered_headings(text: str) -> list[tuple[int, int, str]]:
    """Lines that look like numbered headings ("2", "2.1", "2.1.3" then a capitalised short title, no final
    period, no trailing page number as in a table of contents): (offset in text, level, heading)."""
    found = []
    for match in _NUMBERED.finditer(text):
        number, title = match.group(1), match.group(2).strip()
        if (title[-1] in ".,;:" or len(title.split()) > _MAX_HEADING_WORDS or re.search(r"(\.\s*){3,}|\s\d+$", title)
                or int(number.split(".")[0]) > 99):
            continue
        found.append((match.start(1), number.count(".") + 1, f"{number} {title}"))
    return found
