"""The team library: every paper shared as a link or saved, per workspace.

`library_entries` holds one row per (workspace, paper) with who brought it in, where,
when and how ("link" or "save"); `paper_shares` holds every message that shared its link,
so a later share can point back to the first one. Writes are idempotent (unique keys, as
in storage/feedback.py): a retried event or click changes nothing. Nothing crosses
workspaces: every query filters by team_id first. Un-saving never removes a paper from
the library; the library records what the team discussed, not anyone's bookmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.feedback import _insert_ignore, _writing
from storage.models import LibraryItem, Paper, PaperShare

LINK = "link"
SAVE = "save"


@dataclass(frozen=True)
class Share:
    """One message that shared a paper: the earlier discussion a card points back to."""

    paper_id: int
    user_id: str
    channel_id: str
    ts: str
    permalink: str | None
    at: datetime


@dataclass(frozen=True)
class LibraryEntry:
    """A paper in the library: who brought it in, where, when, how, and the message."""

    paper_id: int
    user_id: str
    channel_id: str
    at: datetime
    how: str  # link | save
    permalink: str | None
    public: bool = False  # the first share was in a public channel: who/where may be shown


def _aware(at: datetime | None) -> datetime:
    """SQLite hands back naive datetimes: they were stored as UTC."""
    if at is None:
        return datetime.now(UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _join(session: Session, team_id: str, paper_id: int, *, how: str, user_id: str,
          channel_id: str, ts: str | None, permalink: str | None, at: datetime,
          enterprise_id: str | None) -> None:
    """Add the paper to the workspace's library, or note that it came up again."""
    won = _insert_ignore(session, LibraryItem, {
        "team_id": team_id, "enterprise_id": enterprise_id, "paper_id": paper_id,
        "how": how, "first_user_id": user_id, "first_channel_id": channel_id,
        "first_ts": ts, "first_permalink": permalink, "first_at": at, "last_at": at,
    }, ["team_id", "paper_id"])
    if not won:
        session.execute(
            update(LibraryItem)
            .where(LibraryItem.team_id == team_id, LibraryItem.paper_id == paper_id,
                   LibraryItem.last_at < at)
            .values(last_at=at)
        )


def record_share(session: Session, team_id: str, paper_id: int, *, user_id: str,
                 channel_id: str, ts: str, permalink: str | None,
                 at: datetime | None = None, enterprise_id: str | None = None,
                 public: bool | None = None) -> Share | None:
    """A message shared this paper's link: store it (once, however often Slack retries) and
    return the first earlier share of the paper in this workspace that this message's
    readers may see, or None when there is none. A paper that is not in our papers table is
    ignored (None).

    `public`: the conversation was a public channel (None: unknown). An earlier share is
    returned only from a public channel or from this same conversation, so a card never
    names a DM, group DM or private channel to people who are not in it."""
    _writing(session)
    if session.get(Paper, paper_id) is None:
        return None
    at = _aware(at)
    _insert_ignore(session, PaperShare, {
        "team_id": team_id, "enterprise_id": enterprise_id, "paper_id": paper_id,
        "user_id": user_id, "channel_id": channel_id, "ts": ts, "permalink": permalink,
        "at": at, "public": public,
    }, ["team_id", "channel_id", "ts", "paper_id"])
    _join(session, team_id, paper_id, how=LINK, user_id=user_id, channel_id=channel_id,
          ts=ts, permalink=permalink, at=at, enterprise_id=enterprise_id)
    this = session.execute(
        select(PaperShare.at, PaperShare.id).where(
            PaperShare.team_id == team_id, PaperShare.channel_id == channel_id,
            PaperShare.ts == ts, PaperShare.paper_id == paper_id,
        )
    ).one()
    # The earliest visible share other than this message, that came before it (a retry of
    # the first share is still the first, and answers None).
    first = session.execute(
        select(PaperShare).where(
            PaperShare.team_id == team_id, PaperShare.paper_id == paper_id,
            PaperShare.id != this.id,
            (PaperShare.public.is_(True)) | (PaperShare.channel_id == channel_id),
            (PaperShare.at < this.at) | ((PaperShare.at == this.at) & (PaperShare.id < this.id)),
        ).order_by(PaperShare.at, PaperShare.id).limit(1)
    ).scalar()
    if first is None:
        return None
    return Share(first.paper_id, first.user_id, first.channel_id, first.ts, first.permalink,
                 _aware(first.at))


def first_share(session: Session, team_id: str, paper_id: int) -> Share | None:
    """The first message in this workspace that shared the paper, or None."""
    row = session.execute(
        select(PaperShare).where(PaperShare.team_id == team_id, PaperShare.paper_id == paper_id)
        .order_by(PaperShare.at, PaperShare.id).limit(1)
    ).scalar()
    if row is None:
        return None
    return Share(row.paper_id, row.user_id, row.channel_id, row.ts, row.permalink,
                 _aware(row.at))


def record_save(session: Session, team_id: str, paper_id: int, *, user_id: str,
                channel_id: str, at: datetime | None = None,
                enterprise_id: str | None = None) -> None:
    """A save joins the paper to the workspace's library (if it is not there already)."""
    _writing(session)
    if session.get(Paper, paper_id) is None:
        return
    _join(session, team_id, paper_id, how=SAVE, user_id=user_id, channel_id=channel_id,
          ts=None, permalink=None, at=_aware(at), enterprise_id=enterprise_id)


def _newest_first(team_id: str):  # type: ignore[no-untyped-def]
    return (
        select(LibraryItem).where(LibraryItem.team_id == team_id)
        .order_by(LibraryItem.first_at.desc(), LibraryItem.id.desc())
    )


def _entries(session: Session, team_id: str, rows: list[LibraryItem]) -> list[LibraryEntry]:
    """Library rows as entries, each knowing whether its first share was in a public channel
    (paper_shares.public), so a listing never names a DM or private channel."""
    shared = [r.paper_id for r in rows if r.how == LINK]
    public = {tuple(row) for row in session.execute(
        select(PaperShare.paper_id, PaperShare.channel_id, PaperShare.ts).where(
            PaperShare.team_id == team_id, PaperShare.paper_id.in_(shared),
            PaperShare.public.is_(True),
        )
    )} if shared else set()
    return [
        LibraryEntry(r.paper_id, r.first_user_id, r.first_channel_id, _aware(r.first_at),
                     r.how, r.first_permalink,
                     (r.paper_id, r.first_channel_id, r.first_ts) in public)
        for r in rows
    ]


def latest(session: Session, team_id: str, *, limit: int, offset: int = 0) -> list[LibraryEntry]:
    """One page of the library, newest arrival first."""
    rows = session.execute(_newest_first(team_id).limit(limit).offset(offset)).scalars()
    return _entries(session, team_id, list(rows))


def entries(session: Session, team_id: str, paper_ids: list[int]) -> dict[int, LibraryEntry]:
    """The library entries of these papers in this workspace (those that are in it)."""
    if not paper_ids:
        return {}
    rows = session.execute(
        select(LibraryItem).where(LibraryItem.team_id == team_id,
                                  LibraryItem.paper_id.in_(paper_ids))
    ).scalars()
    return {e.paper_id: e for e in _entries(session, team_id, list(rows))}


def library_ids(session: Session, team_id: str) -> list[int]:
    """Every paper in the workspace's library, newest arrival first."""
    return [
        int(pid) for pid in session.execute(
            select(LibraryItem.paper_id).where(LibraryItem.team_id == team_id)
            .order_by(LibraryItem.first_at.desc(), LibraryItem.id.desc())
        ).scalars()
    ]
