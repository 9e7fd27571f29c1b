"""Extraction quality and speed of each PDF parser on the real-document PDFs (bench/fetch_real_docs.py).

    python bench/extraction_quality.py [--parsers pypdf,pypdfium2] [--repeat 1]

For each parser, raw and with the clean-ups (`clean_pdf_text`), over the four PDFs: pages/s (parsing in this
process, best of --repeat), words, and the quality figures:

- vocabulary: the lower-case words that every parser's raw text contains (a word two engines both read is a
  word; run-together text is read by one only);
- out-of-vocabulary share: tokens (3+ letters) not in that vocabulary;
- run-together words: out-of-vocabulary tokens that split into two or more vocabulary words ("theshellprompt");
- letter-spaced runs left ("m y _ d a t a"), line-end hyphen breaks left ("con-" / "figuration"), lines dropped as
  running headers/footers, headings found (outline) and placed where their text is (within 200 characters).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from fetch_real_docs import real_doc_paths  # noqa: E402

from ragkit.parsers import PDF_PARSERS, Extraction, parse_pdf  # noqa: E402
from ragkit.pdf_text import drop_running_lines, hyphen_breaks, letter_spaced_runs  # noqa: E402

_TOKEN = re.compile(r"[A-Za-z]{3,}")


def _tokens(text: str) -> list[str]:
    return [token.lower() for token in _TOKEN.findall(text)]


def _squeezed(text: str) -> str:
    """Letters and digits only, case folded: how a heading is found in text that may run its words together."""
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def _splits(token: str, vocabulary: frozenset[str]) -> bool:
    """Whether a token is two or more vocabulary words (each of 2+ letters) run together."""

    @cache
    def parts(start: int) -> int:  # the fewest words covering token[start:], 0 = none
        if start == len(token):
            return 0
        best = -1
        for end in range(len(token), start + 1, -1):
            if token[start:end] in vocabulary:
                rest = parts(end)
                if rest >= 0 and (best < 0 or rest + 1 < best):
                    best = rest + 1
        return best

    return parts(0) >= 2


def _extract_all(paths: dict[str, Path], parser: str, clean: bool, repeat: int) -> tuple[dict[str, Extraction], float]:
    best = float("inf")
    result: dict[str, Extraction] = {}
    for _ in range(repeat):
        started = time.perf_counter()
        result = {name: parse_pdf(path.read_bytes(), 0, parser, clean) for name, path in sorted(paths.items())}
        best = min(best, time.perf_counter() - started)
    return result, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parsers", default=",".join(PDF_PARSERS))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    parsers = args.parsers.split(",")
    paths = real_doc_paths()
    print(f"load average before: {' / '.join(f'{v:.2f}' for v in os.getloadavg())}")
    runs: dict[tuple[str, bool], tuple[dict[str, Extraction], float]] = {}
    for name in parsers:
        for clean in (False, True):
            runs[(name, clean)] = _extract_all(paths, name, clean, args.repeat)
    raw_words = [set(_tokens(" ".join(text for e in runs[(name, False)][0].values() for _, text in e.pages))) for name in parsers]
    vocabulary = frozenset(set.intersection(*raw_words))
    print(f"vocabulary: {len(vocabulary):,} words read by every parser ({', '.join(parsers)})\n")
    print("| parser | clean-up | pages | seconds | pages/s | words | out of vocabulary | run-together words | "
          "letter-spaced runs | hyphen breaks | running lines dropped | headings (on their line) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (name, clean), (extractions, seconds) in runs.items():
        pages = sum(len(e.pages) for e in extractions.values())
        texts = [text for e in extractions.values() for _, text in e.pages]
        tokens = [token for text in texts for token in _tokens(text)]
        unknown = [token for token in tokens if token not in vocabulary]
        together = sum(1 for token in unknown if len(token) >= 6 and _splits(token, vocabulary))
        dropped = 0
        for raw in runs[(name, False)][0].values():
            raw_pages = [text for _, text in raw.pages]
            dropped += sum(p.count("\n") for p in raw_pages) - sum(p.count("\n") for p in drop_running_lines(raw_pages))
        headings = sum(len(e.headings) for e in extractions.values())
        placed = sum(1 for e in extractions.values() for page, offset, _, text in e.headings
                     if _squeezed(text)[:12] in _squeezed(dict(e.pages)[page][offset:offset + 200]))
        words = sum(len(text.split()) for text in texts)
        print(f"| {name} | {'on' if clean else 'off'} | {pages} | {seconds:.1f} | {pages / seconds:.1f} | {words:,} | "
              f"{len(unknown) / max(1, len(tokens)):.2%} ({len(unknown):,}) | {together:,} | "
              f"{sum(letter_spaced_runs(t) for t in texts)} | {sum(hyphen_breaks(t) for t in texts)} | "
              f"{dropped if clean else 0:,} | {headings} ({placed}) |")
    print(f"\nload average after: {' / '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
