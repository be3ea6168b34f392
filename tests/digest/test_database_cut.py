"""`paperbot digest --once` through the real console script with its PostgreSQL connection
cut in the middle of a run (a TcpProxy closed while a post hangs in Slack): one log line per
failure kind and one line saying PaperBot can't reach its database, a non-zero exit, no
traceback; and the next run, with the database back, finishes the digest exactly once."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.config import Config
from bot.services import Services
from tests.conftest import PAPERBOT, POSTGRES_SKIP_REASON, make_cli_env
from tests.digest.conftest import (
    LEASE,
    assert_exactly_once,
    day_entries,
    digest_poster,
    env_for,
    subscribe,
)
from tests.fakes.hf_api import FakeHF
from tests.fakes.slack_api import FakeSlack
from tests.fakes.tcp_proxy import TcpProxy


def _subscribed_through_proxy(
    db_url: str, tmp_path: Path, fake_slack: FakeSlack, fake_hf: FakeHF
) -> tuple[TcpProxy, dict[str, str]]:
    """#C0GENERAL subscribed and today's list on the fake HF; the CLI environment reaching
    PostgreSQL through a proxy that the test can close."""
    env = env_for(db_url, tmp_path / "home", fake_slack, fake_hf)
    setup = Services.create(Config.from_env(env), seed=False)
    try:
        fake_slack.add_channel("C0GENERAL", "general")
        assert subscribe(
            setup, digest_poster(setup.config), "C0GENERAL", "subscribe at 00:00"
        ).startswith("Subscribed")
    finally:
        setup.close()
    fake_hf.set_day(datetime.now(UTC).date(), day_entries(3))
    url = make_url(db_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    env = {
        **make_cli_env(db_url, tmp_path), **env,
        "DATABASE_URL": url.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        ),
        "LOG_LEVEL": "WARNING",  # what a person would have to read
    }
    return proxy, env


@pytest.mark.skipif(bool(POSTGRES_SKIP_REASON), reason=POSTGRES_SKIP_REASON or "")
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_once_with_the_database_cut_mid_run_says_so_in_one_line(
    db_url: str, tmp_path: Path, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    """PostgreSQL becomes unreachable while the digest is being posted (the post hangs in
    Slack, the connection to the database is cut, then Slack answers)."""
    proxy, env = _subscribed_through_proxy(db_url, tmp_path, fake_slack, fake_hf)
    fake_slack.hang("chat.postMessage")
    proc = subprocess.Popen(
        [*PAPERBOT, "digest", "--once", "--now"], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        fake_slack.wait_for(lambda: fake_slack.calls_to("chat.postMessage"), timeout=60)
        proxy.close()  # the database is gone from here on
        fake_slack.release("chat.postMessage")
        out, err = proc.communicate(timeout=120)
    finally:
        fake_slack.release("chat.postMessage")
        proxy.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"\nstdout:\n{out}\nstderr:\n{err}")
    assert proc.returncode == 1, err
    assert "Traceback" not in err, err
    *logged, last = err.strip().splitlines()
    assert last.startswith("paperbot: PaperBot can't reach its database at "), last
    assert "the next run resumes it" in last
    # One line per failure kind (a refused connection while posting; the release and the
    # cycle's end meet the same kind and are counted, not repeated).
    assert len(logged) == 1, logged
    assert "database unreachable (OperationalError) while posting the digest for C0GENERAL" \
        in logged[0]
    assert len(fake_slack.posted("C0GENERAL")) == 1  # the day message went out

    # The database is back: the next run (once the dead run's lease expired) finishes the
    # digest, finding the day message it could not record instead of posting it again.
    time.sleep(LEASE + 0.5)
    env["DATABASE_URL"] = db_url
    done = subprocess.run(
        [*PAPERBOT, "digest", "--once"], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "completed 1 with 3 messages" in done.stdout, done.stdout
    assert len(assert_exactly_once(fake_slack, "C0GENERAL")) == 3


@pytest.mark.skipif(bool(POSTGRES_SKIP_REASON), reason=POSTGRES_SKIP_REASON or "")
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_worker_with_the_database_gone_logs_one_line_not_a_traceback_per_cycle(
    db_url: str, tmp_path: Path, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    """The `paperbot digest` worker (the scheduler's safe_cycle, as in `paperbot serve`)
    keeps cycling through an outage: one line per failure kind, not a traceback a cycle."""
    proxy, env = _subscribed_through_proxy(db_url, tmp_path, fake_slack, fake_hf)
    env["PAPERBOT_DIGEST_INTERVAL"] = "0.2"
    stderr = tmp_path / "worker.err"
    with stderr.open("w") as err_file:
        worker = subprocess.Popen(
            [*PAPERBOT, "digest"], env=env, stdout=subprocess.DEVNULL, stderr=err_file
        )
    try:
        deadline = time.monotonic() + 60
        while len(fake_slack.posted("C0GENERAL")) < 4:  # the first cycle posted its digest
            assert worker.poll() is None, stderr.read_text()
            assert time.monotonic() < deadline, "no digest cycle ran within 60 s"
            time.sleep(0.05)
        proxy.close()  # the database is gone from here on
        deadline = time.monotonic() + 60
        while not ("database" in (text := stderr.read_text()) or "Traceback" in text):
            assert time.monotonic() < deadline, "no cycle met the outage within 60 s"
            time.sleep(0.05)
        time.sleep(1.0)  # several more cycles (every 0.2 s) meet the same outage
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    finally:
        proxy.close()
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    text = stderr.read_text()
    assert "Traceback" not in text, text
    # One line for all the cycles (while posting, if the cut came before the first cycle
    # had recorded everything). The search index's refresher says its own once, too.
    cycles = [line for line in text.splitlines() if "database unreachable" in line]
    assert len(cycles) == 1, text
    assert "database unreachable (OperationalError) while " in cycles[0], cycles
