"""Feedback and the personal lists, as plain functions (no Slack): the listeners call these.

Who gave a signal is a `Where` (workspace, user, channel). Saves and hides belong to one
user (shown only to that user); every signal also records its channel, so a channel's model
learns only from what was given there (storage/feedback.py). Recommendations and "More like
this" come from bot.recommend (RECO-CORE); this module only chooses the signals and the
exclusions, and loads the papers to show.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from storage import feedback as store
from storage.digest import get_subscription
from storage.models import Paper
from storage.papers import get_paper, get_papers

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

_SKIN_TONE = re.compile(r"::skin-tone-\d+$")


@dataclass(frozen=True)
class Where:
    """A signal's origin: nothing is ever read across workspaces (team_id comes first)."""

    team_id: str
    user_id: str
    channel_id: str
    enterprise_id: str | None = None


@dataclass
class PaperList:
    """One page of a personal list: the papers, why each was picked, and paging."""

    papers: list[Paper]
    offset: int
    has_more: bool
    why: dict[int, str] = field(default_factory=dict)
    saved: set[int] = field(default_factory=set)


# --- signals ---------------------------------------------------------------------------


def toggle_save(services: Services, where: Where, paper_id: int) -> bool | None:
    """The Save button: the new state (True saved), None when the paper is gone. A save
    also joins the paper to the workspace's team library; un-saving leaves it there (the
    library records what the team brought up, not anyone's bookmarks)."""
    from storage.library import record_save

    with services.db.session() as s:
        state = store.toggle_save(s, where.team_id, where.user_id, where.channel_id,
                                  paper_id, enterprise_id=where.enterprise_id)
        if state:
            record_save(s, where.team_id, paper_id, user_id=where.user_id,
                        channel_id=where.channel_id, enterprise_id=where.enterprise_id)
        return state


def set_hide(services: Services, where: Where, paper_id: int, hidden: bool) -> bool | None:
    """"Not for us" (or its undo): the new state, None when the paper is gone."""
    with services.db.session() as s:
        return store.set_hide(s, where.team_id, where.user_id, where.channel_id, paper_id,
                              hidden, enterprise_id=where.enterprise_id)


def base_reaction(name: str) -> str:
    """An emoji name without its skin tone: Slack sends `+1::skin-tone-2` for a toned 👍."""
    return _SKIN_TONE.sub("", name.strip().strip(":").lower())


@lru_cache(maxsize=16)
def _base_names(names: frozenset[str]) -> frozenset[str]:
    return frozenset(base_reaction(n) for n in names)


def reaction_value(services: Services, reaction: str) -> int:
    """+1, -1, or 0 (not a feedback emoji) for a reaction name as Slack sends it. Skin tones
    never matter, on either side: a configured `+1::skin-tone-2` counts 👍 in every tone."""
    name = base_reaction(reaction)
    if name in _base_names(services.config.positive_reactions):
        return 1
    if name in _base_names(services.config.negative_reactions):
        return -1
    return 0


def react(services: Services, where: Where, ts: str, reaction: str, added: bool) -> int | None:
    """reaction_added / reaction_removed on message `ts` in `where.channel_id`: the paper
    the signal went to, or None (not one of our one-paper messages, or not a feedback emoji).
    Repeats are harmless: a second add finds its row, a second removal finds none."""
    value = reaction_value(services, reaction)
    if not value:
        return None
    name = base_reaction(reaction)
    with services.db.session() as s:  # a read, then a write of its own (SQLite locks)
        paper_id = store.paper_for_message(s, where.team_id, where.channel_id, ts)
    if paper_id is None:
        return None
    with services.db.session() as s:
        if added:
            store.add_reaction(s, where.team_id, where.user_id, where.channel_id, paper_id,
                               name, value, enterprise_id=where.enterprise_id)
        else:
            store.remove_reaction(s, where.team_id, where.user_id, where.channel_id,
                                  paper_id, name)
    return paper_id


