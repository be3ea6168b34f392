"""Follows, keyword alerts and the notices they caused (issue 18, items 4 and 5).

Every query filters by team_id first: a workspace never sees another's follows. Notices
are claimed by inserting their unique row (`claim_*`) before anything is posted, so two
processes (or two runs) that see the same paper post it once: whoever inserts the row
posts; the other finds it there and skips.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storage.feedback import _insert_ignore, _writing
from storage.models import (
    Feedback,
    Follow,
    FollowNotice,
    LibraryItem,
    Meta,
    Paper,
    RevisionNotice,
)

USER = "user"
CHANNEL = "channel"
AUTHOR = "author"
ALERT = "alert"
REVISION_TYPES = ("replace", "replace-cross")
WATERMARK_KEY = "follows_rev"  # meta: papers.rev up to which notify has looked
MAX_FOLLOWS = 20  # per user or channel: both lists fit one Slack message (50 blocks)
_CHUNK = 500


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class FollowRow:
    id: int
    team_id: str
    scope: str
    owner: str
    kind: str
    text: str
    norm: str
    created_at: datetime


def _row(f: Follow) -> FollowRow:
    at = f.created_at if f.created_at.tzinfo else f.created_at.replace(tzinfo=UTC)
    return FollowRow(f.id, f.team_id, f.scope, f.owner, f.kind, f.text, f.norm, at)


# --- follows ---------------------------------------------------------------------------


def count_owned(session: Session, team_id: str, scope: str, owner: str) -> int:
    return session.scalar(
        select(func.count()).select_from(Follow).where(
            Follow.team_id == team_id, Follow.scope == scope, Follow.owner == owner
        )
    ) or 0


def add_follow(session: Session, team_id: str, *, scope: str, owner: str, kind: str,
               text: str, norm: str, created_by: str,
               enterprise_id: str | None = None) -> bool:
    """True when this is a new follow; False when the same one was there already."""
    _writing(session)
    return _insert_ignore(session, Follow, {
        "team_id": team_id, "enterprise_id": enterprise_id, "scope": scope, "owner": owner,
        "kind": kind, "text": text, "norm": norm, "created_by": created_by,
        "created_at": _now(),
    }, ["team_id", "scope", "owner", "kind", "norm"])


def remove_follow(session: Session, team_id: str, *, scope: str, owner: str, kind: str,
                  norm: str) -> FollowRow | None:
    _writing(session)
    row = session.execute(select(Follow).where(
        Follow.team_id == team_id, Follow.scope == scope, Follow.owner == owner,
        Follow.kind == kind, Follow.norm == norm,
    )).scalar()
    if row is None:
        return None
    out = _row(row)
    session.execute(delete(Follow).where(Follow.id == row.id))
    return out


def remove_by_id(session: Session, team_id: str, follow_id: int, *, user_id: str,
                 channel_id: str) -> FollowRow | None:
    """Remove one follow by its id, only if it is the user's own or the given channel's
    (a forged button value cannot remove another user's, channel's or workspace's)."""
    _writing(session)
    row = session.execute(select(Follow).where(
        Follow.team_id == team_id, Follow.id == follow_id,
        ((Follow.scope == USER) & (Follow.owner == user_id))
        | ((Follow.scope == CHANNEL) & (Follow.owner == channel_id)),
    )).scalar()
    if row is None:
        return None
    out = _row(row)
    session.execute(delete(Follow).where(Follow.id == row.id))
    return out


def listing(session: Session, team_id: str, user_id: str, channel_id: str) -> list[FollowRow]:
    """The user's own follows, then the channel's, oldest first."""
    rows = session.execute(select(Follow).where(
        Follow.team_id == team_id,
        ((Follow.scope == USER) & (Follow.owner == user_id))
        | ((Follow.scope == CHANNEL) & (Follow.owner == channel_id)),
    ).order_by(Follow.scope.desc(), Follow.created_at, Follow.id)).scalars()
    return [_row(f) for f in rows]


def all_follows(session: Session) -> list[FollowRow]:
    """Every workspace's follows: the matcher groups them per workspace itself."""
    return [_row(f) for f in session.execute(select(Follow).order_by(Follow.id)).scalars()]


# --- which papers to look at ---------------------------------------------------------------


def watermark(session: Session) -> int | None:
    value = session.scalar(select(Meta.value).where(Meta.key == WATERMARK_KEY))
    return int(value) if value and value.isdigit() else None


def set_watermark(session: Session, rev: int) -> None:
    """Move the watermark forward (never back: a slower concurrent run may finish last)."""
    _writing(session)
    if not _insert_ignore(session, Meta, {"key": WATERMARK_KEY, "value": str(rev)}, ["key"]):
        current = watermark(session)
        if current is None or rev > current:
            session.execute(
                update(Meta).where(Meta.key == WATERMARK_KEY).values(value=str(rev))
            )


def max_rev(session: Session) -> int:
    return session.scalar(select(func.max(Paper.rev))) or 0


def ids_changed_after(session: Session, rev: int, upto: int) -> list[int]:
    return list(session.scalars(
        select(Paper.id).where(Paper.rev > rev, Paper.rev <= upto).order_by(Paper.id)
    ))


def papers(session: Session, ids: Iterable[int]) -> list[Paper]:
    ids = sorted(set(ids))
    out: list[Paper] = []
    for i in range(0, len(ids), _CHUNK):
        out += session.scalars(select(Paper).where(Paper.id.in_(ids[i:i + _CHUNK])))
    for p in out:
        session.expunge(p)
    return out


@dataclass(frozen=True)
class Revision:
    team_id: str
    paper_id: int
    version: int


def revisions(session: Session, paper_ids: Sequence[int]) -> list[Revision]:
    """Papers among `paper_ids` in some workspace's library whose latest announcement is a
    new version ("replace") made on a later day than the paper joined that library: the
    version the team has not seen. (A paper saved on the day of its replacement is taken to
    have been saved at that version.)"""
    out: list[Revision] = []
    ids = sorted(set(paper_ids))
    for i in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(LibraryItem.team_id, Paper.id, Paper.version, Paper.announced,
                   LibraryItem.first_at)
            .join(Paper, Paper.id == LibraryItem.paper_id)
            .where(
                LibraryItem.paper_id.in_(ids[i:i + _CHUNK]),
                Paper.version > 1,
                Paper.announce_type.in_(REVISION_TYPES),
                Paper.announced.is_not(None),
            )
        )
        for team_id, pid, version, announced, first_at in rows:
            first = first_at if first_at.tzinfo else first_at.replace(tzinfo=UTC)
            if announced > first.astimezone(UTC).date():
                out.append(Revision(team_id, pid, version))
    return out


