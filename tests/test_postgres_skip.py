"""The suite's PostgreSQL detection: a server that refuses our role skips, it does not error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_refused_role_skips_the_postgres_variants_with_the_servers_reason(
    tmp_path: Path,
) -> None:
    env = dict(os.environ)
    env["PAPERBOT_TEST_POSTGRES_URL"] = (
        "postgresql+psycopg://paperbot_no_such_role@127.0.0.1:5432/test"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
         "--basetemp", str(tmp_path / "inner"), "tests/storage/test_db.py", "-k", "postgres"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "SKIPPED" in out and " error" not in out.lower(), out
    # The reason names the server's refusal (or, on a machine without one, its absence).
    assert "refused paperbot_no_such_role@test" in out or "not reachable" in out, out
