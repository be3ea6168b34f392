"""Feedback queries: saves, hides and reactions per workspace, user, channel and paper.

Every signal is one row of `feedback` (storage/models.py) under a unique key, so a write
repeated by a Slack retry finds its row and changes nothing; taking a signal back deletes
the row. Everything is filtered by team_id first: nothing crosses workspaces.

Read side (what the recommenders use; signals come oldest first, by time):
  signals(team, user_id=…)     one user's signals, summed per paper, from every channel
  signals(team, channel_id=…)  everyone's signals given in that channel, summed per paper
  saved_ids / hidden_ids       one user's saves (newest first) / hides
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db import lock_writes
from storage.models import Feedback, Paper, PaperMessage

SAVE = "save"
HIDE = "hide"
REACTION = "reaction"

SAVE_VALUE = 1
HIDE_VALUE = -1


def _now() -> datetime:
    return datetime.now(UTC)


def _writing(session: Session) -> None:
    """On SQLite, take the write lock before this transaction's first read: concurrent
    clicks and reactions would otherwise meet as read-to-write upgrades, which SQLite fails
    at once ("database is locked") instead of waiting. PostgreSQL needs nothing for a single
    insert or delete: the unique key and ON CONFLICT settle races there (a read-then-write
    of a Save or a hide takes `_choice_lock`)."""
    if session.get_bind().dialect.name == "sqlite":
        lock_writes(session)


def _insert_ignore(session: Session, model: type, values: dict[str, object],
                   keys: list[str]) -> bool:
    """Insert a row unless one with the same unique key exists; True when this one won."""
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        stmt = (
            dialect_insert(table).values(**values)
            .on_conflict_do_nothing(index_elements=keys)
            .returning(table.c[keys[0]])
        )
        return session.execute(stmt).first() is not None
    try:
        with session.begin_nested():
            session.execute(table.insert().values(**values))
    except IntegrityError:
        return False
    return True


_FEEDBACK_KEY = ["team_id", "user_id", "channel_id", "paper_id", "signal", "detail"]


def _add(session: Session, team_id: str, user_id: str, channel_id: str, paper_id: int,
         signal: str, detail: str, value: int, enterprise_id: str | None) -> bool:
    return _insert_ignore(session, Feedback, {
        "team_id": team_id, "enterprise_id": enterprise_id, "user_id": user_id,
        "channel_id": channel_id, "paper_id": paper_id, "signal": signal, "detail": detail,
        "value": value, "created_at": _now(),
    }, _FEEDBACK_KEY)


def _paper_exists(session: Session, paper_id: int) -> bool:
    return session.get(Paper, paper_id) is not None


# --- writes --------------------------------------------------------------------------------


def _choice_lock(session: Session, team_id: str, user_id: str, paper_id: int) -> None:
    """Serialize the Save / Not-for-us writes of one user on one paper for the rest of the
    transaction: a toggle reads, then writes, and two concurrent toggles must not both read
    "not saved" (each would save, and the user's two clicks would not cancel). SQLite has
    one writer at a time already (`_writing`); PostgreSQL takes a transaction-scoped
    advisory lock on this (workspace, user, paper) only, so other users and papers go on."""
    if session.get_bind().dialect.name == "sqlite":
        lock_writes(session)
    elif session.get_bind().dialect.name == "postgresql":
        digest = hashlib.blake2b(f"feedback\0{team_id}\0{user_id}\0{paper_id}".encode(),
                                 digest_size=8).digest()
        key = int.from_bytes(digest, "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _has(session: Session, team_id: str, user_id: str, paper_id: int, signal: str) -> bool:
    return session.execute(
        select(Feedback.id).where(
            Feedback.team_id == team_id, Feedback.user_id == user_id,
            Feedback.paper_id == paper_id, Feedback.signal == signal,
        ).limit(1)
    ).first() is not None


def _drop(session: Session, team_id: str, user_id: str, paper_id: int, signal: str) -> None:
    session.execute(delete(Feedback).where(
        Feedback.team_id == team_id, Feedback.user_id == user_id,
        Feedback.paper_id == paper_id, Feedback.signal == signal,
    ))


def is_saved(session: Session, team_id: str, user_id: str, paper_id: int) -> bool:
    """Whether this user saved this paper (in any channel)."""
    return _has(session, team_id, user_id, paper_id, SAVE)


def is_hidden(session: Session, team_id: str, user_id: str, paper_id: int) -> bool:
    """Whether this user marked this paper "Not for us" (in any channel)."""
    return _has(session, team_id, user_id, paper_id, HIDE)


def set_save(session: Session, team_id: str, user_id: str, channel_id: str, paper_id: int,
             saved: bool, *, enterprise_id: str | None = None) -> bool:
    """Save (recorded where it was given) or un-save (wherever it was given); returns the
    new state. Repeating either is harmless. Saving takes back the user's "Not for us" of
    the paper: a paper is saved or hidden, never both (the two would cancel out in the
    recommender, and the user's latest word is what they mean)."""
    _choice_lock(session, team_id, user_id, paper_id)
    if saved:
        _drop(session, team_id, user_id, paper_id, HIDE)
        if not is_saved(session, team_id, user_id, paper_id):
            _add(session, team_id, user_id, channel_id, paper_id, SAVE, "", SAVE_VALUE,
                 enterprise_id)
        return True
    _drop(session, team_id, user_id, paper_id, SAVE)
    return False


def toggle_save(session: Session, team_id: str, user_id: str, channel_id: str, paper_id: int,
                *, enterprise_id: str | None = None) -> bool | None:
    """The Save button: saves, or un-saves what was saved. The new state, or None when the
    paper is not in the library. The read and the write happen under the (user, paper)
    lock, so concurrent clicks toggle one after the other. A few indexed statements,
    whatever the number of the user's saves. (Slack retries of one click are dropped by
    the receipts.)"""
    _choice_lock(session, team_id, user_id, paper_id)
    if not _paper_exists(session, paper_id):
        return None
    saved = is_saved(session, team_id, user_id, paper_id)
    return set_save(session, team_id, user_id, channel_id, paper_id, not saved,
                    enterprise_id=enterprise_id)


def set_hide(session: Session, team_id: str, user_id: str, channel_id: str, paper_id: int,
             hidden: bool = True, *, enterprise_id: str | None = None) -> bool | None:
    """"Not for us" (hidden=True) or its undo; the new state, or None for a missing paper.
    Hiding also drops the user's save of it: a paper is never both."""
    _choice_lock(session, team_id, user_id, paper_id)
    if not _paper_exists(session, paper_id):
        return None
    if hidden:
        _drop(session, team_id, user_id, paper_id, SAVE)
        if not is_hidden(session, team_id, user_id, paper_id):
            _add(session, team_id, user_id, channel_id, paper_id, HIDE, "", HIDE_VALUE,
                 enterprise_id)
        return True
    _drop(session, team_id, user_id, paper_id, HIDE)
    return False


def add_reaction(session: Session, team_id: str, user_id: str, channel_id: str,
                 paper_id: int, reaction: str, value: int, *,
                 enterprise_id: str | None = None) -> bool:
    """A reaction counts once per user, message channel, paper and emoji; True when new."""
    _writing(session)
    if not _paper_exists(session, paper_id):
        return False
    return _add(session, team_id, user_id, channel_id, paper_id, REACTION, reaction[:64],
                1 if value > 0 else -1, enterprise_id)


def remove_reaction(session: Session, team_id: str, user_id: str, channel_id: str,
                    paper_id: int, reaction: str) -> bool:
    """reaction_removed: the signal is taken back; True when there was one."""
    _writing(session)
    result = session.execute(delete(Feedback).where(
        Feedback.team_id == team_id, Feedback.user_id == user_id,
        Feedback.channel_id == channel_id, Feedback.paper_id == paper_id,
        Feedback.signal == REACTION, Feedback.detail == reaction[:64],
    ))
    return bool(result.rowcount)


# --- the message -> paper map ---------------------------------------------------------------


def remember_message(session: Session, team_id: str, channel_id: str, ts: str, paper_id: int,
                     kind: str) -> None:
    """Record that message `ts` in `channel_id` is about one paper (idempotent)."""
    _writing(session)
    _insert_ignore(session, PaperMessage, {
        "team_id": team_id, "channel_id": channel_id, "ts": ts, "paper_id": paper_id,
        "kind": kind[:16], "created_at": _now(),
    }, ["team_id", "channel_id", "ts"])


def paper_for_message(session: Session, team_id: str, channel_id: str, ts: str) -> int | None:
    """The paper a message of ours is about, or None (not ours, or about several papers)."""
    return session.execute(
        select(PaperMessage.paper_id).where(
            PaperMessage.team_id == team_id, PaperMessage.channel_id == channel_id,
            PaperMessage.ts == ts,
        )
    ).scalar()


# --- reads ----------------------------------------------------------------------------------


def signals(session: Session, team_id: str, *, user_id: str | None = None,
            channel_id: str | None = None) -> list[tuple[int, float]]:
    """(paper_id, summed value) of a user's signals (user_id: from every channel), of a
    channel's (channel_id: everyone's, given in that channel), or of both (one user in one
    channel). Papers whose signals cancel out are left out."""
    if user_id is None and channel_id is None:
        raise ValueError("signals needs a user_id or a channel_id")
    total = func.sum(Feedback.value)
    query = select(Feedback.paper_id, total).where(Feedback.team_id == team_id)
    if user_id is not None:
        query = query.where(Feedback.user_id == user_id)
    if channel_id is not None:
        query = query.where(Feedback.channel_id == channel_id)
    # Oldest first by each paper's latest signal (then its row id, which grows with time):
    # the recommender keeps the papers of the newest signals, so the order must be by time.
    query = query.group_by(Feedback.paper_id).order_by(
        func.max(Feedback.created_at), func.max(Feedback.id), Feedback.paper_id)
    return [(int(pid), float(v)) for pid, v in session.execute(query) if v]


def saved_ids(session: Session, team_id: str, user_id: str) -> list[int]:
    """The papers this user saved, newest save first."""
    newest = func.max(Feedback.created_at)
    rows = session.execute(
        select(Feedback.paper_id, newest)
        .where(Feedback.team_id == team_id, Feedback.user_id == user_id,
               Feedback.signal == SAVE)
        .group_by(Feedback.paper_id)
        .order_by(newest.desc(), Feedback.paper_id.desc())
    )
    return [int(pid) for pid, _ in rows]


def hidden_ids(session: Session, team_id: str, user_id: str) -> set[int]:
    """The papers this user marked "Not for us"."""
    return set(session.execute(
        select(Feedback.paper_id).where(
            Feedback.team_id == team_id, Feedback.user_id == user_id,
            Feedback.signal == HIDE,
        )
    ).scalars())


def count(session: Session, team_id: str, **where: object) -> int:
    """How many feedback rows match (team first; e.g. signal="reaction", user_id=…)."""
    query = select(func.count()).select_from(Feedback).where(Feedback.team_id == team_id)
    for column, value in where.items():
        query = query.where(getattr(Feedback, column) == value)
    return int(session.execute(query).scalar() or 0)
