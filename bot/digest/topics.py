"""Does a new paper match a channel's topic? BM25 against the whole library, thresholded.

Scores come from the app's search engine (same tokenizer, BM25Okapi with k1=1.5, b=0.75,
titles counted twice), so idf reflects the whole library rather than one day's handful of
papers, where it would be meaningless (one paper: every word looks common).

Threshold: a paper qualifies when its score reaches RELATIVE (40%) of the best score any
paper in the library gets for the topic, and at least FLOOR (1.0). An absolute cut does not
work across topics: on the bundled corpus a squarely-on-topic paper scores ~3.9 for
"diffusion" (a common word, idf ≈ 1.9) but ~13.7 for "speculative decoding". Relative to
the library's best match, a paper must carry a good share of the topic's weight: for
"speculative decoding" (cut ≈ 5.5) papers that merely mention "decoding" (4–5) drop out,
while for "diffusion" (cut ≈ 1.6) every paper that uses the word stays in. The floor keeps
out near-zero matches when the library has nothing close.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from bot.search.engine import QueryError, SearchEngine, query_tokens

RELATIVE = 0.4
FLOOR = 1.0
PAGE = 100


def topic_error(topic: str) -> str | None:
    """Why `topic` cannot be used as a filter (None when it can), in the search's words."""
    try:
        query_tokens(topic)
    except QueryError as exc:
        return str(exc)
    return None


def matching(
    search: SearchEngine,
    topic: str,
    candidates: Collection[int],
    *,
    since: date | None = None,
    relative: float = RELATIVE,
    floor: float = FLOOR,
) -> dict[int, float]:
    """The candidates scoring at least the threshold (see above) for `topic` -> scores.

    Walks the engine's ranked hits (best first, from `since` on once the library's best
    score is known) and stops at the first score below the threshold or once every
    candidate has been seen.
    """
    wanted = set(candidates)
    found: dict[int, float] = {}
    if not topic.strip() or not wanted:
        return found
    best = search.search(topic, limit=1).hits
    if not best:
        return found
    min_score = max(floor, relative * best[0].score)
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
