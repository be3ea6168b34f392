"""GET /health tells the truth about the database: 503 while it is unreachable, 200 again
once it is back, one log line per change of state, and the database is probed at most about
once a second however often /health is polled.

Outages are real: a SQLite file whose directory is moved away, and a PostgreSQL reached
through a TCP proxy in this file that is shut (connections cut, port closed) and reopened.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from bot.logging_setup import setup_logging
from bot.server import HEALTH_CACHE_SECONDS
from tests.conftest import POSTGRES_SKIP_REASON
from tests.fakes.slack_api import FakeSlack
from tests.listeners.conftest import fake_slack_fixture  # noqa: F401
from tests.listeners.support import Running, make_services, start

DOWN = {"ok": False, "database": "unreachable"}


@pytest.fixture
def app_log() -> Iterator[io.StringIO]:
    """The production log configuration, written into a buffer; restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    setup_logging("INFO")
    buf = io.StringIO()
    root.handlers[0].setStream(buf)  # type: ignore[attr-defined]
    try:
        yield buf
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


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


class TcpProxy:
    """A TCP relay on a fixed local port; shut() cuts every connection and stops listening,
    reopen() listens on the same port again (a database outage and its end)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.reopen()

    def reopen(self) -> None:
        lsock = socket.socket()
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", self.port))
        lsock.listen(64)
        self.port = lsock.getsockname()[1]
        self._listener = lsock
        threading.Thread(target=self._accept, args=(lsock,), daemon=True).start()

    def _accept(self, lsock: socket.socket) -> None:
        while True:
            try:
                client, _ = lsock.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._socks += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def shut(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the accept() blocked on it (Linux)
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


@pytest.mark.postgres
def test_health_follows_a_postgresql_outage_and_recovery(
    request: pytest.FixtureRequest, app_log: io.StringIO, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    if POSTGRES_SKIP_REASON:
        pytest.skip(POSTGRES_SKIP_REASON)
    request.getfixturevalue("postgres_admin")
    # a PostgreSQL schema of our own (the db_url fixture's way), reached through the proxy
    from tests.conftest import PG_URL, _pg_schema_url

    pg = make_url(PG_URL)
    proxy = TcpProxy((pg.host or "127.0.0.1", pg.port or 5432))
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
        _outage_and_recovery(running, app_log, cut=proxy.shut, restore=proxy.reopen)
    finally:
        running.stop()
        proxy.shut()
        with admin.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
