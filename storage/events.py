"""Slack event receipts: claim an event_id once, whichever process or retry sees it first.

Slack re-sends an event when it did not get a 200 within 3 seconds (`X-Slack-Retry-Num`,
same `event_id`), and with several replicas the retry can land on another process. The
primary key on `event_id` makes the first insert win; everyone else sees a conflict.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import SlackEventReceipt

log = logging.getLogger(__name__)

# Slack retries for about an hour at most; keep receipts comfortably longer.
KEEP_RECEIPTS = timedelta(days=3)
PRUNE_EVERY_SECONDS = 3600.0
CLAIM_BUSY_TIMEOUT_MS = 1500

_last_prune: dict[str, float] = {}
_prune_lock = threading.Lock()


def _insert_ignoring_duplicate(db: Database, event_id: str, now: datetime) -> bool:
    table = SlackEventReceipt.__table__
    values = {"event_id": event_id, "received_at": now}
    if db.dialect in ("sqlite", "postgresql"):
        if db.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        # A row back means this insert won (psycopg 3 reports rowcount -1 here).
        stmt = (
            dialect_insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(table.c.event_id)
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


def claim_event(db: Database, event_id: str, *, now: datetime | None = None) -> bool:
    """True for the first caller with this event_id (answer it), False for every later one."""
    now = now or datetime.now(UTC)
    claimed = _insert_ignoring_duplicate(db, event_id, now)
    if claimed:
        _maybe_prune(db, now)
    return claimed


def prune_receipts(db: Database, *, now: datetime | None = None) -> int:
    """Delete receipts older than KEEP_RECEIPTS; returns how many went."""
    cutoff = (now or datetime.now(UTC)) - KEEP_RECEIPTS
    table = SlackEventReceipt.__table__
    with db.engine.begin() as conn:
        return conn.execute(delete(table).where(table.c.received_at < cutoff)).rowcount or 0


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
        log.warning("could not prune old Slack event receipts: %s", type(exc).__name__)
        return
    if removed:
        log.info("pruned %d Slack event receipts older than %s", removed, KEEP_RECEIPTS)
