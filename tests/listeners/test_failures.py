"""bot/listeners/failures.py and workers.py: throttled log lines and bounded lanes."""

from __future__ import annotations

import logging
import threading

import pytest

from bot.listeners.failures import ThrottledLog
from bot.listeners.workers import Lane


def test_throttled_log_writes_the_first_then_a_count_per_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    log = ThrottledLog(logging.getLogger("test.throttled"), every=60, clock=lambda: now[0])
    caplog.set_level(logging.INFO)
    assert log.warning("db", "database down") is True
    for _ in range(500):
        assert log.warning("db", "database down") is False
    assert log.warning("slack", "slack down") is True  # another kind: its own line
    now[0] = 61
    assert log.warning("db", "database down") is True
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["database down", "slack down",
                     "database down (500 more since the last report)"]


def test_lane_refuses_work_beyond_its_queue_instead_of_piling_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lane = Lane("test-lane", workers=1, queue_limit=2)
    gate = threading.Event()
    try:
        accepted = [lane.submit(gate.wait) for _ in range(5)]
        assert [f is not None for f in accepted] == [True, True, True, False, False]
    finally:
        gate.set()
        lane.shutdown()
    assert sum("queue is full" in r.getMessage() for r in caplog.records) == 1
    assert lane.submit(gate.wait) is None  # stopped: refused, not raised
