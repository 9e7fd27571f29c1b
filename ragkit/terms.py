"""Content terms of a text and their weights over an index: what offline answers and follow-up questions match on.

`content_words` lower-cases and drops stop words; `stem` folds the common English endings (plural s, -ed,
-ing, -er, -ly, a final e) so "maintains", "maintained" and "maintainer" meet. `TermStatistics` holds in
how many chunks of an index each stem occurs: its `idf` is BM25's, so a term found in (nearly) every chunk
weighs (almost) nothing and a rare one a lot.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_WORD = re.compile(r"\w+")
STOP_WORDS = frozenset(
    "a about after again all also am an and any are as at be because been before being between both but by can could"
    " did do does doing done during each else for from further had has have having he her here hers him his how i if"
    " in into is it its itself just me mine more most much my no nor not now of off on once one ones only or other"
    " our ours out over own same she should so some such tell than that the their theirs them then there these they"
    " this those through to too under until up very was we were what when where which while who whom whose why will"
    " with would yes you your yours".split()
)
# Words that point back at something said before: a question holding one is read as a follow-up; a demonstrative
# ("this", "that") only in a short question, as it is often part of a question of its own ("the file that ...").
ANAPHORA = frozenset("it its itself they them their theirs he him his she her hers".split())
DEMONSTRATIVES = frozenset("this that these those one ones".split())
_CONNECTIVES = ("and ", "also ", "but ", "so ", "then ", "what about ", "how about ", "and?", "why?", "how?")
_ENDINGS = ("ingly", "ings", "ing", "edly", "ed", "ers", "er", "ies", "es", "ly", "s")


def words(text: str) -> list[str]:
    """The lower-cased words of a text, in order."""
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    """The words of a text that carry content: no stop words, no single characters."""
    return [word for word in words(text) if word not in STOP_WORDS and len(word) > 1]


def stem(word: str) -> str:
    """A light English stem: the longest common ending removed when at least three letters remain, then a final e."""
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            word = word[: -len(ending)] + ("y" if ending == "ies" else "")
            if ending in ("ing", "ed", "er", "ers") and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # stopped → stop
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def content_stems(text: str) -> set[str]:
    """The stems of a text's content words."""
    return {stem(word) for word in content_words(text)}


def is_follow_up(question: str) -> bool:
    """Whether a question leans on the conversation: no content word of its own, a pronoun, or an opening "and", "what about"."""
    lowered = question.strip().lower()
    found, own = set(words(lowered)), content_words(lowered)
    return (not own or lowered.startswith(_CONNECTIVES) or bool(ANAPHORA & found)
            or (bool(DEMONSTRATIVES & found) and len(own) <= 2))


@dataclass(frozen=True)
class TermStatistics:
    """In how many of an index's chunks each stem occurs, and how many chunks there are."""

    documents: int = 0
    frequencies: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, texts: Iterable[str]) -> TermStatistics:
        """Document frequencies of the content stems of these texts (each text one document)."""
        counts: Counter[str] = Counter()
        documents = 0
        for text in texts:
            documents += 1
            counts.update(content_stems(text))
        return cls(documents, dict(counts))

    def share(self, term: str) -> float:
        """The share of the chunks that hold a stem (0 with no chunks)."""
        return self.frequencies.get(term, 0) / self.documents if self.documents else 0.0

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency of a stem: about 0 for a stem in every chunk, highest for one in none."""
        frequency = self.frequencies.get(term, 0)
        return math.log(1 + (self.documents - frequency + 0.5) / (frequency + 0.5))
