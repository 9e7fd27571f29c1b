"""Check the real-document benchmark's questions against the PDFs they are labelled with.

For every label, the answer string must occur (whitespace collapsed, case folded) in the text of the
labelled page as the project's own parser (`ragkit.parsers.parse_file`, with the product's default `pdf_parser` and
`clean_pdf_text`, or --pdf-parser / --[no-]clean-pdf-text) extracts it, and
on at most 3 pages of the whole corpus. The script also checks the file format (ids, kinds, documents,
pages, 2-12 word answers) and that the subset file's questions are copies of main-file questions.

    python bench/real_docs/check_questions.py [--questions FILE] [--subset FILE] [--cache-dir DIR]

Prints per-document and per-kind counts and every failing label; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from bench.fetch_real_docs import DOCUMENTS, VERSIONS_FILE, real_doc_paths  # noqa: E402
from ragkit.parsers import PDF_PARSERS, parse_file  # noqa: E402
from workbench.config import DEFAULTS  # noqa: E402

KINDS = ("factual", "howto", "definition", "list", "table")
MAX_PAGES_WITH_ANSWER = 3
ANSWER_WORDS = (2, 12)
DEFAULT_QUESTIONS = HERE / "questions.jsonl"
DEFAULT_SUBSET = HERE / "questions_subset.jsonl"
# The package versions the questions were written against; another version may move pages.
WRITTEN_AGAINST = {"debian-reference-en": "2.100", "developers-reference": "12.18", "gnu-standards": "2022.03.23-0.1"}

_SPACE = re.compile(r"\s+")


def _normalised(text: str) -> str:
    """Whitespace runs collapsed to one space, case folded: how answer strings are compared."""
    return _SPACE.sub(" ", text).strip().casefold()


def load_questions(path: Path) -> list[dict]:
    """The questions of a JSONL file, one object a line (blank lines skipped)."""
    questions = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                questions.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise SystemExit(f"{path}:{number}: not JSON ({error})") from None
    return questions


def version_warnings(cache: Path) -> list[str]:
    """One line per package whose cached version differs from the one the questions were written against."""
    path = cache / VERSIONS_FILE
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [f"no readable {path}: cannot tell which package versions the PDFs come from"]
    return [
        f"{package} is {recorded.get(package, 'unknown')}, the questions were written against {version}"
        for package, version in WRITTEN_AGAINST.items()
        if recorded.get(package) != version
    ]


def load_pages(paths: dict[str, Path], pdf_parser: str = DEFAULTS["pdf_parser"],
               clean_pdf_text: bool = DEFAULTS["clean_pdf_text"]) -> dict[str, dict[int, str]]:
    """{document: {1-based page: normalised text}} through the project's parser (the product's default extraction)."""
    pages: dict[str, dict[int, str]] = {}
    for name, path in paths.items():
        pages[name] = {number: _normalised(text) for number, text in
                       parse_file(name, path.read_bytes(), pdf_parser=pdf_parser, clean_pdf_text=clean_pdf_text)}
    return pages


def _pages_containing(answer: str, pages: dict[str, dict[int, str]]) -> list[tuple[str, int]]:
    """Every (document, page) of the corpus whose text contains the normalised answer."""
    wanted = _normalised(answer)
    return [(name, number) for name, texts in pages.items() for number, text in texts.items() if wanted in text]


def _format_problems(question: dict) -> list[str]:
    """What is wrong with a question's fields, before looking at the PDFs."""
    problems = []
    if not str(question.get("id", "")).strip():
        problems.append("no id")
    if not str(question.get("question", "")).strip():
        problems.append("no question text")
    if question.get("kind") not in KINDS:
        problems.append(f"kind {question.get('kind')!r} is not one of {', '.join(KINDS)}")
    labels = question.get("labels")
    if not isinstance(labels, list) or not 1 <= len(labels) <= 2:
        problems.append("needs 1 or 2 labels")
    return problems


