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
_DEFINITION = re.compile(
    r"\(\s*((?=[a-z0-9]*[A-Z][a-z0-9]*[A-Z])[A-Za-z0-9]{2,10})\s*[);,]"
)
_SENTENCE_ENDS = frozenset(".;:!?()[]")  # a word ending so ends what a long form may span
_WINDOW = 160  # characters before "(" searched for the long form (its words are few)
_PAIRS: dict[tuple[str, str], Pair | None] = {}  # (short, long form) -> pair, for speed
_PAIRS_LIMIT = 200_000
_HYPHENS = re.compile("[-\u2010\u2011\u2012]")

Phrase = tuple[str, ...]
Pair = tuple[str, Phrase]  # (acronym token, expansion tokens)


def long_form(short: str, before: str) -> str | None:
    """The words of `before` that `short` abbreviates (Schwartz & Hearst), or None.

    Each letter of the short form, last to first, is found in the words before it (rfind,
    so the scan runs in C); the first letter must start a word."""
    limit = min(len(short) + 5, 2 * len(short))
    words = before.rsplit(None, limit)
    if len(words) > limit:
        words = words[1:]
    for i in range(len(words) - 1, -1, -1):  # the long form stays within its sentence
        if words[i][-1] in _SENTENCE_ENDS:
            words = words[i + 1 :]
            break
    cand = " ".join(words)
    s, text = short.lower(), cand.lower()
    li = len(text)
    for si in range(len(s) - 1, -1, -1):
        c = s[si]
        li = text.rfind(c, 0, li)
        if si == 0:  # must start a word
            while li > 0 and text[li - 1].isalnum():
                li = text.rfind(c, 0, li)
        if li < 0:
            return None
    start = text.rfind(" ", 0, li + 1) + 1
    found = cand[start:].strip(" ,;:-")
    if len(found) <= len(short) or s in found.lower().split():
        return None
    return found


def definitions(text: str, tokenizer: Tokenizer = DEFAULT_TOKENIZER) -> set[Pair]:
    """(acronym token, expansion tokens) pairs defined in `text`."""
    out: set[Pair] = set()
    if "(" not in text:
        return out
    for m in _DEFINITION.finditer(text):
        short = m.group(1)
        if short.isdigit():
            continue
        # The long form ends at the parenthesis and starts within this sentence.
        lf = long_form(short, text[max(0, m.start() - _WINDOW) : m.start()])
        if lf is None:
            continue
        key = (short, lf)
        pair = _PAIRS.get(key, False)
        if pair is False:
            acronym = tokenizer.tokenize(short)
            # Hyphens as spaces: "bi-level optimization" -> (bi, level, optim), without the
            # joined "bilevel" the tokenizer adds; documents' extra tokens are skipped when
            # matching.
            expansion = tuple(tokenizer.tokenize(_HYPHENS.sub(" ", lf)))
            pair = None
            if len(acronym) == 1 and len(expansion) >= 2 and acronym[0] not in expansion:
                pair = (acronym[0], expansion)
            if len(_PAIRS) > _PAIRS_LIMIT:
                _PAIRS.clear()
            _PAIRS[key] = pair
        if pair is not None:
            out.add(pair)
    return out


class AcronymTable:
    """Counts of acronym definitions over the library, and the lookups queries use.

    Writers (the index build and catch-up) hold a lock and update only the acronyms a batch
    touched; readers (queries) never lock: the lookup dicts' entries are replaced, never
    mutated, so a query sees an acronym's old or new expansions, both whole."""

    def __init__(self, counts: dict[Pair, int] | None = None) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Pair, int] = {}
        self._by_acronym: dict[str, dict[Phrase, int]] = {}
        self._by_expansion: dict[Phrase, dict[str, int]] = {}
        # what queries read:
        self._expansions: dict[str, tuple[Phrase, ...]] = {}  # acronym -> used expansions
        self._only: dict[str, Phrase] = {}  # acronym -> its one expansion, however rare
        self._written: dict[str, dict[Phrase, str]] = {}  # first token -> expansion -> acronym
        if counts:
            self._merge(counts)

    def __len__(self) -> int:
        return len(self._counts)

    def add(self, pairs: Iterable[Pair]) -> None:
        """Count one paper's worth (or many papers' worth) of definitions."""
        batch: dict[Pair, int] = {}
        for pair in pairs:
            batch[pair] = batch.get(pair, 0) + 1
        if batch:
            self._merge(batch)

    def learn(self, texts: Iterable[str], tokenizer: Tokenizer = DEFAULT_TOKENIZER) -> None:
        for text in texts:
            self.add(definitions(text, tokenizer))

    def _merge(self, batch: dict[Pair, int]) -> None:
        with self._lock:
            for (acr, exp), c in batch.items():
                self._counts[(acr, exp)] = self._counts.get((acr, exp), 0) + c
                self._by_acronym.setdefault(acr, {})[exp] = self._counts[(acr, exp)]
                self._by_expansion.setdefault(exp, {})[acr] = self._counts[(acr, exp)]
            touched = {acr for acr, _ in batch}
            if len(self._counts) > MAX_PAIRS:  # forget pairs seen once; recompute everything
                self._counts = {p: c for p, c in self._counts.items() if c > 1}
                self._by_acronym, self._by_expansion = {}, {}
                for (acr, exp), c in self._counts.items():
                    self._by_acronym.setdefault(acr, {})[exp] = c
                    self._by_expansion.setdefault(exp, {})[acr] = c
                self._expansions, self._written, self._only = {}, {}, {}
                touched = set(self._by_acronym)
            exps: set[Phrase] = set()
            for acr in touched:
                found = self._by_acronym.get(acr, {})
                total = sum(found.values())
                kept = sorted(
                    (e for e, c in found.items() if c >= MIN_PAPERS and c >= SHARE * total),
                    key=lambda e: (-found[e], e),
                )
                if kept:
                    self._expansions[acr] = tuple(kept)
                else:
                    self._expansions.pop(acr, None)
                if len(found) == 1:
                    self._only[acr] = next(iter(found))
                else:
                    self._only.pop(acr, None)
                exps.update(found)
            for exp in exps:
                users = [
                    (c, a)
                    for a, c in self._by_expansion.get(exp, {}).items()
                    if exp in self._expansions.get(a, ())
                ]
                written = dict(self._written.get(exp[0], {}))
                if users:
                    written[exp] = max(users)[1]
                else:
                    written.pop(exp, None)
                self._written[exp[0]] = written

    def expansions(self, acronym: str, *, shouted: bool = False) -> list[Phrase]:
        """The learned expansions of an acronym token, most used first.

        `shouted`: the user wrote it in capitals, so it is surely an acronym; then one that
        the library defines only once, and only one way, is expanded too ("VAR")."""
        found = self._expansions.get(acronym)
        if found:
            return list(found)
        only = self._only.get(acronym) if shouted else None
        return [only] if only else []

    def acronyms_in(self, tokens: Sequence[str]) -> list[tuple[int, int, str]]:
        """(start, end, acronym) for each learned expansion written out in `tokens`, first
        occurrence of each."""
        out = []
        seen: set[Phrase] = set()
        for i, tok in enumerate(tokens):
            for exp, acr in self._written.get(tok, {}).items():
                if exp not in seen and tuple(tokens[i : i + len(exp)]) == exp:
                    seen.add(exp)
                    out.append((i, i + len(exp), acr))
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
