"""Acronyms learned from the library: abstracts define them ("… human feedback (RLHF)").

A query that says "RLHF" should find the paper that only writes "reinforcement learning from
human feedback", and the reverse. Nobody maintains a list of the field's acronyms, and they
change every month (GRPO, MoE, SSM, VLA…), so the library teaches them: every paper that
passes through the index is scanned for "long form (SHORT)" with the Schwartz & Hearst (2003)
rule (the short form's letters are found, in order, in the words just before the
parenthesis, the first one starting a word). A pair counts once per paper; a pair is used when
at least MIN_PAPERS papers define it, which keeps one-off coinages and misparses out.

Pairs are stored as token tuples of the search tokenizer, so "Mixture-of-Experts",
"mixture of experts" and "mixtures of experts" are one expansion, and the table is tied to
the tokenizer's version like the index it sits beside.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from bot.search.tokenizer import DEFAULT_TOKENIZER, Tokenizer

MIN_PAPERS = 2  # papers that must define a pair before queries use it
MAX_PAIRS = 500_000  # past this, pairs seen in one paper only are forgotten
SHARE = 0.25  # an expansion is used when it has this share of its acronym's definitions
FILE_NAME = "acronyms.json"

# "(RLHF)", "(LLMs)", "(3DGS)", "(LoopLM)": 2-10 letters/digits, at least two capitals.
_DEFINITION = re.compile(r"\(\s*([A-Za-z0-9]{2,10})\s*[);,]")
_WORD_SPLIT = re.compile(r"\s+")
_HYPHENS = re.compile("[-\u2010\u2011\u2012]")

Pair = tuple[str, tuple[str, ...]]
# acronym -> expansions (most used first), and expansion -> its acronym
_View = tuple[dict[str, list[tuple[str, ...]]], dict[tuple[str, ...], str]]


def long_form(short: str, before: str) -> str | None:
    """The words of `before` that `short` abbreviates (Schwartz & Hearst), or None."""
    words = _WORD_SPLIT.split(before.strip())
    limit = min(len(short) + 5, 2 * len(short))
    cand = " ".join(words[-limit:])
    s, text = short.lower(), cand.lower()
    si, li = len(s) - 1, len(text) - 1
    while si >= 0:
        c = s[si]
        if not c.isalnum():
            si -= 1
            continue
        # The first letter of the short form must start a word of the long form.
        while li >= 0 and (text[li] != c or (si == 0 and li > 0 and text[li - 1].isalnum())):
            li -= 1
        if li < 0:
            return None
        si -= 1
        li -= 1
    start = text.rfind(" ", 0, li + 1) + 1
    found = cand[start:].strip(" ,;:-")
    if len(found) <= len(short) or short.lower() in found.lower().split():
        return None
    return found


def definitions(text: str, tokenizer: Tokenizer = DEFAULT_TOKENIZER) -> set[Pair]:
    """(acronym token, expansion tokens) pairs defined in `text`."""
    out: set[Pair] = set()
    if "(" not in text:
        return out
    for m in _DEFINITION.finditer(text):
        short = m.group(1)
        if sum(c.isupper() for c in short) < 2 or short.isdigit():
            continue
        # The long form ends at the parenthesis and starts within this sentence.
        before = text[max(0, m.start() - 200) : m.start()]
        before = re.split(r"[.;:!?()\[\]]\s", before)[-1]
        lf = long_form(short, before)
        if lf is None:
            continue
        acronym = tokenizer.tokenize(short)
        # Hyphens as spaces: "bi-level optimization" -> (bi, level, optim), without the
        # joined "bilevel" the tokenizer adds; documents' extra tokens are skipped when matching.
        expansion = tuple(tokenizer.tokenize(_HYPHENS.sub(" ", lf)))
        if len(acronym) != 1 or len(expansion) < 2 or acronym[0] in expansion:
            continue
        out.add((acronym[0], expansion))
    return out


class AcronymTable:
    """Counts of acronym definitions over the library; safe to read while another thread adds."""

    def __init__(self, counts: dict[Pair, int] | None = None) -> None:
        self._counts: dict[Pair, int] = dict(counts or {})
        self._lock = threading.Lock()
        self._view: _View | None = None

    def __len__(self) -> int:
        return len(self._counts)

    def add(self, pairs: Iterable[Pair]) -> None:
        """Count one paper's worth (or many papers' worth) of definitions."""
        with self._lock:
            for pair in pairs:
                self._counts[pair] = self._counts.get(pair, 0) + 1
            if len(self._counts) > MAX_PAIRS:
                self._counts = {p: c for p, c in self._counts.items() if c > 1}
            self._view = None

    def learn(self, texts: Iterable[str], tokenizer: Tokenizer = DEFAULT_TOKENIZER) -> None:
        for text in texts:
            self.add(definitions(text, tokenizer))

    def _views(self) -> _View:
        view = self._view
        if view is None:
            with self._lock:
                counts = dict(self._counts)
            by_acronym: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
            for (acr, exp), c in counts.items():
                if c >= MIN_PAPERS:
                    by_acronym.setdefault(acr, []).append((c, exp))
            expansions: dict[str, list[tuple[str, ...]]] = {}
            reverse: dict[tuple[str, ...], tuple[int, str]] = {}
            for acr, found in by_acronym.items():
                total = sum(c for c, _ in found)
                kept = sorted(
                    ((c, e) for c, e in found if c >= SHARE * total), key=lambda x: (-x[0], x[1])
                )
                expansions[acr] = [e for _, e in kept]
                for c, e in kept:
                    if e not in reverse or reverse[e][0] < c:
                        reverse[e] = (c, acr)
            view = (expansions, {e: a for e, (_, a) in reverse.items()})
            self._view = view
        return view

    def expansions(self, acronym: str) -> list[tuple[str, ...]]:
        """The learned expansions of an acronym token, most used first."""
        return list(self._views()[0].get(acronym, ()))

    def acronyms_in(self, tokens: Sequence[str]) -> list[tuple[int, int, str]]:
        """(start, end, acronym) for each learned expansion written out in `tokens`."""
        reverse = self._views()[1]
        out = []
        for exp, acr in reverse.items():
            n = len(exp)
            for i in range(len(tokens) - n + 1):
                if tuple(tokens[i : i + n]) == exp:
                    out.append((i, i + n, acr))
                    break
        return sorted(out)

    # ----- persistence (beside the saved index) -------------------------------------------

    def save(self, directory: Path, tokenizer_version: int) -> None:
        with self._lock:
            rows = [[a, list(e), c] for (a, e), c in self._counts.items()]
        tmp = directory / (FILE_NAME + ".tmp")
        tmp.write_text(json.dumps({"tokenizer_version": tokenizer_version, "pairs": rows}))
        tmp.replace(directory / FILE_NAME)

    @classmethod
    def load(cls, directory: Path, tokenizer_version: int) -> AcronymTable:
        """The saved table; ValueError if missing, unreadable or from another tokenizer."""
        try:
            data = json.loads((directory / FILE_NAME).read_text())
            if data["tokenizer_version"] != tokenizer_version:
                raise ValueError("acronyms were learned with another tokenizer")
            return cls({(str(a), tuple(map(str, e))): int(c) for a, e, c in data["pairs"]})
        except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"no usable {FILE_NAME}: {exc}") from None