def _label_problems(label: dict, pages: dict[str, dict[int, str]]) -> list[str]:
    """What is wrong with one label: its document, page, answer length, and where the answer occurs."""
    document, page, answer = label.get("document"), label.get("page"), str(label.get("answer", ""))
    if document not in pages:
        return [f"unknown document {document!r}"]
    if not isinstance(page, int) or page not in pages[document]:
        return [f"page {page!r} is not a page of {document} (1..{len(pages[document])})"]
    problems = []
    words = len(answer.split())
    if not ANSWER_WORDS[0] <= words <= ANSWER_WORDS[1]:
        problems.append(f"answer has {words} words, not {ANSWER_WORDS[0]}-{ANSWER_WORDS[1]}")
    found = _pages_containing(answer, pages)
    where = ", ".join(f"{name} p{number}" for name, number in found[:8]) or "nowhere"
    if (document, page) not in found:
        problems.append(f"answer {answer!r} is not on {document} p{page} (found on: {where})")
    if len(found) > MAX_PAGES_WITH_ANSWER:
        problems.append(f"answer {answer!r} occurs on {len(found)} pages (over {MAX_PAGES_WITH_ANSWER}): {where}")
    return problems


def check(questions: list[dict], pages: dict[str, dict[int, str]]) -> list[str]:
    """Every failure of the questions, one line each (empty: all pass)."""
    failures = []
    seen: set[str] = set()
    for question in questions:
        qid = str(question.get("id", "?"))
        if qid in seen:
            failures.append(f"{qid}: duplicate id")
        seen.add(qid)
        failures.extend(f"{qid}: {problem}" for problem in _format_problems(question))
        for label in question.get("labels") or []:
            failures.extend(f"{qid}: {problem}" for problem in _label_problems(label, pages))
    return failures


def check_subset(subset: list[dict], questions: list[dict]) -> list[str]:
    """Failures of the subset file: each of its questions must be a copy of the main file's."""
    by_id = {str(question.get("id")): question for question in questions}
    failures = []
    for question in subset:
        qid = str(question.get("id"))
        if by_id.get(qid) != question:
            failures.append(f"subset {qid}: not an exact copy of a question in the main file")
    return failures


def _print_counts(questions: list[dict]) -> None:
    """Questions and labels per document, questions per kind."""
    per_document: Counter[str] = Counter()
    labels_per_document: Counter[str] = Counter()
    for question in questions:
        documents = {label.get("document") for label in question.get("labels") or []}
        per_document.update(documents)
        labels_per_document.update(label.get("document") for label in question.get("labels") or [])
    print(f"{len(questions)} questions")
    print("per document (questions / labels):")
    for name in DOCUMENTS:
        print(f"  {name:28} {per_document[name]:3} / {labels_per_document[name]:3}")
    print("per kind:")
    kinds = Counter(question.get("kind") for question in questions)
    for kind in KINDS:
        print(f"  {kind:28} {kinds[kind]:3}")


def main(argv: list[str] | None = None) -> int:
    """Command line: check the questions (and the subset), print counts and failures; 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--subset", type=Path, default=DEFAULT_SUBSET, help="checked against --questions too")
    parser.add_argument("--cache-dir", default=None, help="PDF cache folder (default as bench/fetch_real_docs.py)")
    parser.add_argument("--pdf-parser", choices=PDF_PARSERS, default=DEFAULTS["pdf_parser"])
    parser.add_argument("--clean-pdf-text", action=argparse.BooleanOptionalAction, default=DEFAULTS["clean_pdf_text"])
    args = parser.parse_args(argv)
    try:
        paths = real_doc_paths(args.cache_dir)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    for warning in version_warnings(next(iter(paths.values())).parent):
        print("warning:", warning)
    pages = load_pages(paths, args.pdf_parser, args.clean_pdf_text)
    print(f"extraction: {args.pdf_parser}, clean-up {'on' if args.clean_pdf_text else 'off'}")
    print("pages:", ", ".join(f"{name} {len(texts)}" for name, texts in pages.items()))
    questions = load_questions(args.questions)
    _print_counts(questions)
    failures = check(questions, pages)
    if args.subset and args.subset.is_file():
        subset = load_questions(args.subset)
        documents = Counter(question["labels"][0].get("document") for question in subset if question.get("labels"))
        print(f"subset {args.subset.name}: {len(subset)} questions ({', '.join(f'{n} {c}' for n, c in documents.items())})")
        failures += check(subset, pages) + check_subset(subset, questions)
    labels = sum(len(question.get("labels") or []) for question in questions)
    if failures:
        print(f"FAILED: {len(failures)} problem(s)")
        for failure in failures:
            print("  " + failure)
        return 1
    print(f"OK: all {labels} labels of {len(questions)} questions found on their pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
