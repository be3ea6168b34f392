"""GET /health tells the truth about the database: 503 while it is unreachable, 200 again
once it is back, one log line per change of state, and the database is probed at most about
once a second however often /health is polled.

Outages are real: a SQLite file whose directory is moved away, and a PostgreSQL reached
through a TCP proxy (tests/fakes/tcp_proxy.py) that is shut (connections cut, port closed)
and reopened.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from bot.server import HEALTH_CACHE_SECONDS
from tests.conftest import POSTGRES_SKIP_REASON
from tests.fakes.slack_api import FakeSlack
from tests.fakes.tcp_proxy import TcpProxy
from tests.listeners.conftest import fake_slack_fixture  # noqa: F401
from tests.listeners.support import Running, make_services, start
from tests.logcapture import captured_log

DOWN = {"ok": False, "database": "unreachable"}


@pytest.fixture
def app_log() -> Iterator[io.StringIO]:
    """The production log configuration, written into a buffer; restored afterwards."""
    with captured_log("INFO") as buf:
        yield buf


def _health(running: Running) -> httpx.Response:
    return httpx.get(f"{running.url}/health", timeout=10)


def _until(running: Running, status: int, timeout: float = 10) -> httpx.Response:
    """Poll /health (as a load balancer would) until it answers `status`."""
    deadline = time.monotonic() + timeout
    while True:
        resp = _health(running)
        if resp.status_code == status or time.monotonic() > deadline:
            return resp
        time.sleep(0.05)


def _outage_and_recovery(
    running: Running, app_log: io.StringIO, cut: Callable[[], None], restore: Callable[[], None]
) -> None:
    healthy = _health(running)
    assert healthy.status_code == 200
    assert healthy.json() == {
        "ok": True, "papers": running.services.search.size, "database": "ok"
    }
    cut()
    down = _until(running, 503)
    assert down.status_code == 503 and down.json() == DOWN
    for _ in range(20):  # stays down while it is down, and says so once in the log
        assert _health(running).status_code == 503
    restore()
    back = _until(running, 200)
    assert back.status_code == 200 and back.json()["database"] == "ok"
    lines = app_log.getvalue().splitlines()
    assert len([ln for ln in lines if "database unreachable" in ln]) == 1
    assert len([ln for ln in lines if "database reachable again" in ln]) == 1
    assert "Traceback" not in app_log.getvalue()


def test_health_follows_a_sqlite_database_that_goes_away_and_comes_back(
    app_log: io.StringIO, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'paperbot.db'}"
    running = start(make_services(url, tmp_path / "home", fake_slack))
    try:
        _outage_and_recovery(
            running, app_log,
            cut=lambda: data.rename(tmp_path / "data.moved"),
            restore=lambda: (tmp_path / "data.moved").rename(data),
        )
        assert not data.with_name("data.moved").exists()
    finally:
        running.stop()


def test_health_probes_the_database_at_most_about_once_a_second(
    app_log: io.StringIO, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    """A load balancer hammering /health must not hammer the database."""
    data = tmp_path / "data"
    running = start(make_services(f"sqlite:///{data / 'paperbot.db'}", tmp_path / "h", fake_slack))
    try:
        assert _health(running).status_code == 200  # a fresh verdict, cached from now on
        data.rename(tmp_path / "moved")
        started = time.monotonic()
        stale = 0
        while time.monotonic() - started < HEALTH_CACHE_SECONDS * 0.5:
            stale += _health(running).status_code == 200
        assert stale > 0  # within the cache window the last verdict is reused
        assert _until(running, 503).status_code == 503  # and the outage shows right after
    finally:
        (tmp_path / "moved").rename(data)
        running.stop()


def test_health_follows_a_postgresql_outage_and_recovery(
    request: pytest.FixtureRequest, app_log: io.StringIO, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    if POSTGRES_SKIP_REASON:
        pytest.skip(POSTGRES_SKIP_REASON)
    request.getfixturevalue("postgres_admin")
    # a PostgreSQL schema of our own (the db_url fixture's way), reached through the proxy
    from tests.conftest import PG_URL, _pg_schema_url

    pg = make_url(PG_URL)
    proxy = TcpProxy(pg.host or "127.0.0.1", pg.port or 5432)
    schema = f"t_health_{int(time.time() * 1000) % 10**9}"
    admin = request.getfixturevalue("postgres_admin")
    with admin.engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    direct = make_url(_pg_schema_url(schema))
    via_proxy = direct.set(host="127.0.0.1", port=proxy.port)
    running = start(make_services(
        via_proxy.render_as_string(hide_password=False), tmp_path / "home", fake_slack
    ))
    try:
        _outage_and_recovery(running, app_log, cut=proxy.close, restore=proxy.reopen)
    finally:
        running.stop()
        proxy.close()
        with admin.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
