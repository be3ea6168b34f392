"""Learned order for a day's digest: the team's model over the candidates, trending as a prior.

A channel's digest learns only from the signals given in that channel, a personal digest
only from its user's own signals, both within the subscription's workspace
(storage.feedback filters by team first). Without enough signals the model
(bot.recommend.rank_candidates) returns None and the day keeps today's behaviour exactly:
trending order (upvotes, then oldest paper id).

The blend, per paper of the pool:

    score = LEARNED_WEIGHT * model + (1 - LEARNED_WEIGHT) * prior

`model` is the model's score min-max scaled over the pool (0 = the pool's worst, 1 = its
best; a paper the model did not score counts as 0; all equal: 0 for all; papers already
given or signalled are not in the pool), so its unknown scale cannot swamp the prior;
`prior` is log(1 + upvotes) / log(1 + the pool's most upvotes), so 400 upvotes beat 40
but not by ten times. With weight 0.75 the model
decides, and among papers it likes about as much the more upvoted comes first (the pool's
least liked paper scores at most 0.25, its best at least 0.75). Ties: more upvotes, then
the older paper id (the trending order). Measured (benchmarks/digest_learn_bench.py, sample
corpus, 30 candidates of which 6 on a topic the channel saved): on-topic papers in the top 5
go from ~1 (trending) to 3.95/4.15/4.80 with 3/10/30 saves at 0.75, against 4.05/4.40/4.70
with the model alone (1.0) and 3.35/3.30/4.10 at 0.5; the prior lifts the top 5's upvotes
by about a quarter over the model alone.

A personal digest's pool is the day's candidates plus the model's own picks from papers
of the last RECENT_DAYS days in the library (`recommend`; older ones when too few), less
what the DM was given, what the user hid and what they already saved or reacted to; in
trending mode (too few signals) it is the day's candidates only (less the same papers).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.digest.store import Candidate
from storage import digest as repo
from storage import feedback
from storage.models import Paper, Subscription

if TYPE_CHECKING:
    from bot.services import Services

LEARNED_WEIGHT = 0.75
RECENT_DAYS = 30
LIBRARY_PICKS = 3  # personal pools take up to this many times the digest size from the library


@dataclass(frozen=True)
class Order:
    """The pool's papers best first, and how many signals the order was learned from
    (None: trending order)."""

    paper_ids: list[int]
    learned_from: int | None = None


def blend(model: dict[int, float], upvotes: dict[int, int]) -> list[int]:
    """The pool (upvotes' keys) best first by the blend described above."""
    scores = [model[i] for i in upvotes if i in model]
    lo, hi = (min(scores), max(scores)) if scores else (0.0, 0.0)
    span = hi - lo
    top = math.log1p(max([max(v, 0) for v in upvotes.values()], default=0))

    def key(pid: int) -> tuple[float, int, int]:
        m = (model[pid] - lo) / span if span > 0 and pid in model else 0.0
        prior = math.log1p(max(upvotes[pid], 0)) / top if top > 0 else 0.0
        return (-(LEARNED_WEIGHT * m + (1 - LEARNED_WEIGHT) * prior), -upvotes[pid], pid)

    return sorted(upvotes, key=key)


def _count(services: Services, team_id: str, **where: str) -> int:
    """Saves and reactions matching `where` (hides teach the model, but are not shown)."""
    with services.db.session() as s:
        return sum(
            feedback.count(s, team_id, signal=kind, **where)
            for kind in (feedback.SAVE, feedback.REACTION)
        )


def _model(
    services: Services, signals: list[tuple[int, float]], pool: Iterable[int]
) -> dict[int, float] | None:
    """The model's scores for the pool, or None (too few signals: keep trending).

    The scores of bot.recommend.rank_candidates without its why-lines: a digest never
    shows them, and writing one per candidate was ~95% of the time of ranking a
    category day of a few hundred papers (benchmarks/category_digest_bench.py)."""
    if not signals:
        return None
    # Loaded only once there are signals.
    import numpy as np

    from bot.recommend import MIN_SIGNALS, Signal
    from bot.recommend.model import build_profile, net_signals, score_terms

    sigs = [Signal(p, w) for p, w in signals]
    pos, _ = net_signals(sigs)
    if len(pos) < MIN_SIGNALS:
        return None
    ids = list(dict.fromkeys(pool))
    if not ids:
        return {}
    profile = build_profile(services, sigs)
    if profile is None:
        return None
    sc = score_terms(services.search.index, profile.weights)
    keep = np.isin(sc.ids, np.fromiter(ids, dtype=np.int64))
    got = dict(zip(sc.ids[keep].tolist(), sc.scores[keep].tolist(), strict=True))
    return {pid: float(got.get(pid, 0.0)) for pid in ids}


def channel_order(services: Services, sub: Subscription, cands: Sequence[Candidate]) -> Order:
    """A channel's candidates, learned from the signals given in that channel only.

    The pool leaves out papers the channel was given or gave signals on (plan.py drops
    the given ones anyway): scores are scaled over the pool, so one the model knows well
    because the channel saved it would squash every other difference."""
    with services.db.session() as s:
        signals = feedback.signals(s, sub.team_id, channel_id=sub.channel_id)
        given = repo.given_to_channel(s, sub.channel_id, [c.paper_id for c in cands])
    if not signals:
        return Order([c.paper_id for c in cands])
    seen = given | {p for p, _ in signals}
    upvotes = {c.paper_id: c.upvotes for c in cands if c.paper_id not in seen}
    model = _model(services, signals, upvotes)
    if model is None:
        return Order([c.paper_id for c in cands])
    n = _count(services, sub.team_id, channel_id=sub.channel_id)
    return Order(blend(model, upvotes), n)


def personal_order(
    services: Services, sub: Subscription, cands: Sequence[Candidate], size: int
) -> Order:
    """A user's own picks: their signals (from every channel of the workspace), over the
    day's candidates and recent library papers, less their DM's earlier papers and hides."""
    user = sub.for_user or ""
    with services.db.session() as s:
        signals = feedback.signals(s, sub.team_id, user_id=user)
        hidden = feedback.hidden_ids(s, sub.team_id, user)
        given = repo.given_ids(s, sub.channel_id)
    skip = hidden | given | {p for p, _ in signals}  # hid it, had it, or saved/reacted: seen
    day = [c for c in cands if c.paper_id not in skip]
    if not signals:
        return Order([c.paper_id for c in day])
    from bot.recommend import Signal, recommend

    picks = recommend(
        services,
        [Signal(p, w) for p, w in signals],
        limit=LIBRARY_PICKS * size,
        exclude=tuple(sorted(skip)),
        recent_days=RECENT_DAYS,
    )
    upvotes = {c.paper_id: c.upvotes for c in day}
    extra = [p.paper_id for p in picks if p.paper_id not in upvotes and p.paper_id not in skip]
    if extra:
        with services.db.session() as s:
            rows = s.execute(select(Paper.id, Paper.upvotes).where(Paper.id.in_(extra)))
            upvotes.update({pid: votes or 0 for pid, votes in rows})
    model = _model(services, signals, upvotes)
    if model is None:
        return Order([c.paper_id for c in day])
    n = _count(services, sub.team_id, user_id=user)
    return Order(blend(model, upvotes), n)


def category_order(
    services: Services, sub: Subscription, cands: Sequence[Candidate]
) -> Order | None:
    """A category subscription's day (channel or personal), learned from its signals; None
    when they are too few (the caller falls back to the topic, then upvotes).

    The pool is the day's announcements only (no library picks: the post is "new in cs.CL
    today"), less what the channel (DM) was given, what was signalled and, for a personal
    digest, what its user hid."""
    ids = [c.paper_id for c in cands]
    where = {"user_id": sub.for_user} if sub.for_user else {"channel_id": sub.channel_id}
    with services.db.session() as s:
        signals = feedback.signals(s, sub.team_id, **where)
        if not signals:
            return None
        seen = repo.given_to_channel(s, sub.channel_id, ids) | {p for p, _ in signals}
        if sub.for_user:
            seen |= feedback.hidden_ids(s, sub.team_id, sub.for_user)
    upvotes = {c.paper_id: c.upvotes for c in cands if c.paper_id not in seen}
    model = _model(services, signals, upvotes)
    if model is None:
        return None
    return Order(blend(model, upvotes), _count(services, sub.team_id, **where))


def trending(services: Services, sub: Subscription, cands: Sequence[Candidate]) -> Order:
    """Today's behaviour: the candidates by upvotes (a personal digest still leaves out what
    its user hid). Also the fallback when the model fails."""
    if not sub.for_user:
        return Order([c.paper_id for c in cands])
    with services.db.session() as s:
        hidden = feedback.hidden_ids(s, sub.team_id, sub.for_user)
    return Order([c.paper_id for c in cands if c.paper_id not in hidden])


def _signals(n: int) -> str:
    return "1 save or reaction" if n == 1 else f"{n} saves and reactions"


def heading(sub: Subscription, learned_from: int | None) -> tuple[str, str | None]:
    """The day message's title and the line under it (our mrkdwn: Slack shows <#C…> as
    the channel's name): which model ranked it, learned from how many signals."""
    if sub.for_user:
        if learned_from is None:
            return "Your papers", (
                f"Trending today, for <@{sub.for_user}>: save papers or react to them and "
                "this digest learns what you like"
            )
        return "Your papers", (
            f"Picked for <@{sub.for_user}>, learned from your {_signals(learned_from)}"
        )
    if learned_from is None:
        return "Trending papers", None
    return "Trending papers", (
        f"Ranked for <#{sub.channel_id}>, learned from {_signals(learned_from)}"
    )
