"""storage/events.py: each Slack event_id is claimed once; old receipts are pruned."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.db import Database
from storage.events import (
    CLAIM_GRACE,
    Claim,
    claim,
    claim_event,
    mark_answered,
    prune_receipts,
    receipt_state,
)
from tests.fakes.slack_api import TEAM_ID, FakeSlack
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


def _replies(fake: FakeSlack, ts: str) -> list[dict]:
    return [m for m in fake.posted() if m.get("thread_ts") == ts]


def test_claim_states_and_take_over(db: Database) -> None:
    """claimed -> answered; a lost claim (old, or its process gone) is taken over once."""
    now = datetime.now(UTC)
    assert claim(db, "event", "Ev1", owner="h:1:a", now=now) is Claim.NEW
    assert receipt_state(db, "event", "Ev1") == "claimed"
    alive = lambda owner: False  # noqa: E731
    assert claim(db, "event", "Ev1", owner="h:2:b", abandoned=alive) is Claim.IN_PROGRESS
    later = now + CLAIM_GRACE + timedelta(seconds=1)
    assert claim(db, "event", "Ev1", owner="h:2:b", now=later, abandoned=alive) \
        is Claim.TAKEN_OVER
    assert claim(db, "event", "Ev1", owner="h:3:c", now=later, abandoned=alive) \
        is Claim.IN_PROGRESS  # taken over once: the new claim is fresh
    mark_answered(db, "event", "Ev1")
    assert claim(db, "event", "Ev1", owner="h:4:d", now=later + CLAIM_GRACE * 2,
                 abandoned=lambda owner: True) is Claim.ANSWERED
    assert claim(db, "command", "Ev1", owner="h:1:a") is Claim.NEW  # kinds are apart
    # ...and so are workspaces: a receipt of one never answers for another
    assert claim(db, "event", "Ev1", team_id="T0OTHER", owner="h:1:a") is Claim.NEW
    assert receipt_state(db, "event", "Ev1", team_id="T0OTHER") == "claimed"
    assert receipt_state(db, "event", "Ev1") == "answered"


def test_event_whose_answer_failed_is_answered_by_slacks_retry(
    db_url: str, tmp_path: Path
) -> None:
    """Defect 4: claimed, then the answer was lost (Slack refused chat.postMessage with a
    500): the retry answers it, once; a retry of the answered event is skipped."""
    with FakeSlack() as fake:
        running = start(make_services(db_url, tmp_path / "home", fake))
        try:
            fake.fail_http("chat.postMessage", 500, times=2)  # the call and its one retry
            body, ctype, payload = app_mention("<@UBOT> diffusion caching", event_id="EvLOST01")
            ts = payload["event"]["ts"]
            assert running.sender.send(body, ctype).status_code == 200
            fake.wait_for(lambda: fake.calls_to("chat.postEphemeral"))  # told it failed
            running.app.paperbot_background.shutdown(wait=True)
            assert not _replies(fake, ts)
            state = receipt_state(running.services.db, "event", "EvLOST01", team_id=TEAM_ID)
            assert state == "claimed"
        finally:
            running.stop()
        again = start(make_services(db_url, tmp_path / "home", fake))  # restarted, too
        try:
            assert again.sender.send(body, ctype, retry_num=1).status_code == 200
            fake.wait_for(lambda: _replies(fake, ts))
            assert again.sender.send(body, ctype, retry_num=2).status_code == 200
            again.app.paperbot_background.shutdown(wait=True)
            state = receipt_state(again.services.db, "event", "EvLOST01", team_id=TEAM_ID)
            assert state == "answered"
        finally:
            again.stop()
        assert len(_replies(fake, ts)) == 1


def test_retry_in_the_same_process_takes_over_a_failed_answer(
    db_url: str, tmp_path: Path
) -> None:
    """Defect 4, same replica: no need to wait out the grace when our own answer failed."""
    with FakeSlack() as fake:
        running = start(make_services(db_url, tmp_path / "home", fake))
        try:
            fake.fail_http("chat.postMessage", 500, times=2)
            body, ctype, payload = app_mention("<@UBOT> video generation")
            ts = payload["event"]["ts"]
            running.sender.send(body, ctype)
            fake.wait_for(lambda: fake.calls_to("chat.postEphemeral"))
            time.sleep(0.2)  # the failed answer has settled its receipt
            running.sender.send(body, ctype, retry_num=1)
            fake.wait_for(lambda: _replies(fake, ts))
            running.sender.send(body, ctype, retry_num=2)
            running.app.paperbot_background.shutdown(wait=True)
        finally:
            running.stop()
        assert len(_replies(fake, ts)) == 1


def test_stale_or_orphaned_claims_are_answered_fresh_ones_are_not(
    db_url: str, tmp_path: Path
) -> None:
    """Defect 4: a claim left by a crash is answered by the retry: when older than the grace,
    or at once when its process is gone; a fresh claim of a live process is left alone."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    with FakeSlack() as fake:
        running = start(make_services(db_url, tmp_path / "home", fake))
        db = running.services.db
        old = datetime.now(UTC) - CLAIM_GRACE - timedelta(seconds=5)
        for event_id, owner, at in (("EvSTALE1", "elsewhere:7:x", old),
                                    ("EvDEAD01", f"{host}:{dead.pid}:x", None),
                                    ("EvBUSY01", "elsewhere:7:x", None)):
            assert claim(db, "event", event_id, team_id=TEAM_ID, owner=owner, now=at) \
                is Claim.NEW
        try:
            sent = {}
            for event_id in ("EvSTALE1", "EvDEAD01", "EvBUSY01"):
                body, ctype, payload = app_mention("<@UBOT> diffusion", event_id=event_id)
                sent[event_id] = payload["event"]["ts"]
                assert running.sender.send(body, ctype, retry_num=1).status_code == 200
            fake.wait_for(lambda: _replies(fake, sent["EvSTALE1"]))
            fake.wait_for(lambda: _replies(fake, sent["EvDEAD01"]))
            running.app.paperbot_background.shutdown(wait=True)
        finally:
            running.stop()
        assert len(_replies(fake, sent["EvSTALE1"])) == 1
        assert len(_replies(fake, sent["EvDEAD01"])) == 1
        assert not _replies(fake, sent["EvBUSY01"])
