"""Digest bookkeeping: subscriptions, runs with leases, and what each channel was given.

Every function works inside the caller's session (one short transaction each). State
changes of a run are conditional on the caller still owning its lease, so a worker that
lost its lease finds out (LeaseLost) instead of writing over the new owner's progress.
Times are UTC and compared in SQL, so every worker must use the same clock (UTC).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, literal, or_, select, text, update
from sqlalchemy.orm import Session

from storage.db import lock_writes
from storage.models import ChannelPaper, DigestItem, DigestRun, Paper, Subscription

OPEN = ("planned", "posting")  # run statuses that still have Slack work to do
SUBSCRIBE_LOCK = 0x44494753  # "DIGS": advisory lock namespace of subscription writes


class LeaseLost(RuntimeError):
    """Another worker owns this run now; stop touching it."""


def utc(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def begin_write(session: Session) -> None:
    """Take SQLite's write lock before reading-then-writing (no stale-snapshot BUSY errors).

    On PostgreSQL the unique constraints and conditional updates are the guards; no lock.
    """
    if session.get_bind().dialect.name == "sqlite":
        lock_writes(session)


def lock_channel(session: Session, team_id: str, channel_id: str) -> None:
    """Serialize writers of one channel's subscription for the rest of this transaction.

    Without it two concurrent `/papers subscribe` in a channel both find no row and both
    insert; on PostgreSQL the second fails on the unique key. A transaction-scoped advisory
    lock per channel (other channels and paper imports do not wait) makes the second see the
    first's row; on SQLite the database write lock does the same.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:ns, hashtext(:key))"),
            {"ns": SUBSCRIBE_LOCK, "key": f"{team_id}/{channel_id}"},
        )
    else:
        lock_writes(session)


# --- subscriptions ----------------------------------------------------------------


def get_subscription(session: Session, team_id: str, channel_id: str) -> Subscription | None:
    return session.scalar(
        select(Subscription).where(
            Subscription.team_id == team_id, Subscription.channel_id == channel_id
        )
    )


def subscribe(
    session: Session,
    *,
    team_id: str,
    channel_id: str,
    topic: str,
    post_time: str,
    tz: str,
    created_by: str,
    now: datetime,
    for_user: str | None = None,
    categories: str | None = None,
) -> tuple[Subscription, bool]:
    """Create or replace the channel's subscription; returns (row, was_new).

    `for_user`: a personal digest, posted in `channel_id` = that user's DM with the bot.
    `categories`: arXiv categories, space-separated ("cs.CL cs.LG"): the day's announcements
    in them instead of the trending list; None for a trending subscription.
    """
    lock_channel(session, team_id, channel_id)
    sub = get_subscription(session, team_id, channel_id)
    was_new = sub is None or not sub.active
    if sub is None:
        sub = Subscription(team_id=team_id, channel_id=channel_id, created_at=now)
        session.add(sub)
    elif not sub.active:
        _drop_stale_runs(session, sub.id, now)
    sub.topic = topic
    sub.post_time = post_time
    sub.tz = tz
    sub.created_by = created_by
    sub.for_user = for_user
    sub.categories = categories or None
    sub.active = True
    sub.inactive_reason = None
    sub.updated_at = now
    session.flush()
    return sub, was_new


def _drop_stale_runs(session: Session, sub_id: int, now: datetime) -> None:
    """A re-subscribed channel does not get digests left unstarted while it was off.

    Runs whose day message was posted are kept (their thread is completed); the others
    are deleted, releasing their papers and their day (today's digest is planned afresh).
    Runs leased right now are left to their owner.
    """
    stale = select(DigestRun.id).where(
        DigestRun.subscription_id == sub_id,
        DigestRun.status.in_(OPEN),
        DigestRun.parent_state != "posted",
        DigestRun.lease_owner.is_(None) | (DigestRun.lease_expires_at < now),
    )
    ids = list(session.scalars(stale))
    if not ids:
        return
    session.execute(delete(ChannelPaper).where(ChannelPaper.run_id.in_(ids)))
    session.execute(delete(DigestItem).where(DigestItem.run_id.in_(ids)))
    session.execute(delete(DigestRun).where(DigestRun.id.in_(ids)))


def get_personal(session: Session, team_id: str, user_id: str) -> Subscription | None:
    """The user's personal digest in this workspace (active first, then the newest)."""
    return session.scalar(
        select(Subscription)
        .where(Subscription.team_id == team_id, Subscription.for_user == user_id)
        .order_by(Subscription.active.desc(), Subscription.id.desc())
        .limit(1)
    )


def deactivate(session: Session, sub_id: int, reason: str, now: datetime) -> bool:
    result = session.execute(
        update(Subscription)
        .where(Subscription.id == sub_id, Subscription.active.is_(True))
        .values(active=False, inactive_reason=reason, updated_at=now)
    )
    return result.rowcount > 0


def unsubscribe(
    session: Session, team_id: str, channel_id: str, reason: str, now: datetime
) -> bool:
    sub = get_subscription(session, team_id, channel_id)
    return bool(sub and deactivate(session, sub.id, reason, now))