def savers(session: Session, team_id: str, paper_id: int) -> list[str]:
    """The users of the workspace who have the paper saved now."""
    return list(session.scalars(
        select(Feedback.user_id).where(
            Feedback.team_id == team_id, Feedback.paper_id == paper_id,
            Feedback.signal == "save",
        ).distinct().order_by(Feedback.user_id)
    ))


# --- notices ---------------------------------------------------------------------------------


def claim_follow_notice(session: Session, team_id: str, follow_id: int, paper_id: int) -> bool:
    """True when this caller is the one to post it (the row was not there)."""
    _writing(session)
    return _insert_ignore(session, FollowNotice, {
        "team_id": team_id, "follow_id": follow_id, "paper_id": paper_id, "state": "claimed",
        "created_at": _now(),
    }, ["follow_id", "paper_id"])


def finish_follow_notice(session: Session, follow_id: int, paper_id: int, *, state: str,
                         channel_id: str | None = None, ts: str | None = None,
                         error: str | None = None) -> None:
    session.execute(update(FollowNotice).where(
        FollowNotice.follow_id == follow_id, FollowNotice.paper_id == paper_id,
    ).values(state=state, channel_id=channel_id, ts=ts, error=error))


def release_follow_notice(session: Session, follow_id: int, paper_id: int) -> None:
    """Slack said no this time (nothing was posted): let a later run try again."""
    session.execute(delete(FollowNotice).where(
        FollowNotice.follow_id == follow_id, FollowNotice.paper_id == paper_id,
        FollowNotice.state == "claimed",
    ))


def claim_revision_notice(session: Session, team_id: str, paper_id: int, version: int) -> bool:
    _writing(session)
    return _insert_ignore(session, RevisionNotice, {
        "team_id": team_id, "paper_id": paper_id, "version": version, "state": "claimed",
        "created_at": _now(),
    }, ["team_id", "paper_id", "version"])


def finish_revision_notice(session: Session, team_id: str, paper_id: int, version: int, *,
                           state: str, target: str | None = None,
                           error: str | None = None) -> None:
    session.execute(update(RevisionNotice).where(
        RevisionNotice.team_id == team_id, RevisionNotice.paper_id == paper_id,
        RevisionNotice.version == version,
    ).values(state=state, target=target, error=error))


def release_revision_notice(session: Session, team_id: str, paper_id: int,
                            version: int) -> None:
    session.execute(delete(RevisionNotice).where(
        RevisionNotice.team_id == team_id, RevisionNotice.paper_id == paper_id,
        RevisionNotice.version == version, RevisionNotice.state == "claimed",
    ))
