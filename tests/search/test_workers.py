"""Build worker processes die with the process that started them, even after SIGKILL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from storage.db import Database
from storage.papers import upsert_papers

from .support import BUILD_SCRIPT
from .test_engine import sample_records

ROOT = Path(__file__).resolve().parents[2]


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """The processes still running (zombies waiting for a reaper count as gone)."""
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.slow
def test_killing_a_parallel_build_leaves_no_process_behind(db: Database) -> None:
    with db.session() as s:
        upsert_papers(s, sample_records())
    proc = subprocess.Popen(
        [sys.executable, "-c", BUILD_SCRIPT, db.url],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # survivors would hold a pipe open
    )
    parent = psutil.Process(proc.pid)
    descendants: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 60
        # wait until both workers exist and the build is under way
        while len([p for p in descendants if "spawn_main" in " ".join(_cmdline(p))]) < 2:
            assert proc.poll() is None, "the build ended before its workers were seen"
            assert time.monotonic() < deadline, "the build workers did not start within 60 s"
            time.sleep(0.05)
            descendants = parent.children(recursive=True)
        time.sleep(0.5)  # workers busy tokenizing
        descendants = parent.children(recursive=True)
        assert proc.poll() is None, "the build ended before it could be killed"
        proc.kill()
        proc.wait(timeout=10)
        _, left = psutil.wait_procs(descendants, timeout=5)
        left = _alive(left)
        assert not left, [(p.pid, _cmdline(p)[:3]) for p in left]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for p in _alive(descendants):
            p.kill()


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def test_die_with_parent_exits_an_orphan_at_once() -> None:
    """A process whose parent is already gone when it asks exits instead of lingering."""
    code = (
        "import os, sys, time\n"
        "from bot.search.workers import die_with_parent\n"
        "die_with_parent(int(sys.argv[1]))\n"
        "time.sleep(30)\n"
    )
    started = time.monotonic()
    not_my_parent = os.getppid()  # the test's parent, not the child's
    done = subprocess.run(
        [sys.executable, "-c", code, str(not_my_parent)], cwd=ROOT, timeout=30, check=False
    )
    assert done.returncode == 1 and time.monotonic() - started < 20