def deactivate_team(session: Session, team_id: str, reason: str, now: datetime) -> int:
    """app_uninstalled / tokens_revoked: the workspace's channels get nothing more."""
    result = session.execute(
        update(Subscription)
        .where(Subscription.team_id == team_id, Subscription.active.is_(True))
        .values(active=False, inactive_reason=reason, updated_at=now)
    )
    return result.rowcount


def active_subscriptions(session: Session) -> list[Subscription]:
    return list(
        session.scalars(
            select(Subscription).where(Subscription.active.is_(True)).order_by(Subscription.id)
        )
    )


# --- papers the digest fetched -------------------------------------------------------


def paper_ids_by_arxiv(session: Session, arxiv_ids: Iterable[str]) -> dict[str, int]:
    """arXiv id -> stored paper id, for the papers just fetched and upserted."""
    ids = list(arxiv_ids)
    if not ids:
        return {}
    rows = session.execute(select(Paper.arxiv_id, Paper.id).where(Paper.arxiv_id.in_(ids)))
    return {a: i for a, i in rows if a is not None}


def earliest_published(session: Session, paper_ids: Iterable[int]) -> date | None:
    """The earliest publication date of these papers; None if any has none (no bound)."""
    ids = list(paper_ids)
    if not ids:
        return None
    dates = list(session.scalars(select(Paper.published).where(Paper.id.in_(ids))))
    known = [d for d in dates if d is not None]
    return min(known) if known and len(known) == len(dates) else None


def announcement_covered(
    session: Session, sub_id: int, announced: date, before: date
) -> bool:
    """Did an earlier day's run of this subscription (local date before `before`) already
    take papers announced on `announced`? Then the feed still shows that announcement (it
    had not moved on when fetched) and the rest of that day must not be posted as new.
    Only papers still carrying that announcement as new or cross-list count."""
    q = (
        select(ChannelPaper.paper_id)
        .join(DigestRun, DigestRun.id == ChannelPaper.run_id)
        .join(Paper, Paper.id == ChannelPaper.paper_id)
        .where(
            DigestRun.subscription_id == sub_id,
            DigestRun.local_date < before,
            Paper.announced == announced,
            # A replacement is a later announcement of a paper given earlier, not a sign
            # that this announcement was seen.
            Paper.announce_type.in_(("new", "cross")),
        )
        .limit(1)
    )
    return session.scalar(q) is not None


def announced_candidates(
    session: Session, announced: date, categories: Sequence[str],
    kinds: Sequence[str] = ("new", "cross"),
) -> list[tuple[int, int]]:
    """(paper id, upvotes) of the papers announced on `announced` in any of `categories`,
    oldest id first (storage.papers.announced_on's rule, without loading whole rows)."""
    if not categories:
        return []
    padded = literal(" ") + Paper.categories + literal(" ")
    q = (
        select(Paper.id, Paper.upvotes)
        .where(Paper.announced == announced, Paper.announce_type.in_(list(kinds)))
        .where(or_(*(padded.like(f"% {c} %") for c in categories)))
        .order_by(Paper.id)
    )
    return [(pid, votes or 0) for pid, votes in session.execute(q)]


def count_announced(
    session: Session, announced: date, categories: Sequence[str],
    kinds: Sequence[str] = ("new", "cross"),
) -> int:
    """How many papers were announced on `announced` in any of `categories` (each once;
    the "M" of a category digest's "N of M new papers" line; same rule as
    storage.papers.announced_on)."""
    if not categories:
        return 0
    padded = literal(" ") + Paper.categories + literal(" ")
    q = (
        select(func.count())
        .select_from(Paper)
        .where(Paper.announced == announced, Paper.announce_type.in_(list(kinds)))
        .where(or_(*(padded.like(f"% {c} %") for c in categories)))
    )
    return session.scalar(q) or 0


# --- runs -------------------------------------------------------------------------


def get_run(session: Session, sub_id: int, local_date: date) -> DigestRun | None:
    return session.scalar(
        select(DigestRun).where(
            DigestRun.subscription_id == sub_id, DigestRun.local_date == local_date
        )
    )


def open_runs(session: Session) -> list[DigestRun]:
    """Runs with Slack work left, of active subscriptions (any date: interrupted ones too)."""
    return list(
        session.scalars(
            select(DigestRun)
            .join(Subscription, Subscription.id == DigestRun.subscription_id)
            .where(DigestRun.status.in_(OPEN), Subscription.active.is_(True))
            .order_by(DigestRun.id)
        )
    )


def given_to_channel(session: Session, channel_id: str, paper_ids: Iterable[int]) -> set[int]:
    ids = list(paper_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(ChannelPaper.paper_id).where(
                ChannelPaper.channel_id == channel_id, ChannelPaper.paper_id.in_(ids)
            )
        )
    )


