"""Paper links → cards: each link's paper looked up (bot/links/fetch.py), the share noted
in the team library when LIBRARY's storage/library.record_share is present, and the card
rendered (bot/blocks.paper_unfurl). Plain function below the Slack edge: the listener
makes the Slack calls (chat.getPermalink, chat.unfurl) around it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.blocks import first_discussed, paper_unfurl
from bot.links.fetch import LinkLookupError, lookup
from bot.links.parse import PaperLink
from bot.services import Services

log = logging.getLogger(__name__)

RecordShare = Callable[..., Any]


def _share_recorder() -> RecordShare | None:
    """storage.library.record_share (the team library, built alongside), if present."""
    try:
        from storage.library import record_share
    except ImportError:
        return None
    return record_share


@dataclass(frozen=True)
class Sharing:
    """Who shared the links where (a message in a channel; not the composer preview)."""

    team_id: str
    user_id: str
    channel_id: str
    ts: str
    permalink: str | None
    at: datetime
    enterprise_id: str | None = None


@dataclass
class Unfurled:
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)  # URL -> {"blocks": …}
    failed: list[tuple[str, str]] = field(default_factory=list)  # (URL, why): no card


def records_shares() -> bool:
    """Whether shares are recorded (so the listener fetches the message's permalink)."""
    return _share_recorder() is not None


def unfurl_links(
    services: Services, links: Sequence[PaperLink], sharing: Sharing | None = None
) -> Unfurled:
    """A card per paper link whose paper is in the library or could be fetched; the others
    are listed in `failed` (Slack's own preview stays). Database errors propagate."""
    out = Unfurled()
    papers: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    for link in links:
        if link.arxiv_id in papers or link.arxiv_id in reasons:
            continue
        try:
            paper = lookup(services, link.arxiv_id)
        except LinkLookupError as exc:
            reasons[link.arxiv_id] = str(exc)
            continue
        if paper is None:
            reasons[link.arxiv_id] = f"no source knows arXiv {link.arxiv_id}"
        else:
            papers[link.arxiv_id] = paper
    notes = {aid: _note_share(services, sharing, p.id) for aid, p in papers.items()}
    for link in links:
        paper = papers.get(link.arxiv_id)
        if paper is None:
            out.failed.append((link.url, reasons[link.arxiv_id]))
        else:
            out.cards[link.url] = paper_unfurl(paper, first_share=notes[link.arxiv_id])
    return out


def _note_share(services: Services, sharing: Sharing | None, paper_id: int) -> str | None:
    """Record this share; the "first discussed" line when the team shared it before."""
    record_share = _share_recorder()
    if sharing is None or record_share is None:
        return None
    try:
        with services.db.session() as s:
            earlier = record_share(
                s, sharing.team_id, paper_id, user_id=sharing.user_id,
                channel_id=sharing.channel_id, ts=sharing.ts, permalink=sharing.permalink,
                at=sharing.at, enterprise_id=sharing.enterprise_id,
            )
            if earlier is None:
                return None
            at = earlier.at
            return first_discussed(
                earlier.channel_id, earlier.user_id,
                at.date() if isinstance(at, datetime) else at, earlier.permalink,
            )
    except SQLAlchemyError as exc:  # the card still goes out, without the history
        log.warning("recording the share of paper %s failed: %s", paper_id, type(exc).__name__)
        return None
