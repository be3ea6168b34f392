"""Matching a followed author or an alert phrase against a paper.

Names and phrases are normalised the same way: Unicode NFKD with accents dropped,
case-folded, every run of non-word characters (dots, hyphens, quotes) a single break, so
"Tri Dao", "tri  dao" and "Trí Đao"-style accents compare equal.

Authors. A followed name is its given-name tokens and a last token (the surname). It
matches an author name when the surnames are equal, the first given tokens agree (equal,
or the follow's is an initial of the author's: "T. Dao" follows Tri, Thanh, T. Dao) and the
follow's other given tokens appear in order among the author's. So "Tri Dao" matches
"Tri Dao" and "Tri C. Dao" but not "T. Dao": an initial in the paper is ambiguous, and a
follower who wants every T. Dao writes "T. Dao". A comma form ("Dao, Tri") is read as
"Tri Dao". A follow needs at least two words (a bare surname would match strangers).

Alerts. The phrase's words must appear consecutively in the title or the abstract; a word
also matches its plural ("kv cache" matches "KV caches", "KV-cache"). Containment is
exact and explainable ("matches your alert"), unlike a relevance score with a threshold.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_WORD = re.compile(r"\w+")
MAX_WORDS = 12  # a followed name or alert phrase
MAX_CHARS = 200


def tokens(text: str) -> list[str]:
    """Accent- and case-insensitive words."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        # Letters NFKD does not decompose (đ, ø, ł): their base letter, where Unicode names it.
        text = "".join(_BASE.get(ch, ch) for ch in text)
    return _WORD.findall(text.casefold().replace("_", " "))


_BASE = {"đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae"}


def norm(text: str) -> str:
    """The stored key of a follow: its tokens joined by single spaces."""
    return " ".join(tokens(text))


def _name_tokens(name: str) -> list[str]:
    if name.count(",") == 1:  # "Dao, Tri" -> "Tri Dao"
        last, first = name.split(",")
        name = f"{first} {last}"
    return tokens(name)


def _given_agrees(want: str, have: str) -> bool:
    return want == have or (len(want) == 1 and have.startswith(want))


def author_matches(follow_norm: str, author: str) -> bool:
    """Whether the author name is the followed person (see the module docstring)."""
    want = follow_norm.split()
    have = _name_tokens(author)
    if len(want) < 2 or len(have) < 2 or want[-1] != have[-1]:
        return False
    want_given, have_given = want[:-1], have[:-1]
    if not _given_agrees(want_given[0], have_given[0]):
        return False
    rest = iter(have_given[1:])
    return all(any(_given_agrees(w, h) for h in rest) for w in want_given[1:])


def matching_author(follow_norm: str, authors: Sequence[str]) -> str | None:
    """The paper's author that the follow matches (shown in the notice), or None."""
    for author in authors:
        if author_matches(follow_norm, author):
            return author
    return None


def _stem(word: str) -> str:
    if len(word) > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def stems(text: str) -> list[str]:
    return [_stem(t) for t in tokens(text)]


def phrase_in(phrase_norm: str, text_stems: Sequence[str]) -> bool:
    """Whether the phrase's words occur consecutively in the text (as stems())."""
    want = [_stem(w) for w in phrase_norm.split()]
    if not want:
        return False
    n = len(want)
    first = want[0]
    for i, word in enumerate(text_stems):
        if word == first and list(text_stems[i:i + n]) == want:
            return True
    return False
