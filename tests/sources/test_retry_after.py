"""Retry-After as arXiv sends it: delta-seconds or an HTTP date."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.sources.http import retry_after

NOW = datetime(2026, 12, 5, 8, 0, 0, tzinfo=UTC)


def test_retry_after_forms() -> None:
    assert retry_after("120", NOW) == 120.0
    assert retry_after(" 5 ", NOW) == 5.0
    assert retry_after("Sat, 05 Dec 2026 08:00:30 GMT", NOW) == 30.0
    assert retry_after("Sat, 05 Dec 2026 07:00:00 GMT", NOW) == 0.0  # already past
    assert retry_after("soon", NOW) is None
    assert retry_after(None, NOW) is None and retry_after("", NOW) is None