def remember(services: Services, team_id: str, channel_id: str, ts: str, paper_id: int,
             kind: str) -> None:
    """Record that a message we posted is about one paper (its reactions are feedback)."""
    with services.db.session() as s:
        store.remember_message(s, team_id, channel_id, ts, paper_id, kind)


def choice_state(services: Services, where: Where, paper_id: int) -> tuple[bool, bool]:
    """(saved, hidden) of one paper for one user: two indexed lookups, however many papers
    the user saved (a click's notice must not load them all)."""
    with services.db.session() as s:
        return (store.is_saved(s, where.team_id, where.user_id, paper_id),
                store.is_hidden(s, where.team_id, where.user_id, paper_id))


def viewer_state(services: Services, team_id: str, user_id: str) -> tuple[set[int], set[int]]:
    """(saved, hidden) of one user: shown only on that user's own, private answers."""
    with services.db.session() as s:
        return set(store.saved_ids(s, team_id, user_id)), store.hidden_ids(s, team_id, user_id)


def get(services: Services, paper_id: int) -> Paper | None:
    with services.db.session() as s:
        return get_paper(s, paper_id)


# --- lists -----------------------------------------------------------------------------


def _load(services: Services, ids: list[int]) -> list[Paper]:
    with services.db.session() as s:
        return get_papers(s, ids)


def saved_page(services: Services, team_id: str, user_id: str, *, offset: int,
               limit: int) -> PaperList:
    """`/papers saved`: this user's saves, newest first."""
    with services.db.session() as s:
        ids = store.saved_ids(s, team_id, user_id)
        papers = get_papers(s, ids[offset:offset + limit])
    return PaperList(papers, offset, offset + limit < len(ids), saved=set(ids))


def recommend_page(services: Services, team_id: str, user_id: str, words: str, *,
                   offset: int, limit: int, channel_id: str | None = None) -> PaperList:
    """`/papers recommend [words]`: from this user's own signals (every channel), leaving
    out what they saved or hid; words narrow it to a topic. Until the user has given enough
    signals, the topic of the channel's digest (asked from there) stands in for them."""
    from bot.recommend import Signal, recommend

    with services.db.session() as s:
        mine = store.signals(s, team_id, user_id=user_id)
        saved = store.saved_ids(s, team_id, user_id)
        exclude = set(saved) | store.hidden_ids(s, team_id, user_id)
        sub = get_subscription(s, team_id, channel_id) if channel_id else None
        topic = sub.topic if sub is not None and sub.active and sub.topic else None
    picks = recommend(
        services, [Signal(pid, value) for pid, value in mine], limit=limit + 1, offset=offset,
        exclude=exclude, recent_days=services.config.recommend_days, words=words or None,
        fallback_topic=topic,
    )
    shown = picks[:limit]
    papers = _load(services, [p.paper_id for p in shown])
    why = {p.paper_id: p.why for p in shown if p.why}
    return PaperList(papers, offset, len(picks) > limit, why=why, saved=set(saved))


def similar_page(services: Services, team_id: str, user_id: str | None, paper_id: int, *,
                 offset: int, limit: int) -> tuple[Paper | None, PaperList]:
    """More like this: the papers most similar to `paper_id`. With a user (a private
    answer), their hidden papers are left out and their saves shown; without one (a
    channel answer) nobody's choices are used, so none are revealed."""
    from bot.recommend import more_like_this

    saved: set[int] = set()
    exclude: set[int] = {paper_id}
    with services.db.session() as s:
        seed = get_paper(s, paper_id)
        if user_id:
            saved = set(store.saved_ids(s, team_id, user_id))
            exclude |= store.hidden_ids(s, team_id, user_id)
    if seed is None:
        return None, PaperList([], offset, False)
    picks = more_like_this(services, paper_id, limit=limit + 1, offset=offset, exclude=exclude)
    shown = picks[:limit]
    papers = _load(services, [p.paper_id for p in shown])
    why = {p.paper_id: p.why for p in shown if p.why}
    return seed, PaperList(papers, offset, len(picks) > limit, why=why, saved=saved)
