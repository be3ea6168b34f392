"""One request to arXiv every `interval` seconds across ALL processes on the database.

arXiv's terms ask for at most one request every three seconds from a client. Every arXiv
request PaperBot makes takes its turn here: the feed and backfill paths (bot.sources.run)
and the link lookups behind cards and unfurls (bot.links.fetch), so a server unfurling
links and a `paperbot backfill-arxiv` beside it never ask closer than the interval. The
turn is handed out by the database every PaperBot process already shares: a row in `meta`
holds the earliest time (epoch seconds) the next request may start. Taking a turn is one
short transaction that locks that row (SELECT .. FOR UPDATE on PostgreSQL; SQLite's single
write lock), reads it, and moves it `interval` past the turn; the caller then sleeps until
its turn outside any transaction. Turns are wall-clock times, so processes on one host (or
hosts with synchronised clocks) space their requests correctly.

A caller with a deadline (a link lookup) passes `max_wait`: a turn further off than that is
not booked (the transaction rolls back, so the queue is not lengthened by a request that
will never be made) and NoTurnInTime says when the next one is; the wait for the row's lock
is bounded by `max_wait` too.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.services import Services
    from storage.db import Database

META_KEY = "arxiv_next_request_at"
# Added to every wait so jitter on the way (one connect slower than the next) never brings
# two requests closer than the interval at arXiv's end.
PACING_MARGIN = 0.05
MAX_QUEUE_SECONDS = 3600.0
MIN_LOCK_WAIT = 0.1  # seconds a bounded caller still waits for the row's lock


class NoTurnInTime(RuntimeError):
    """The next free turn starts later than the caller can wait; nothing was booked."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"arXiv is paced: next request slot in {delay:.1f} s")
        self.delay = delay


class SharedPacer:
    """`wait()` blocks until this caller's turn (bot.sources.http.Pacer's interface)."""

    def __init__(self, db: Database, interval: float, key: str = META_KEY) -> None:
        self.db = db
        self.interval = interval
        self.key = key

    def wait(self, max_wait: float | None = None) -> None:
        """Sleep until this caller's turn. With `max_wait` (seconds), a turn further off is
        refused with NoTurnInTime before anything is booked. Database errors propagate."""
        delay = self._take_turn(max_wait)
        if delay > 0:
            time.sleep(delay)

    def _take_turn(self, max_wait: float | None) -> float:
        """Book the next free turn; the seconds until it starts."""
        with self.db.session() as s:
            postgres = s.get_bind().dialect.name == "postgresql"
            restore = _bound_lock_wait(s, postgres, max_wait)
            try:
                raw = _locked_value(s, postgres, self.key)
            finally:
                if restore is not None:
                    s.execute(text(f"PRAGMA busy_timeout = {restore}"))
            try:
                booked = float(raw or 0)
            except ValueError:
                booked = 0.0  # a hand-edited row: start afresh
            now = time.time()
            # Turns queue up (each waiter books the one after the last), but one booked
            # absurdly far ahead (a clock that jumped back) is not waited for.
            if booked > now + MAX_QUEUE_SECONDS:
                booked = now
            start = max(now, booked)
            if max_wait is not None and start - now > max_wait:
                raise NoTurnInTime(start - now)  # rolls the transaction back: nothing booked
            s.execute(
                text("UPDATE meta SET value = :v WHERE key = :k"),
                {"v": repr(start + self.interval + PACING_MARGIN), "k": self.key},
            )
        return start - now


def arxiv_pacer(services: Services) -> SharedPacer:
    """The turns every PaperBot process takes before asking arXiv (configured interval)."""
    return SharedPacer(services.db, services.config.arxiv_pace_seconds)


def _bound_lock_wait(s: Session, postgres: bool, max_wait: float | None) -> int | None:
    """Wait at most `max_wait` for the row's lock (a bulk write can hold SQLite's write
    lock for seconds); the SQLite busy timeout to restore afterwards, if changed."""
    if max_wait is None:
        return None
    ms = int(max(max_wait, MIN_LOCK_WAIT) * 1000)
    if postgres:
        s.execute(text(f"SET LOCAL lock_timeout = {ms}"))  # ends with the transaction
        return None
    previous = int(s.execute(text("PRAGMA busy_timeout")).scalar() or 0)
    s.execute(text(f"PRAGMA busy_timeout = {ms}"))
    return previous


def _locked_value(s: Session, postgres: bool, key: str) -> str | None:
    """The row's value, read under its lock (the row is created if missing)."""
    if postgres:
        s.execute(
            text("INSERT INTO meta (key, value) VALUES (:k, '0') ON CONFLICT (key) DO NOTHING"),
            {"k": key},
        )
        return s.execute(
            text("SELECT value FROM meta WHERE key = :k FOR UPDATE"), {"k": key}
        ).scalar()
    # A write first: it takes SQLite's write lock before the read, so two processes
    # cannot both read the same turn.
    hit = s.execute(text("UPDATE meta SET value = value WHERE key = :k"), {"k": key}).rowcount
    if not hit:
        s.execute(text("INSERT INTO meta (key, value) VALUES (:k, '0')"), {"k": key})
    return s.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": key}).scalar()