def given_ids(session: Session, channel_id: str) -> set[int]:
    """Every paper ever given to the channel (a personal digest's DM: a few a day)."""
    return set(
        session.scalars(select(ChannelPaper.paper_id).where(ChannelPaper.channel_id == channel_id))
    )


def create_run(
    session: Session,
    sub: Subscription,
    local_date: date,
    paper_ids: Sequence[int],
    now: datetime,
    learned_from: int | None = None,
) -> DigestRun:
    """Record the day's plan and reserve its papers for the channel, in one transaction.

    The caller has taken begin_write() and filtered `paper_ids` with given_to_channel() in
    this same transaction. Two workers planning the same day collide on the unique
    (subscription, date) key: the loser's transaction fails with IntegrityError.
    `learned_from`: the order was learned from that many signals (the header says so).
    """
    run = DigestRun(
        run_key=uuid.uuid4().hex,
        subscription_id=sub.id,
        channel_id=sub.channel_id,
        local_date=local_date,
        planned=list(paper_ids),
        learned_from=learned_from,
        status="planned" if paper_ids else "empty",
        parent_state="none",
        attempts=0,
        created_at=now,
        finished_at=None if paper_ids else now,
    )
    session.add(run)
    session.flush()
    for pos, pid in enumerate(paper_ids):
        session.add(DigestItem(run_id=run.id, paper_id=pid, position=pos, state="none"))
        session.add(
            ChannelPaper(channel_id=sub.channel_id, paper_id=pid, run_id=run.id, created_at=now)
        )
    session.flush()
    return run


def claim_run(session: Session, run_id: int, owner: str, now: datetime, lease: float) -> bool:
    """Take the run's lease if it is free or expired (one atomic conditional UPDATE)."""
    result = session.execute(
        update(DigestRun)
        .where(
            DigestRun.id == run_id,
            DigestRun.status.in_(OPEN),
            (DigestRun.lease_owner.is_(None))
            | (DigestRun.lease_expires_at < now)
            | (DigestRun.lease_owner == owner),
        )
        .values(
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease),
            attempts=DigestRun.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _owned(
    session: Session, run_id: int, owner: str, now: datetime, lease: float, **values: object
) -> None:
    result = session.execute(
        update(DigestRun)
        .where(DigestRun.id == run_id, DigestRun.lease_owner == owner)
        .values({"lease_expires_at": now + timedelta(seconds=lease), **values})
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise LeaseLost(f"digest run {run_id} is no longer owned by {owner}")


def set_parent(
    session: Session,
    run_id: int,
    owner: str,
    now: datetime,
    lease: float,
    state: str,
    ts: str | None = None,
) -> None:
    values: dict[str, object] = {"parent_state": state, "status": "posting"}
    if ts is not None:
        values["parent_ts"] = ts
    _owned(session, run_id, owner, now, lease, **values)


def set_item(
    session: Session,
    run_id: int,
    paper_id: int,
    owner: str,
    now: datetime,
    lease: float,
    state: str,
    ts: str | None = None,
) -> None:
    _owned(session, run_id, owner, now, lease)
    values: dict[str, object] = {"state": state}
    if ts is not None:
        values["reply_ts"] = ts
    session.execute(
        update(DigestItem)
        .where(DigestItem.run_id == run_id, DigestItem.paper_id == paper_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def items(session: Session, run_id: int) -> list[DigestItem]:
    return list(
        session.scalars(
            select(DigestItem).where(DigestItem.run_id == run_id).order_by(DigestItem.position)
        )
    )


def finish_run(
    session: Session,
    run_id: int,
    owner: str,
    now: datetime,
    status: str = "done",
    error: str | None = None,
) -> None:
    _owned(
        session,
        run_id,
        owner,
        now,
        0,
        status=status,
        error=error,
        finished_at=now,
        lease_owner=None,
        lease_expires_at=None,
    )


def fail_run(session: Session, run: DigestRun, owner: str, now: datetime, error: str) -> None:
    """The channel is gone: close the run; papers it never showed become free again."""
    finish_run(session, run.id, owner, now, status="failed", error=error)
    if run.parent_state != "posted":
        session.execute(delete(ChannelPaper).where(ChannelPaper.run_id == run.id))


def release_run(session: Session, run_id: int, owner: str, error: str | None) -> None:
    """Give the lease back after a transient failure, so the next cycle retries at once."""
    session.execute(
        update(DigestRun)
        .where(DigestRun.id == run_id, DigestRun.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None, error=error)
        .execution_options(synchronize_session=False)
    )



def channel_subscriptions(
    session: Session, team_id: str, channel_ids: Iterable[str]
) -> list[Subscription]:
    """The active channel digests of `channel_ids` in one workspace (App Home lists the
    ones of the channels a user is in; personal digests are not channel digests)."""
    ids = sorted(set(channel_ids))
    if not ids:
        return []
    return list(session.scalars(
        select(Subscription).where(
            Subscription.team_id == team_id, Subscription.channel_id.in_(ids),
            Subscription.active.is_(True), Subscription.for_user.is_(None),
        ).order_by(Subscription.channel_id)
    ))
