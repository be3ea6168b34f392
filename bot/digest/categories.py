"""Category subscriptions (`/papers subscribe arxiv cs.CL cs.LG`): the day's arXiv
announcements in the channel's fields, ranked by what the channel saves.

Fetch: when a due subscription has categories, the cycle reads ONE feed for the union of
the due subscriptions' categories (rss.arxiv.org/rss/cs.CL+cs.LG, through the pacer every
PaperBot process shares, bot.sources) and stores it (bot.sources.run.fetch_arxiv). The
feed's date is the announcement day.

Candidates: the papers announced that day in the subscription's categories, new papers and
cross-lists (each paper is one row: a cross-list of a paper also new in another of the
categories counts once; a replacement is a revision, not a new paper, and is left out),
minus what the channel already got (plan.py's digest_channel_papers reservation). No
announcement (weekends, holidays: an empty feed) is an empty day: nothing posted, no error.
If an earlier day's post of this subscription already took papers of that announcement (the
feed had not moved on yet, e.g. a cycle just before arXiv's update), the day is not planned
yet: the next cycle looks again, so the rest of an old announcement is never posted as new.

Order: the learned model once the channel (for a personal digest: the user) has >= 3
positive signals (learn.category_order, blended with upvotes as learn.py describes), else
the topic words' BM25 (topics.matching: matching papers first, best score first), else
Hugging Face upvotes where the Hub has the paper (the same row), else announcement order
(the order papers were stored, i.e. the feed's).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.digest import learn, topics
from bot.digest.due import Slot
from bot.digest.store import Candidate
from bot.sources import taxonomy
from storage import digest as repo
from storage.models import Paper, Subscription

if TYPE_CHECKING:
    from bot.follows.notify import NotifyReport
    from bot.services import Services

log = logging.getLogger(__name__)

KINDS = ("new", "cross")  # replacements are revisions, not the day's new papers


class NotYet(Exception):
    """The feed still shows an announcement this subscription already had: plan later."""


@dataclass(frozen=True)
class Feed:
    """What the cycle's feed fetch gave: the announcement day (None: nothing announced),
    or the error that kept it from being read (the category subscriptions wait then)."""

    announced: date | None = None
    error: str | None = None
    summary: str | None = None  # for the cycle's report
    notices: NotifyReport | None = None  # follows and revisions of the feed's papers


def categories_of(sub: Subscription) -> list[str]:
    return (sub.categories or "").split()


def union(slots: Sequence[Slot]) -> list[str]:
    """The categories of the due subscriptions, each once, in a stable order. A stored name
    arXiv does not have (saved before names were checked against its taxonomy) is left out
    of the shared feed, so it cannot spoil the other subscriptions' day."""
    cats: dict[str, None] = {}
    for slot in slots:
        for c in categories_of(slot.sub):
            if taxonomy.is_category(c):
                cats[c] = None
            else:
                log.warning("digest for %s: %r is not an arXiv category; left out of the feed",
                            slot.sub.channel_id, c[:40])
    return sorted(cats)


def fetch(services: Services, slots: Sequence[Slot], poster: Any) -> Feed | None:
    """One feed request for the union of the due subscriptions' categories, stored, its
    new papers' follow and revision notices posted with the cycle's `poster`; None when no
    due subscription has categories (no request)."""
    cats = union(slots)
    if not cats:
        return None
    from bot.sources.http import SourceError
    from bot.sources.run import fetch_arxiv

    try:
        got = fetch_arxiv(services, cats, poster=poster)
    except SourceError as exc:
        log.error("arXiv feed for the digest: %s", exc)
        return Feed(error=str(exc), summary=f"arXiv feed failed: {exc}")
    log.info("digest: %s", got.render())
    return Feed(announced=got.announced, summary=f"arXiv: {got.render(notices=False)}",
                notices=got.notices)


def candidates(
    services: Services, sub: Subscription, announced: date | None, day: date
) -> list[Candidate]:
    """The announcement's papers in the subscription's categories, in announcement order
    (raises NotYet when an earlier day of this subscription took papers of it already)."""
    if announced is None:
        return []
    with services.db.session() as s:
        if repo.announcement_covered(s, sub.id, announced, before=day):
            raise NotYet(f"the feed still announces {announced}, which it already had")
        rows = repo.announced_candidates(s, announced, categories_of(sub), KINDS)
    return [Candidate(pid, votes) for pid, votes in rows]


def order(services: Services, sub: Subscription, cands: Sequence[Candidate]) -> learn.Order:
    """Learned, else topic, else upvotes, else announcement order (see above)."""
    try:
        learned = learn.category_order(services, sub, cands)
    except Exception:  # the model's problem must not cost the channel its digest
        log.exception("category digest for %s: the learned order failed", sub.channel_id)
        learned = None
    if learned is not None:
        return learned
    pos = {c.paper_id: i for i, c in enumerate(cands)}
    scores: dict[int, float] = {}
    if sub.topic:
        scores = topics.matching(services.search, sub.topic, list(pos))
    ranked = sorted(cands, key=lambda c: (-scores.get(c.paper_id, 0.0), -c.upvotes,
                                          pos[c.paper_id]))
    return learn.Order([c.paper_id for c in ranked])


def heading(
    session: Session, sub: Subscription, learned_from: int | None, papers: Sequence[Paper]
) -> dict[str, str | None]:
    """blocks.parent_message's title, ranking, count and footer for a category digest.

    M in "N of M new papers" is counted when the message is built, from the announcement
    day of the planned papers (new papers and cross-lists in the categories)."""
    cats = categories_of(sub)
    named = ", ".join(cats)
    days = Counter(p.announced for p in papers if p.announced is not None)
    total = len(papers)
    if days:
        total = max(total, repo.count_announced(session, days.most_common(1)[0][0], cats, KINDS))
    noun = "paper" if total == 1 else "papers"
    count = f"{len(papers)} of {total} new {noun} in {named} today"
    _title, ranking = learn.heading(sub, learned_from)
    if learned_from is not None:
        footer = "upvotes as a prior"
    elif sub.topic:
        footer = "papers about the topic first, then Hugging Face upvotes, then arXiv's order"
    elif any(p.upvotes for p in papers):
        footer = "ranked by Hugging Face upvotes, then arXiv's announcement order"
    else:
        footer = "in arXiv's announcement order"
    if learned_from is None:
        ranking = (
            f"For <@{sub.for_user}>: save papers or react to them and this digest learns "
            "what you like"
        ) if sub.for_user else None
    title = f"Your new papers in {named}" if sub.for_user else f"New in {named}"
    return {"title": title, "ranking": ranking, "count": count, "footer": footer}
