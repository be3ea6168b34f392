"""Recommendations learned from a user's or channel's signals (saves, hides, reactions).

Every method here turns text into a *weighted bag of terms* and scores it with the search
index in one pass over the terms' postings (`BM25Index.match_terms`): a term's contribution
to a paper is its weight times BM25's saturated term frequency `(k1+1)·tf/(tf+norm)`, so a
profile costs what a long query costs, at any library size, and nothing is trained per paper.

* A paper's vector: its BM25 token list (title counted twice, as the index does), each term
  weighted `idf · (k1+1)·tf/(tf+norm)` — the index's own BM25 weight — scaled to length 1.
* The profile (Rocchio): the mean of the positive papers' vectors minus NEGATIVE_WEIGHT
  times the mean of the negatives', its PROFILE_TERMS strongest positive terms and
  NEGATIVE_TERMS strongest negative ones, sent to the index as they are: a paper's score is
  the dot product of the profile with the paper's saturated term frequencies (idf counted
  once, through the profile); negative terms push papers about what was hidden down.
* More like this: the same vector of the clicked paper's whole text (title and abstract),
  its MLT_TERMS strongest terms, as Lucene's MoreLikeThis picks a document's best terms.

Why these settings: benchmarks/README.md (section "Recommendations") compares them, on the
development topics only, with more terms, fewer terms, idf applied twice (Lucene's
MoreLikeThis boosts), more-like-this unions, pseudo-relevance feedback and a logistic
regression on the same features (arxiv-sanity-lite's recipe); the held-out topics report.

Profiles are cached by a fingerprint of the signals and the index snapshot's version, so
paging and repeated requests do not rebuild them; a new signal builds a new profile from the
few signal papers only, and there is no corpus-wide model to retrain. No Slack code here.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from sqlalchemy import select

from bot.search.documents import paper_tokens
from bot.search.engine import SearchEngine
from bot.search.index import BM25Index
from bot.search.snapshot import K1, B
from bot.search.tokenizer import Tokenizer
from storage.models import Paper
from storage.papers import get_papers

if TYPE_CHECKING:
    from bot.services import Services

MIN_SIGNALS = 3  # positive papers a channel needs before its model ranks its digest
PROFILE_TERMS = 60  # strongest positive terms kept in a profile
NEGATIVE_TERMS = 30  # strongest negative terms kept
NEGATIVE_WEIGHT = 0.1  # Rocchio's gamma: how hard hidden papers push their words down
MLT_TERMS = 60  # terms of a more-like-this query
WHY_WORDS = 3  # words named in a why-line
WHY_TITLE_CHARS = 70
CACHE_SIZE = 256
MAX_SIGNAL_PAPERS = 200  # a profile learns from the papers of the latest 200 signals at most


@dataclass(frozen=True)
class Signal:
    """One piece of feedback on a paper: +1 save / positive reaction, -1 hide / negative."""

    paper_id: int
    weight: float


@dataclass(frozen=True)
class Pick:
    """A recommended paper, its score, and one line saying why it was picked."""

    paper_id: int
    score: float
    why: str


@dataclass(frozen=True)
class Profile:
    """Term weights as sent to the index, and the saved papers that explain a pick."""

    weights: dict[str, float]
    positives: tuple[tuple[int, str, dict[str, float]], ...]  # (paper id, title, unit vector)
    negatives: tuple[int, ...] = ()


# ----- paper vectors ------------------------------------------------------------------------


def _idf(index: BM25Index, term: str) -> float:
    tid = index.vocab.get(term)
    return 0.0 if tid is None else index.snapshot.idf(tid)


def term_vector(index: BM25Index, tokens: Sequence[str], *, unit: bool = True) -> dict[str, float]:
    """A token list's terms weighted as BM25 weighs them in a document (idf × saturated tf)."""
    counts: dict[str, int] = {}
    for t in tokens:
        counts[t] = counts.get(t, 0) + 1
    avgdl = index.snapshot.avgdl or 1.0
    norm = K1 * (1 - B + B * len(tokens) / avgdl)
    vec = {}
    for t, c in counts.items():
        w = _idf(index, t) * (K1 + 1) * c / (c + norm)
        if w > 0:
            vec[t] = w
    if unit and vec:
        n = math.sqrt(sum(w * w for w in vec.values()))
        vec = {t: w / n for t, w in vec.items()}
    return vec


def _texts(services: Services, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    with services.db.session() as s:
        return {p.id: (p.title, p.abstract or "") for p in get_papers(s, ids)}


def paper_vectors(services: Services, ids: Iterable[int]) -> dict[int, tuple[str, dict]]:
    """(title, unit term vector) of stored papers, tokenized with the library's tokenizer."""
    index = services.search.index
    tok = services.search.tokenizer
    return {
        pid: (title, term_vector(index, paper_tokens(title, abstract, tok)))
        for pid, (title, abstract) in _texts(services, ids).items()
    }


# ----- profiles -----------------------------------------------------------------------------


def net_signals(signals: Iterable[Signal]) -> tuple[dict[int, float], dict[int, float]]:
    """Signals summed per paper: (positive papers → weight, negative papers → |weight|)."""
    net: dict[int, float] = {}
    for s in signals:
        net[s.paper_id] = net.get(s.paper_id, 0.0) + float(s.weight)
    pos = {p: w for p, w in net.items() if w > 0}
    neg = {p: -w for p, w in net.items() if w < 0}
    return pos, neg


def _top_terms(vec: dict[str, float], n: int) -> dict[str, float]:
    return dict(sorted(vec.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


def _centroid(vectors: Iterable[tuple[float, dict[str, float]]]) -> dict[str, float]:
    out: dict[str, float] = {}
    total = 0.0
    for w, vec in vectors:
        total += w
        for t, v in vec.items():
            out[t] = out.get(t, 0.0) + w * v
    return {t: v / total for t, v in out.items()} if total else {}


def rocchio(
    pos: Sequence[tuple[float, dict[str, float]]],
    neg: Sequence[tuple[float, dict[str, float]]],
    *,
    terms: int = PROFILE_TERMS,
    negative_terms: int = NEGATIVE_TERMS,
    gamma: float = NEGATIVE_WEIGHT,
) -> dict[str, float]:
    """Centroid of the positives minus gamma × centroid of the negatives, strongest terms."""
    q = _centroid(pos)
    for t, v in _centroid(neg).items():
        q[t] = q.get(t, 0.0) - gamma * v
    up = _top_terms({t: v for t, v in q.items() if v > 0}, terms)
    down = _top_terms({t: -v for t, v in q.items() if v < 0}, negative_terms)
    return {**up, **{t: -v for t, v in down.items()}}


def to_query(index: BM25Index, term_weights: dict[str, float]) -> dict[str, float]:
    """Profile weights as index weights: terms the index knows (with idf > 0), as they are.

    The profile's weights already carry idf; multiplying by idf again (what Lucene's
    MoreLikeThis does by boosting BM25 term queries) scored worse on the development topics.
    """
    return {t: w for t, w in term_weights.items() if w and _idf(index, t) > 0}


_T = TypeVar("_T")
_caches: weakref.WeakKeyDictionary[SearchEngine, OrderedDict] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


_versions: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()
_next_version = itertools.count(1)


def _version(snapshot: object) -> int:
    """A number only this snapshot ever gets, for cache keys. Not id(snapshot): a freed
    snapshot's address is soon given to a new one, and its cached profiles and queries
    would then answer for a library that has changed. The map holds snapshots weakly."""
    with _cache_lock:
        version = _versions.get(snapshot)
        if version is None:
            version = _versions[snapshot] = next(_next_version)
        return version


def _cached(engine: SearchEngine, key: tuple, make: Callable[[], _T]) -> _T:
    """Per-engine LRU: the snapshot's version is part of every key, so a changed library
    rebuilds."""
    with _cache_lock:
        cache = _caches.setdefault(engine, OrderedDict())
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = make()
    with _cache_lock:
        cache[key] = value
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    return value


def _fingerprint(pos: dict[int, float], neg: dict[int, float]) -> str:
    h = hashlib.blake2b(digest_size=12)
    h.update(repr((sorted(pos.items()), sorted(neg.items()))).encode())
    return h.hexdigest()


def build_profile(services: Services, signals: Sequence[Signal]) -> Profile | None:
    """The signals' profile (cached), or None when no paper has a positive net signal.

    Signals are oldest first; only the papers of the latest MAX_SIGNAL_PAPERS count, so a
    long history costs a bounded amount of tokenizing when the profile is (re)built."""
    latest = list(dict.fromkeys(s.paper_id for s in reversed(signals)))[:MAX_SIGNAL_PAPERS]
    keep = set(latest)
    pos, neg = net_signals(s for s in signals if s.paper_id in keep)
    if not pos:
        return None
    index = services.search.index
    key = ("profile", _version(index.snapshot), _fingerprint(pos, neg))

    def make() -> Profile | None:
        vecs = paper_vectors(services, [*pos, *neg])
        pos_v = [(pos[p], vecs[p][1]) for p in sorted(pos) if p in vecs]
        neg_v = [(neg[p], vecs[p][1]) for p in sorted(neg) if p in vecs]
        if not pos_v:
            return None
        tw = rocchio(pos_v, neg_v)
        return Profile(
            weights=to_query(index, tw),
            positives=tuple((p, vecs[p][0], vecs[p][1]) for p in sorted(pos) if p in vecs),
            negatives=tuple(sorted(neg)),
        )

    return _cached(services.search, key, make)


# ----- scoring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    ids: np.ndarray
    scores: np.ndarray
    published: np.ndarray


def score_terms(index: BM25Index, weights: dict[str, float]) -> Scored:
    ids, scores, pubs = index.match_terms(weights)
    return Scored(ids, scores, pubs)


def best_ids(
    sc: Scored,
    n: int,
    exclude: Collection[int],
    recent_from: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The n best positive-scoring ids (score desc, id asc) outside `exclude`, recent first:
    papers published on/after `recent_from` or undated, then, when those are fewer than n,
    the best of the rest. Pages cut from this order never repeat or skip a paper."""
    keep = sc.scores > 0
    if exclude:
        keep &= ~np.isin(sc.ids, np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
    if recent_from is None:
        return _top(sc.ids[keep], sc.scores[keep], n)
    recent = (sc.published == 0) | (sc.published >= recent_from)
    ids, scores = _top(sc.ids[keep & recent], sc.scores[keep & recent], n)
    if len(ids) < n:
        more_ids, more = _top(sc.ids[keep & ~recent], sc.scores[keep & ~recent], n - len(ids))
        ids, scores = np.concatenate([ids, more_ids]), np.concatenate([scores, more])
    return ids, scores


def _top(ids: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    if n < len(scores):
        part = np.argpartition(-scores, n - 1)[:n]
        sel = np.flatnonzero(scores >= scores[part].min())  # every tie at the cut
        ids, scores = ids[sel], scores[sel]
    order = np.lexsort((ids, -scores))[:n]
    return ids[order], scores[order]


def _surface_words(
    title: str, abstract: str, tokenizer: Tokenizer, terms: Sequence[str]
) -> list[str]:
    """How the paper itself spells each index term (stems read badly): first occurrence."""
    text = f"{title}\n{abstract}"
    seen: dict[str, str] = {}
    for term, s, e in tokenizer.token_spans(text):
        if term not in seen:
            seen[term] = text[s:e].lower()
    out: list[str] = []
    for t in terms:
        w = seen.get(t, t)
        if w not in out:
            out.append(w)
    return out


def _short(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= WHY_TITLE_CHARS else title[: WHY_TITLE_CHARS - 1] + "…"


def _explain(
    services: Services,
    ids: Sequence[int],
    query: dict[str, float],
    positives: Sequence[tuple[int, str, dict[str, float]]] = (),
    owner: str = "your",
) -> dict[int, str]:
    """One line per paper: the saved paper it is closest to, and the words that weighed most."""
    index = services.search.index
    tok = services.search.tokenizer
    out = {}
    for pid, (title, abstract) in _texts(services, ids).items():
        tokens = paper_tokens(title, abstract, tok)
        vec = term_vector(index, tokens)
        contrib = {t: query[t] * v for t, v in vec.items() if query.get(t, 0) > 0}
        top = [t for t, _ in sorted(contrib.items(), key=lambda kv: (-kv[1], kv[0]))][:WHY_WORDS]
        words = ", ".join(_surface_words(title, abstract, tok, top))
        parts = []
        if positives:
            sims = [
                (sum(v * pv.get(t, 0.0) for t, v in vec.items()), -p, ptitle)
                for p, ptitle, pv in positives
            ]
            sim, _, ptitle = max(sims)
            if sim > 0:
                parts.append(f"closest to {owner} saved “{_short(ptitle)}”")
        if words:
            parts.append(f"words: {words}")
        out[pid] = " — ".join(parts) or "similar words"
    return out


# ----- fallbacks ----------------------------------------------------------------------------


def _cutoff(recent_days: int | None, today: date | None) -> int | None:
    if recent_days is None:
        return None
    today = today or datetime.now(UTC).date()
    return (today - timedelta(days=recent_days)).toordinal()


def _trending(
    services: Services, n: int, exclude: Collection[int], recent_from: int | None
) -> list[Pick]:
    """Most upvoted papers, newest first among equals (recent window first, then all)."""
    out: list[Pick] = []
    taken = set(exclude)
    windows: list[int | None] = [recent_from, None] if recent_from is not None else [None]
    with services.db.session() as s:
        for lo in windows:
            q = select(Paper.id, Paper.upvotes).order_by(
                Paper.upvotes.desc().nulls_last(), Paper.published.desc().nulls_last(), Paper.id
            )
            if lo is not None:
                since = date.fromordinal(lo)
                q = q.where((Paper.published >= since) | Paper.published.is_(None))
            q = q.limit(n + len(taken))
            for pid, up in s.execute(q):
                if len(out) >= n:
                    break
                if pid in taken:
                    continue
                taken.add(pid)
                why = f"trending: {up} upvotes" if up else "trending in the library"
                out.append(Pick(pid, float(up or 0), why))
            if len(out) >= n:
                break
    return out


def _words_query(services: Services, words: str) -> dict[str, float]:
    """A search query as index weights: idf × repeats, exactly as search scores it."""
    index = services.search.index
    out: dict[str, float] = {}
    for t in services.search.tokenizer.tokenize(words):
        out[t] = out.get(t, 0.0) + _idf(index, t)
    return {t: w for t, w in out.items() if w}


# ----- the API ------------------------------------------------------------------------------


def recommend(
    services: Services,
    signals: Sequence[Signal],
    *,
    limit: int = 5,
    offset: int = 0,
    exclude: Collection[int] = (),
    recent_days: int | None = 30,
    words: str | None = None,
    fallback_topic: str | None = None,
    today: date | None = None,
) -> list[Pick]:
    """Top papers for these signals, skipping `exclude` and the signal papers themselves.

    Candidates published within `recent_days` (or undated) come first, then, when they
    are fewer than offset + limit, the best of the rest of the library. `words` keeps
    only papers matching them (BM25) and adds their BM25 score (scaled) to the model's.
    Cold start: with no positive signal, papers on `fallback_topic` (BM25); with fewer
    than MIN_SIGNALS positive papers, the topic's BM25 is blended into the profile's
    scores. Trending papers (most upvoted, newest) fill what is left, except when
    `words` narrow the answer.
    """
    n = offset + limit
    if limit <= 0:
        return []
    pos, neg = net_signals(signals)
    skip = set(exclude) | set(pos) | set(neg)
    recent_from = _cutoff(recent_days, today)
    index = services.search.index
    profile = build_profile(services, signals)
    topic = _words_query(services, fallback_topic) if fallback_topic else {}
    scored: Scored | None = None
    if profile is not None:
        scored = score_terms(index, profile.weights)
        if topic and len(pos) < MIN_SIGNALS:  # few signals: the channel's topic helps,
            share = 1 - len(pos) / MIN_SIGNALS  # less with every signal
            scored = _blend(scored, score_terms(index, topic), share)
    elif topic:
        scored = score_terms(index, topic)
    if words:
        narrow = _words_query(services, words)
        if not narrow:
            return []
        ws = score_terms(index, narrow)
        scored = ws if scored is None else _combine(ws, scored)
    picks: list[Pick] = []
    if scored is not None:
        ids, scores = best_ids(scored, n, skip, recent_from)
        if profile is not None:
            why = _explain(services, ids.tolist(), profile.weights, profile.positives)
        elif topic:
            why = dict.fromkeys(
                ids.tolist(), f"on this channel's topic “{_short(fallback_topic or '')}”"
            )
        else:
            why = dict.fromkeys(ids.tolist(), f"matches “{_short(words or '')}”")
        picks = [
            Pick(p, s, why.get(p) or "similar words")
            for p, s in zip(ids.tolist(), scores.tolist(), strict=True)
        ]
    if len(picks) < n and not words:  # trending fills up; never outside the asked words
        taken = skip | {p.paper_id for p in picks}
        picks += _trending(services, n - len(picks), taken, recent_from)
    return picks[offset:]


def _scale(scores: np.ndarray, n: int = 10) -> float:
    """The mean of the n best scores: a scale less swayed by one near-duplicate than the max."""
    best = scores if len(scores) <= n else np.partition(scores, len(scores) - n)[-n:]
    return float(best.mean())


def _blend(a: Scored, b: Scored, b_share: float) -> Scored:
    """Union of two scorings, each divided by its scale (b's then times b_share), summed."""
    parts = [
        (x, _scale(x.scores) / share)
        for x, share in ((a, 1.0), (b, b_share))
        if len(x.scores) and share > 0
    ]
    parts = [(x, top) for x, top in parts if top > 0]
    if not parts:
        return a
    ids = np.concatenate([x.ids for x, _ in parts])
    scores = np.concatenate([x.scores / top for x, top in parts])
    pubs = np.concatenate([x.published for x, _ in parts])
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    return Scored(uniq, np.bincount(inverse, weights=scores), pubs[first])


def _combine(words: Scored, profile: Scored) -> Scored:
    """Papers matching the words, scored by profile + words, each scaled to its best."""
    if not len(words.ids):
        return words
    wmax = float(words.scores.max()) or 1.0
    pmax = float(profile.scores.max()) if len(profile.scores) else 0.0
    pmax = pmax if pmax > 0 else 1.0
    order = np.argsort(profile.ids)
    pos = np.searchsorted(profile.ids[order], words.ids)
    pos = np.minimum(pos, max(len(order) - 1, 0))
    hit = (
        (profile.ids[order][pos] == words.ids)
        if len(order)
        else np.zeros(len(words.ids), dtype=bool)
    )
    prof = np.where(hit, profile.scores[order][pos] if len(order) else 0.0, 0.0)
    return Scored(words.ids, words.scores / wmax + prof / pmax, words.published)


def mlt_terms(index: BM25Index, tokens: Sequence[str], n: int = MLT_TERMS) -> dict[str, float]:
    """A document's more-like-this query: its n strongest terms by BM25 weight, scaled to
    the best (terms found in no other paper cannot find anything and are skipped)."""
    df = index.snapshot.df
    vec = {t: w for t, w in term_vector(index, tokens).items() if df[index.vocab[t]] >= 2}
    top = _top_terms(vec, n)
    best = max(top.values(), default=0.0)
    return {t: w / best for t, w in top.items()} if best else {}


def more_like_this(
    services: Services,
    paper_id: int,
    *,
    limit: int = 5,
    offset: int = 0,
    exclude: Collection[int] = (),
) -> list[Pick]:
    """The papers most like this one over its whole text (title and abstract), best first."""
    if limit <= 0:
        return []
    texts = _texts(services, [paper_id])
    if paper_id not in texts:
        return []
    index = services.search.index
    title, abstract = texts[paper_id]
    key = ("mlt", _version(index.snapshot), paper_id)
    query = _cached(
        services.search,
        key,
        lambda: to_query(
            index, mlt_terms(index, paper_tokens(title, abstract, services.search.tokenizer))
        ),
    )
    if not query:
        return []
    ids, scores = best_ids(
        score_terms(index, query), offset + limit, set(exclude) | {paper_id}, None
    )
    why = _explain(services, ids.tolist(), query)
    return [Pick(p, s, why.get(p, "")) for p, s in zip(ids.tolist(), scores.tolist(), strict=True)][
        offset:
    ]


def rank_candidates(
    services: Services, signals: Sequence[Signal], candidate_ids: Sequence[int]
) -> dict[int, tuple[float, str]] | None:
    """Each candidate's score by the signals' profile, with a why-line; None when fewer than
    MIN_SIGNALS papers have a positive signal (the caller keeps its usual order then).
    Candidates sharing no weighted word with the profile score 0.0."""
    pos, _ = net_signals(signals)
    if len(pos) < MIN_SIGNALS or not candidate_ids:
        return None if len(pos) < MIN_SIGNALS else {}
    profile = build_profile(services, signals)
    if profile is None:
        return None
    sc = score_terms(services.search.index, profile.weights)
    cand = np.fromiter(dict.fromkeys(candidate_ids), dtype=np.int64)
    keep = np.isin(sc.ids, cand)
    got = dict(zip(sc.ids[keep].tolist(), sc.scores[keep].tolist(), strict=True))
    why = _explain(
        services,
        [p for p in got if got[p] > 0],
        profile.weights,
        profile.positives,
        owner="the",  # channel and personal digests alike
    )
    return {
        pid: (got.get(pid, 0.0), why.get(pid, "shares no words with the saved papers"))
        for pid in cand.tolist()
    }
