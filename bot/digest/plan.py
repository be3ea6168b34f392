"""Step 4, plan: a due subscription's day, decided once (see cycle.py, rule 1).

The run row (unique per subscription and local date), its papers in order and the
channel's reservations of them are written in one transaction, so a day is planned by one
worker only, a paper is never planned twice for a channel, and the plan never changes.

The order: trending (upvotes), unless the channel's (or, for a personal digest, the
user's) signals are enough for the model, then learned (learn.py); the run records how
many signals it was learned from, for the header.

A category subscription (`arxiv cs.CL`) plans from the announcement the cycle fetched
instead of the trending list, in its own order (categories.py), and shows
Settings.category_size papers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from bot.digest import categories, learn, topics
from bot.digest.settings import Settings
from bot.digest.store import Candidate
from storage import digest as repo
from storage.models import DigestRun, Subscription

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


def on_topic(services: Services, topic: str, cands: Sequence[Candidate]) -> list[Candidate]:
    """The candidates matching `topic` (all of them without one), order kept."""
    if not topic:
        return list(cands)
    # The engine filters on the stored dates (an earlier import may have set them).
    with services.db.session() as s:
        since = repo.earliest_published(s, (c.paper_id for c in cands))
    scores = topics.matching(services.search, topic, [c.paper_id for c in cands], since=since)
    return [c for c in cands if c.paper_id in scores]


def plan(
    services: Services,
    sub: Subscription,
    day: date,
    cands: Sequence[Candidate],
    settings: Settings,
    now: datetime,
    feed: categories.Feed | None = None,
) -> DigestRun | None:
    """Create the run for (sub, day) unless one exists; None when another worker won (or,
    for a category subscription, when the feed has nothing new for it yet).

    `feed`: the arXiv announcement the cycle fetched (category subscriptions only)."""
    if sub.categories:
        announced = feed.announced if feed is not None else None
        try:
            day_cands = categories.candidates(services, sub, announced, day)
        except categories.NotYet as exc:
            log.info("digest for channel %s on %s not planned yet: %s", sub.channel_id, day, exc)
            return None
        order = categories.order(services, sub, day_cands)
        return _record(services, sub, day, order, settings.category_size, now)
    chosen = on_topic(services, sub.topic, cands)
    try:
        if sub.for_user:
            order = learn.personal_order(services, sub, chosen, settings.size)
        else:
            order = learn.channel_order(services, sub, chosen)
    except Exception:  # the model's problem must not cost the channel its digest
        log.exception(
            "digest for %s on %s: the learned order failed; trending order today",
            sub.channel_id,
            day,
        )
        order = learn.trending(services, sub, chosen)
    return _record(services, sub, day, order, settings.size, now)


def _record(
    services: Services, sub: Subscription, day: date, order: learn.Order, size: int,
    now: datetime,
) -> DigestRun | None:
    """Write the run with the first `size` papers of `order` the channel was not given."""
    try:
        with services.db.session() as s:
            repo.begin_write(s)
            if repo.get_run(s, sub.id, day) is not None:
                return None
            current = s.get(Subscription, sub.id)
            if current is None or not current.active:
                return None
            given = repo.given_to_channel(s, sub.channel_id, order.paper_ids)
            ids = [i for i in order.paper_ids if i not in given][:size]
            learned = order.learned_from if ids else None
            run = repo.create_run(s, current, day, ids, now, learned)
    except IntegrityError:
        log.info("digest for channel %s on %s was planned by another worker", sub.channel_id, day)
        return None
    log.info(
        "digest for channel %s on %s planned: %d papers%s",
        sub.channel_id,
        day,
        len(ids),
        f", learned from {order.learned_from} signals" if order.learned_from is not None else "",
    )
    return run
