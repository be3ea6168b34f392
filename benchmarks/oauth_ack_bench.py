"""What OAuth mode costs per request: ack latency of signed `/papers` commands,
single-workspace (SLACK_BOT_TOKEN) vs OAuth (token looked up in the installation store).

In-process PaperBot and the fake Slack over real HTTP (tests/oauth), N commands each mode,
the first 10 left out (warm-up); prints p50/p95 in ms.

    .venv/bin/python -m benchmarks.oauth_ack_bench                      # SQLite
    .venv/bin/python -m benchmarks.oauth_ack_bench --database-url 'postgresql://…?options=-csearch_path%3Dbench'

A PostgreSQL URL must name an empty schema (both modes run in it, one after the other,
each leaving its tables; drop the schema afterwards).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tests.fakes.slack_payloads import FORM
from tests.listeners.support import make_services, start
from tests.oauth.fake_oauth import OAuthFakeSlack
from tests.oauth.support import command_from, install, oauth_services

WARMUP = 10


def run(mode: str, database_url: str | None, n: int) -> tuple[float, float]:
    fake = OAuthFakeSlack().start()
    fake.add_workspace("T0001", "Lab")
    home = Path(tempfile.mkdtemp(prefix=f"oauth-bench-{mode}-"))
    url = database_url or f"sqlite:///{home / 'paperbot.db'}"
    services = (oauth_services if mode == "oauth" else make_services)(url, home, fake)
    running = start(services)
    try:
        if mode == "oauth":
            install(running, fake, "T0001")
        took: list[float] = []
        for i in range(n):
            body = command_from("T0001", "diffusion", response_url=fake.response_url(f"r{i}"))
            t = time.perf_counter()
            assert running.sender.send(body, FORM).status_code == 200
            took.append((time.perf_counter() - t) * 1000)
        fake.wait_for(lambda: len(fake.response_posts) >= n, timeout=60)
    finally:
        running.stop()
        fake.stop()
    took = sorted(took[WARMUP:])
    return statistics.median(took), took[int(len(took) * 0.95)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("-n", type=int, default=60)
    args = parser.parse_args()
    for mode in ("single", "oauth"):
        p50, p95 = run(mode, args.database_url, args.n)
        print(f"{mode:6} ack p50 {p50:.1f} ms  p95 {p95:.1f} ms  ({args.n - WARMUP} commands)")


if __name__ == "__main__":
    main()
