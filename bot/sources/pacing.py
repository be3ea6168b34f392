"""One request to arXiv every `interval` seconds across ALL processes on the database.

arXiv's terms ask for at most one request every three seconds from a client. A per-process
pacer (bot.links.fetch.Pacer) cannot see a CLI backfill running beside the server, so the
turn is handed out by the database every PaperBot process already shares: a row in `meta`
holds the earliest time (epoch seconds) the next request may start. Taking a turn is one
short transaction that locks that row (SELECT .. FOR UPDATE on PostgreSQL; SQLite's single
write lock), reads it, and moves it `interval` past the turn; the caller then sleeps until
its turn outside any transaction. Turns are wall-clock times, so processes on one host (or
hosts with synchronised clocks) space their requests correctly.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from storage.db import Database

META_KEY = "arxiv_next_request_at"
# Added to every wait so jitter on the way (one connect slower than the next) never brings
# two requests closer than the interval at arXiv's end (as in bot.links.fetch).
PACING_MARGIN = 0.05
MAX_QUEUE_SECONDS = 3600.0


class SharedPacer:
    """`wait()` blocks until this caller's turn; same interface as bot.links.fetch.Pacer."""

    def __init__(self, db: Database, interval: float, key: str = META_KEY) -> None:
        self.db = db
        self.interval = interval
        self.key = key

    def wait(self) -> None:
        delay = self._take_turn()
        if delay > 0:
            time.sleep(delay)

    def _take_turn(self) -> float:
        """Reserve the next free turn; the seconds until it starts."""
        with self.db.session() as s:
            postgres = s.get_bind().dialect.name == "postgresql"
            if postgres:
                s.execute(
                    text("INSERT INTO meta (key, value) VALUES (:k, '0') "
                         "ON CONFLICT (key) DO NOTHING"),
                    {"k": self.key},
                )
                raw = s.execute(
                    text("SELECT value FROM meta WHERE key = :k FOR UPDATE"), {"k": self.key}
                ).scalar()
            else:
                # A write first: it takes SQLite's write lock before the read, so two
                # processes cannot both read the same turn.
                hit = s.execute(
                    text("UPDATE meta SET value = value WHERE key = :k"), {"k": self.key}
                ).rowcount
                if not hit:
                    s.execute(text("INSERT INTO meta (key, value) VALUES (:k, '0')"),
                              {"k": self.key})
                raw = s.execute(
                    text("SELECT value FROM meta WHERE key = :k"), {"k": self.key}
                ).scalar()
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
            s.execute(
                text("UPDATE meta SET value = :v WHERE key = :k"),
                {"v": repr(start + self.interval + PACING_MARGIN), "k": self.key},
            )
        return start - now
