"""Paper links → cards: the event's paper links (at most MAX_LINKS), their papers looked up
together (bot/links/fetch.py: one arXiv request for the lot), the share noted in the team
library when LIBRARY's storage/library.record_share is present, and the card rendered
(bot/blocks.paper_unfurl). Plain functions below the Slack edge: the listener makes the
Slack calls (chat.getPermalink, chat.unfurl) around them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.blocks import first_discussed, paper_unfurl
from bot.links.fetch import lookup_many
from bot.links.parse import PaperLink, parse_links
from bot.services import Services

log = logging.getLogger(__name__)

# Slack sends a handful of links per message; a forged event with 500 must not cost 500
# lookups (and an arXiv batch this size fits arXiv's default page of 10 results).
MAX_LINKS = 10

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
    public: bool | None = None  # a public channel (channel_is_public); None: unknown


def channel_is_public(client: Any, channel_id: str) -> bool | None:
    """Whether a conversation is a public channel, so later cards elsewhere may name it.

    DMs (D…) and group DMs / legacy private channels (G…) are not, without asking; a C… id
    is no proof (private channels get them too), so conversations.info is asked (one call per
    shared message). None when Slack cannot say (missing scope, error): treated as private."""
    if not channel_id.startswith("C"):
        return False
    try:
        info = client.conversations_info(channel=channel_id).get("channel") or {}
    except Exception as exc:  # SlackApiError or the network: the card just names less
        log.info("conversations.info for a shared link failed: %s", type(exc).__name__)
        return None
    if not isinstance(info, dict) or "is_private" not in info:
        return None
    private = any(info.get(k) for k in ("is_private", "is_im", "is_mpim", "is_group"))
    return bool(info.get("is_channel", True)) and not private


@dataclass
class Unfurled:
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)  # URL -> {"blocks": …}
    failed: list[tuple[str, str]] = field(default_factory=list)  # (URL, why): no card


def records_shares() -> bool:
    """Whether shares are recorded (so the listener fetches the message's permalink)."""
    return _share_recorder() is not None


def links_to_unfurl(urls: Iterable[str]) -> list[PaperLink]:
    """The paper links among an event's URLs (in order, each URL once), the first
    MAX_LINKS of them; one log line says how many were left out."""
    links = parse_links(urls)
    if len(links) > MAX_LINKS:
        log.warning("%d paper links in one event; looking up the first %d",
                    len(links), MAX_LINKS)
    return links[:MAX_LINKS]


def unfurl_links(
    services: Services, links: Sequence[PaperLink], sharing: Sharing | None = None
) -> Unfurled:
    """A card per paper link whose paper is in the library or could be fetched; the others
    are listed in `failed` (Slack's own preview stays). Database errors propagate."""
    out = Unfurled()
    found = lookup_many(services, [link.arxiv_id for link in links])
    papers = {aid: p for aid, p in found.items() if not isinstance(p, str)}
    notes = {aid: _note_share(services, sharing, p.id) for aid, p in papers.items()}
    for link in links:
        paper = papers.get(link.arxiv_id)
        if paper is None:
            why = found.get(link.arxiv_id)
            out.failed.append((link.url, why if isinstance(why, str) else "not looked up"))
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
                at=sharing.at, enterprise_id=sharing.enterprise_id, public=sharing.public,
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
