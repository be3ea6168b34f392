"""Synthetic papers with realistic word and length statistics, for the search benchmark.

Words follow a bigram model fitted on the bundled corpus (bot/data/sample_papers.jsonl), so
common words, phrases and stopwords occur as in real abstracts; a small share of positions
draw from a large Zipf-distributed vocabulary of invented words, so the vocabulary keeps
growing with the corpus as real collections do. Generation is vectorized across papers.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

SAMPLE = Path(__file__).resolve().parents[1] / "bot" / "data" / "sample_papers.jsonl"
RARE_SHARE = 0.04
RARE_VOCAB = 400_000
_WORD = re.compile(r"\S+")
_LETTERS = np.array(list("bcdfghjklmnprstvz")), np.array(list("aeiou"))


@dataclass(frozen=True)
class SynthPaper:
    title: str
    abstract: str
    published: date
    source: str


class _Bigram:
    """Word chains: successors of word w are succ[start[w]:start[w+1]] (with repeats)."""

    def __init__(self, texts: list[str]) -> None:
        words: dict[str, int] = {}
        pairs: list[tuple[int, int]] = []
        self.firsts: list[int] = []
        for text in texts:
            ids = [words.setdefault(w, len(words)) for w in _WORD.findall(text)]
            if ids:
                self.firsts.append(ids[0])
                pairs.extend(itertools.pairwise(ids))
        self.words = np.array(list(words), dtype=object)
        a = np.array([p[0] for p in pairs] + list(range(len(words))), dtype=np.int64)
        b = np.array([p[1] for p in pairs] + self.firsts * 0 + [0] * len(words), dtype=np.int64)
        # every word gets at least one successor (the first word of some text)
        b[len(pairs) :] = np.resize(np.array(self.firsts), len(words))
        order = np.argsort(a, kind="stable")
        self.succ = b[order]
        self.start = np.searchsorted(a[order], np.arange(len(words) + 1))
        self.lengths = [len(_WORD.findall(t)) for t in texts]

    def chains(self, rng: np.random.Generator, n: int, length: int) -> np.ndarray:
        out = np.empty((n, length), dtype=np.int64)
        cur = rng.choice(np.array(self.firsts), size=n)
        for j in range(length):
            out[:, j] = cur
            lo, hi = self.start[cur], self.start[cur + 1]
            cur = self.succ[lo + (rng.random(n) * (hi - lo)).astype(np.int64)]
        return out


def _rare_words(rng: np.random.Generator) -> np.ndarray:
    """Pronounceable invented words ("bodaket"), so stemming and tokenizing stay realistic."""
    cons, vow = _LETTERS
    sy = rng.integers(2, 5, size=RARE_VOCAB)
    c = cons[rng.integers(0, len(cons), size=(RARE_VOCAB, 4))]
    v = vow[rng.integers(0, len(vow), size=(RARE_VOCAB, 4))]
    return np.array(
        ["".join(c[i, k] + v[i, k] for k in range(sy[i])) + "n" for i in range(RARE_VOCAB)],
        dtype=object,
    )


def generate(n: int, seed: int = 0) -> list[SynthPaper]:
    """n papers: titles and abstracts from the bigram models, lengths from the sample."""
    rng = np.random.default_rng(seed)
    with SAMPLE.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    titles = _Bigram([r["title"] for r in rows])
    abstracts = _Bigram([r["abstract"] for r in rows])
    rare = _rare_words(rng)
    ranks = np.minimum(rng.zipf(1.3, size=4 * n + 16), RARE_VOCAB) - 1
    rare_pos = 0
    t_len = rng.choice(np.array(titles.lengths), size=n)
    a_len = rng.choice(np.array(abstracts.lengths), size=n)
    out: list[SynthPaper] = []
    sources = np.array(["arxiv", "hf", "listing"])
    src = sources[rng.choice(3, size=n, p=[0.7, 0.2, 0.1])]
    day0 = date(2015, 1, 1).toordinal()
    days = rng.integers(0, 365 * 11, size=n)
    block = 20_000
    for s in range(0, n, block):
        m = min(block, n - s)
        t_ids = titles.chains(rng, m, int(t_len[s : s + m].max()))
        a_ids = abstracts.chains(rng, m, int(a_len[s : s + m].max()))
        t_words = titles.words[t_ids]
        a_words = abstracts.words[a_ids]
        mask = rng.random(a_words.shape) < RARE_SHARE
        k = int(mask.sum())
        if rare_pos + k > len(ranks):
            ranks = np.minimum(rng.zipf(1.3, size=k + 16), RARE_VOCAB) - 1
            rare_pos = 0
        a_words[mask] = rare[ranks[rare_pos : rare_pos + k]]
        rare_pos += k
        for i in range(m):
            out.append(
                SynthPaper(
                    title=" ".join(t_words[i, : t_len[s + i]]),
                    abstract=" ".join(a_words[i, : a_len[s + i]]),
                    published=date.fromordinal(day0 + int(days[s + i])),
                    source=str(src[s + i]),
                )
            )
    return out


def query_set(n: int, seed: int = 1) -> list[str]:
    """Realistic queries: 1-4 content words picked from sample titles (plus a few fixed)."""
    rng = np.random.default_rng(seed)
    with SAMPLE.open(encoding="utf-8") as f:
        titles = [json.loads(line)["title"] for line in f]
    fixed = ["diffusion caching", "LLMs", "GPT-4 reasoning", "3D reconstruction", "graph"]
    out = list(fixed)
    while len(out) < n:
        words = [w for w in re.findall(r"[A-Za-z][\w-]+", titles[rng.integers(len(titles))])]
        if not words:
            continue
        k = int(rng.integers(1, min(4, len(words)) + 1))
        out.append(" ".join(rng.choice(words, size=k, replace=False)))
    return out[:n]


__all__ = ["SynthPaper", "generate", "query_set", "timedelta"]
