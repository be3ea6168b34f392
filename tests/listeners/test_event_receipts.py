"""storage/events.py: each Slack event_id is claimed once; old receipts are pruned."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.db import Database
from storage.events import claim_event, prune_receipts
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_payloads import app_mention
from tests.listeners.support import assert_valid_messages, make_services, start


def test_claim_once_then_prune(db: Database) -> None:
    assert claim_event(db, "Ev1") is True
    assert claim_event(db, "Ev1") is False
    assert claim_event(db, "Ev2") is True
    old = datetime.now(UTC) - timedelta(days=4)
    assert claim_event(db, "EvOld", now=old) is True
    assert prune_receipts(db) == 1
    assert claim_event(db, "EvOld") is True  # forgotten after the retention period
    assert claim_event(db, "Ev1") is False


def test_event_is_acked_while_sqlite_is_write_locked(tmp_path: Path) -> None:
    """An import holding SQLite's write lock must not push the ack past Slack's 3 s."""
    db_path = tmp_path / "paperbot.db"
    with FakeSlack() as fake:
        running = start(make_services(f"sqlite:///{db_path}", tmp_path / "home", fake))
        locker = sqlite3.connect(db_path, isolation_level=None, timeout=1)
        try:
            locker.execute("BEGIN IMMEDIATE")
            body, ctype, payload = app_mention("<@UBOT> diffusion caching")
            started = time.perf_counter()
            assert running.sender.send(body, ctype).status_code == 200
            assert time.perf_counter() - started < 3.0
            # A retry while the receipt cannot be written is skipped, not answered twice.
            assert running.sender.send(body, ctype, retry_num=1).status_code == 200
            locker.execute("ROLLBACK")
            ts = payload["event"]["ts"]
            fake.wait_for(lambda: [m for m in fake.posted() if m.get("thread_ts") == ts])
        finally:
            if locker.in_transaction:
                locker.execute("ROLLBACK")
            locker.close()
            running.stop()
        assert len(fake.calls_to("chat.postMessage")) == 1
        assert_valid_messages(fake)


def test_many_retries_at_once_answer_once(db_url: str, tmp_path: Path) -> None:
    """The original and its retries arriving together on two replicas: one answer."""
    with FakeSlack() as fake:
        a = start(make_services(db_url, tmp_path / "a", fake))
        b = start(make_services(db_url, tmp_path / "b", fake))
        try:
            body, ctype, payload = app_mention("<@UBOT> video generation")
            sends = [(a, None)] + [((b if n % 2 else a), n) for n in range(1, 4)]
            with ThreadPoolExecutor(len(sends)) as pool:
                codes = list(pool.map(
                    lambda s: s[0].sender.send(body, ctype, retry_num=s[1]).status_code, sends
                ))
            assert codes == [200] * len(sends)
            ts = payload["event"]["ts"]
            fake.wait_for(lambda: [m for m in fake.posted() if m.get("thread_ts") == ts])
        finally:
            a.stop()
            b.stop()
        assert len(fake.calls_to("chat.postMessage")) == 1
        assert_valid_messages(fake)
