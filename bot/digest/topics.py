"""Does a new paper match a channel's topic? BM25 against the whole library, thresholded.

Scores come from the app's search engine (same tokenizer, BM25Okapi with k1=1.5, b=0.75,
titles counted twice), so idf reflects the whole library rather than one day's handful of
papers, where it would be meaningless (one paper: every word looks common).

Threshold: MIN_SCORE = 3.0. One occurrence of a term at average document length adds
about idf (≈ 1.43·idf when it is in the title, which counts twice). A "distinctive" word,
one in about 10% of papers (idf ≈ 2.2), therefore qualifies a paper when it is in the
title or repeated in the abstract, but not from one passing mention; a rare word (≤ ~2% of
papers, idf ≥ 3.9) qualifies with a single mention; several topic words add up. Words
in most papers ("model", "learning") never qualify a paper on their own.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

MIN_SCORE = 3.0
PAGE = 100


def topic_error(topic: str) -> str | None:
    """Why `topic` cannot be used as a filter (None when it can), in the search's words."""
    from bot.search.engine import QueryError, query_tokens

    try:
        query_tokens(topic)
    except QueryError as exc:
        return str(exc)
    return None


def matching(
    search: Any,
    topic: str,
    candidates: Collection[int],
    *,
    since: date | None = None,
    min_score: float = MIN_SCORE,
) -> dict[int, float]:
    """The candidates scoring at least `min_score` for `topic` -> their scores.

    Walks the engine's ranked hits (best first, optionally from `since` on) and stops at
    the first score below the threshold or once every candidate has been seen.
    """
    wanted = set(candidates)
    found: dict[int, float] = {}
    if not topic.strip() or not wanted:
        return found
    offset, seen = 0, 0
    while True:
        page = search.search(topic, limit=PAGE, offset=offset, since=since)
        for hit in page.hits:
            if hit.score < min_score:
                return found
            if hit.paper_id in wanted:
                found[hit.paper_id] = hit.score
                seen += 1
                if seen == len(wanted):
                    return found
        offset += len(page.hits)
        if not page.hits or offset >= page.total:
            return found
