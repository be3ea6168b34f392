"""Slack receipts: each event, slash command and button click is answered once.

Slack re-sends an event when it did not get a 200 within 3 seconds (`X-Slack-Retry-Num`,
same `event_id`), a signed command body can be replayed within its 5-minute window (same
`trigger_id`), and with several replicas the second copy can land on another process.

A receipt is written twice: "claimed" (with the time and the claiming process) when a
process takes the request, and "answered" once the answer is out. The first insert wins the
claim; a later copy is skipped while the claim is fresh or answered, and takes the claim
over when it was claimed but never answered and the claimer is gone or took longer than
CLAIM_GRACE (a crash between claim and answer no longer loses the request).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import Enum

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from storage.db import Database
from storage.models import SlackReceipt

log = logging.getLogger(__name__)

# Slack retries for about an hour at most; keep receipts comfortably longer.
KEEP_RECEIPTS = timedelta(days=3)
PRUNE_EVERY_SECONDS = 3600.0
CLAIM_BUSY_TIMEOUT_MS = 1500
# An answer normally takes well under a second; a claim this old without an answer is lost.
CLAIM_GRACE = timedelta(seconds=30)

CLAIMED = "claimed"
ANSWERED = "answered"

_last_prune: dict[str, float] = {}
_prune_lock = threading.Lock()
_owner: tuple[int, str] | None = None
_live_owners: set[str] = set()  # claimers created in this process (they live as long as it)
_owners_lock = threading.Lock()


class Claim(Enum):
    """What a process may do with a request it received."""

    NEW = "new"  # first copy: answer it
    TAKEN_OVER = "taken_over"  # claimed earlier but never answered, claimer gone: answer it
    ANSWERED = "answered"  # already answered: skip
    IN_PROGRESS = "in_progress"  # another claim is fresh and may still answer: skip

    @property
    def answer(self) -> bool:
        return self in (Claim.NEW, Claim.TAKEN_OVER)


def new_owner() -> str:
    """A fresh `host:pid:token` naming one claimer (an app instance) in this process."""
    owner = f"{socket.gethostname()[:100]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    with _owners_lock:
        _live_owners.add(owner)
    return owner


def retire_owner(owner: str) -> None:
    """`owner` stopped answering (its app shut down): its open claims are abandoned."""
    with _owners_lock:
        _live_owners.discard(owner)


def process_owner() -> str:
    """This process's default claimer (a new one after a fork)."""
    global _owner
    pid = os.getpid()
    if _owner is None or _owner[0] != pid:
        _owner = (pid, new_owner())
    return _owner[1]


