"""One request to arXiv per interval across processes: two `paperbot backfill-arxiv`
processes started together on one database space their requests at the fake; the pacer on
its own: threads of two "processes", a caller with a deadline (max_wait) refused at once
without booking, and its wait for the row's lock bounded."""

from __future__ import annotations

import itertools
import subprocess
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.sources.pacing import META_KEY, PACING_MARGIN, NoTurnInTime, SharedPacer
from storage.db import SQLITE_BUSY_TIMEOUT_MS, Database
from tests.conftest import PAPERBOT
from tests.fakes.arxiv_feeds import FakeArxivFeeds, OaiRecord

PACE = 0.5


def test_two_processes_share_the_pace(
    arxiv_env: dict[str, str], fake_arxiv: FakeArxivFeeds
) -> None:
    fake_arxiv.records = [
        OaiRecord(f"2611.{i:05d}", f"Paper number {i}", categories="cs.CL") for i in range(6)
    ]
    fake_arxiv.page_size = 2  # 3 pages each: 6 requests from 2 processes
    env = {**arxiv_env, "PAPERBOT_ARXIV_PACE": str(PACE)}
    # Migrate first, so both processes start on a ready schema at the same moment.
    subprocess.run([*PAPERBOT, "migrate"], env=env, check=True, capture_output=True)
    cmd = [*PAPERBOT, "backfill-arxiv", "--category", "cs.CL", "--from", "2026-11-01"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    times = sorted(r.at for r in fake_arxiv.requests)
    assert len(times) == 6
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= PACE - 0.05, gaps


def _booked(db: Database) -> str | None:
    with db.session() as s:
        return s.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": META_KEY}).scalar()


def test_threads_of_two_processes_take_turns(db_url: str, db: Database) -> None:
    """Two Database objects (as two processes have), five threads: every start is spaced."""
    other = Database(db_url)
    pacers = [SharedPacer(db, 0.1), SharedPacer(other, 0.1)]
    stamps: list[float] = []
    lock = threading.Lock()

    def call(i: int) -> None:
        pacers[i % 2].wait()
        with lock:
            stamps.append(time.time())

    try:
        threads = [threading.Thread(target=call, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.dispose()
    gaps = [b - a for a, b in itertools.pairwise(sorted(stamps))]
    assert len(gaps) == 4 and all(g >= 0.1 for g in gaps), gaps


def test_a_turn_beyond_max_wait_is_refused_at_once_and_not_booked(db: Database) -> None:
    pacer = SharedPacer(db, 1.0)
    pacer.wait()  # the first turn is now; the next one a second later
    booked = _booked(db)
    started = time.monotonic()
    with pytest.raises(NoTurnInTime, match=r"arXiv is paced: next request slot in 1\.0 s") as err:
        pacer.wait(max_wait=0.3)
    assert time.monotonic() - started < 0.3
    assert 0.9 < err.value.delay <= 1.0 + PACING_MARGIN
    assert _booked(db) == booked  # the refused caller did not lengthen the queue
    started = time.monotonic()
    pacer.wait(max_wait=2.0)  # a caller who can wait gets the very next turn
    assert 0.8 < time.monotonic() - started < 1.5


def test_the_wait_for_the_rows_lock_is_bounded_by_max_wait(db_url: str, db: Database) -> None:
    """A long write elsewhere (SQLite's single write lock; the row's lock on PostgreSQL)
    holds a bounded caller no longer than its max_wait, not the 15 s busy timeout."""
    pacer = SharedPacer(db, 0.1)
    pacer.wait()
    other = Database(db_url)
    try:
        with other.session() as s:
            s.execute(text("UPDATE meta SET value = value WHERE key = :k"), {"k": META_KEY})
            started = time.monotonic()
            with pytest.raises(OperationalError):
                pacer.wait(max_wait=0.3)
            assert time.monotonic() - started < 2.0
    finally:
        other.dispose()
    pacer.wait(max_wait=1.0)  # the lock is free again
    if db.dialect == "sqlite":  # the bound did not stay on the pooled connection
        with db.session() as s:
            assert s.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS
