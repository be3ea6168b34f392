"""What a user's App Home shows, gathered as plain data (no Slack): their saved papers,
picks for them, the workspace's latest shares and the digests of the channels they are in.

The Slack edge (bot/listeners/home.py) asks Slack which channels the user is in and
publishes the view (bot/home_blocks.py renders it). Everything is read for one workspace
and one user: another user's saves never reach this page. A database outage raises
SQLAlchemyError to the caller (it publishes a short "can't reach its database" view); a
recommender failure only empties its section.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bot import feedback
from storage import feedback as store
from storage.digest import channel_subscriptions, get_personal
from storage.library import LibraryEntry, latest
from storage.models import Paper, Subscription
from storage.papers import get_papers

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

SHOWN = 5  # papers per section


@dataclass(frozen=True)
class Digest:
    """One digest line: where it posts, its topic, its local time and, for a category
    subscription, the arXiv categories it takes instead of the trending list."""

    channel_id: str
    topic: str
    post_time: str
    tz: str
    categories: tuple[str, ...] = ()

    @classmethod
    def of(cls, sub: Subscription) -> Digest:
        return cls(sub.channel_id, sub.topic, sub.post_time, sub.tz,
                   tuple((sub.categories or "").split()))


@dataclass(frozen=True)
class Share:
    """A paper in the workspace's library, with who brought it in, where, when and how."""

    paper: Paper
    entry: LibraryEntry


@dataclass
class HomeData:
    """Everything one user's Home tab shows."""

    saved: list[Paper] = field(default_factory=list)
    saved_total: int = 0
    saved_ids: set[int] = field(default_factory=set)
    hidden_ids: set[int] = field(default_factory=set)
    recommended: list[Paper] = field(default_factory=list)
    why: dict[int, str] = field(default_factory=dict)
    recommend_failed: bool = False
    shares: list[Share] = field(default_factory=list)
    channel_digests: list[Digest] = field(default_factory=list)
    personal: Digest | None = None
    channels_known: bool = True  # False: Slack did not tell us the user's channels


def _latest_shares(services: Services, team_id: str, limit: int) -> list[Share]:
    """The workspace's latest arrivals in its library (storage/library.py), newest first."""
    with services.db.session() as s:
        entries = latest(s, team_id, limit=limit, offset=0)
        papers = {p.id: p for p in get_papers(s, [e.paper_id for e in entries])}
    return [Share(papers[e.paper_id], e) for e in entries if e.paper_id in papers]


def gather(services: Services, team_id: str, user_id: str,
           channel_ids: Collection[str] | None, *, limit: int = SHOWN) -> HomeData:
    """The Home tab of `user_id` in `team_id`. `channel_ids`: the channels the user is in
    (None when Slack could not say: the channel digests section then says so)."""
    data = HomeData(channels_known=channel_ids is not None)
    with services.db.session() as s:
        ids = store.saved_ids(s, team_id, user_id)
        data.saved_total = len(ids)
        data.saved_ids = set(ids)
        data.hidden_ids = store.hidden_ids(s, team_id, user_id)
        data.saved = get_papers(s, ids[:limit])
        subs = channel_subscriptions(s, team_id, channel_ids or ())
        data.channel_digests = [Digest.of(x) for x in subs]
        mine = get_personal(s, team_id, user_id)
        if mine is not None and mine.active:
            data.personal = Digest.of(mine)
    try:
        page = feedback.recommend_page(services, team_id, user_id, "", offset=0, limit=limit)
    except SQLAlchemyError:
        raise
    except Exception:  # a recommender bug must not blank the whole Home tab
        log.exception("recommendations for the App Home failed")
        data.recommend_failed = True
        page = None
    if page is not None:
        data.recommended, data.why = page.papers, page.why
    data.shares = _latest_shares(services, team_id, limit)
    return data