def owner_is_gone(owner: str) -> bool:
    """True when `owner` was a claimer on this host that no longer runs (a dead pid, or this
    pid in an earlier life); other hosts' claimers can't be checked: CLAIM_GRACE frees them."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid = parts[0], int(parts[1])
    if host != socket.gethostname()[:100]:
        return False
    if pid == os.getpid():
        with _owners_lock:
            return owner not in _live_owners
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _insert_claim(db: Database, values: dict[str, object]) -> bool:
    """Insert the claim row; True when this insert won (no row existed)."""
    table = SlackReceipt.__table__
    if db.dialect in ("sqlite", "postgresql"):
        if db.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        # A row back means this insert won (psycopg 3 reports rowcount -1 here).
        stmt = (
            dialect_insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["team_id", "kind", "slack_id"])
            .returning(table.c.slack_id)
        )
        with db.engine.begin() as conn:
            restore = None
            if db.dialect == "sqlite":
                # This runs before Slack gets its ack: wait briefly, not the full busy timeout,
                # when another writer (an import) holds SQLite's write lock.
                restore = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
                conn.exec_driver_sql(f"PRAGMA busy_timeout={CLAIM_BUSY_TIMEOUT_MS}")
            try:
                return conn.execute(stmt).first() is not None
            finally:
                if restore is not None:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={int(restore)}")
    # Any other backend: a plain insert, the duplicate shows up as an IntegrityError.
    try:
        with db.engine.begin() as conn:
            conn.execute(insert(table).values(**values))
    except IntegrityError:
        return False
    return True


def claim(
    db: Database,
    kind: str,
    slack_id: str,
    *,
    team_id: str = "",
    owner: str | None = None,
    now: datetime | None = None,
    grace: timedelta = CLAIM_GRACE,
    abandoned: Callable[[str], bool] = owner_is_gone,
) -> Claim:
    """Claim one Slack request for `owner` (this process by default).

    `abandoned(owner)` says whether an earlier claimer can no longer answer (the app adds
    "this process, and the answer is no longer in flight" to `owner_is_gone`).
    """
    now = now or datetime.now(UTC)
    owner = owner or process_owner()
    won = _insert_claim(db, {
        "team_id": team_id, "kind": kind, "slack_id": slack_id, "state": CLAIMED,
        "owner": owner[:160],
        "attempts": 1, "claimed_at": now, "answered_at": None,
    })
    if won:
        _maybe_prune(db, now)
        return Claim.NEW
    table = SlackReceipt.__table__
    key = _key(team_id, kind, slack_id)
    with db.engine.begin() as conn:
        row = conn.execute(
            select(table.c.state, table.c.owner, table.c.attempts, table.c.claimed_at).where(key)
        ).first()
        if row is None:  # pruned in between: treat as new on the next copy
            return Claim.IN_PROGRESS
        if row.state == ANSWERED:
            return Claim.ANSWERED
        if now - _aware(row.claimed_at) < grace and not abandoned(row.owner):
            return Claim.IN_PROGRESS
        # Take the lost claim over; `attempts` makes it a compare-and-set among replicas.
        taken = conn.execute(
            update(table)
            .where(key, table.c.state == CLAIMED, table.c.attempts == row.attempts)
            .values(owner=owner[:160], attempts=row.attempts + 1, claimed_at=now)
            .returning(table.c.slack_id)
        ).first()
    if taken is None:
        return Claim.IN_PROGRESS
    log.info("%s %s: earlier claim by %s was never answered; answering it", kind, slack_id,
             row.owner)
    return Claim.TAKEN_OVER


def _key(team_id: str, kind: str, slack_id: str) -> ColumnElement[bool]:
    table = SlackReceipt.__table__
    return and_(table.c.team_id == team_id, table.c.kind == kind, table.c.slack_id == slack_id)


def mark_answered(
    db: Database, kind: str, slack_id: str, *, team_id: str = "", now: datetime | None = None
) -> None:
    """The answer is out: every later copy of this request is skipped."""
    table = SlackReceipt.__table__
    with db.engine.begin() as conn:
        conn.execute(
            update(table)
            .where(_key(team_id, kind, slack_id))
            .values(state=ANSWERED, answered_at=now or datetime.now(UTC))
        )


def receipt_state(db: Database, kind: str, slack_id: str, *, team_id: str = "") -> str | None:
    """"claimed", "answered" or None (never seen or pruned)."""
    table = SlackReceipt.__table__
    with db.engine.connect() as conn:
        return conn.execute(select(table.c.state).where(_key(team_id, kind, slack_id))).scalar()


def claim_event(db: Database, event_id: str, *, now: datetime | None = None) -> bool:
    """True for the first caller with this event_id (answer it), False for every later one."""
    return claim(db, "event", event_id, now=now).answer


def prune_receipts(db: Database, *, now: datetime | None = None) -> int:
    """Delete receipts older than KEEP_RECEIPTS; returns how many went."""
    cutoff = (now or datetime.now(UTC)) - KEEP_RECEIPTS
    table = SlackReceipt.__table__
    with db.engine.begin() as conn:
        return conn.execute(delete(table).where(table.c.claimed_at < cutoff)).rowcount or 0


def _maybe_prune(db: Database, now: datetime) -> None:
    """At most once an hour per process and database: cheap, and no scheduler needed."""
    with _prune_lock:
        last = _last_prune.get(db.url)
        if last is not None and time.monotonic() - last < PRUNE_EVERY_SECONDS:
            return
        _last_prune[db.url] = time.monotonic()
    try:
        removed = prune_receipts(db, now=now)
    except Exception as exc:  # pruning is housekeeping; never fail an answer for it
        log.warning("could not prune old Slack receipts: %s", type(exc).__name__)
        return
    if removed:
        log.info("pruned %d Slack receipts older than %s", removed, KEEP_RECEIPTS)
