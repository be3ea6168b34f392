"""`paperbot import` end to end: arXiv-snapshot JSONL in, a searchable library and saved index out.

    python -m benchmarks.import_bench                  # by hand: 1M lines (~1.6 GB, cached), ~4 min
    python -m benchmarks.import_bench --lines 100k     # a quicker look
    python -m benchmarks.import_bench --smoke          # CI (tests/test_import_bench_smoke.py): 2k

Why a subprocess running the real CLI: the figure that matters is what a user waits for
(`paperbot import FILE` on a fresh PAPERBOT_HOME: check + write, index build in workers,
save), start-up and all. The input is written once per size and seed (synth.py text in the
shape of Kaggle's arxiv-metadata-oai-snapshot.json: id, title, abstract hard-wrapped at ~80
columns, authors, categories, update_date, versions) and reused, so reruns time only the
import. Peak RSS is sampled with psutil every 0.1 s, for the CLI process and for it plus its
index-build workers. The phases come from the CLI's own log lines (LOG_LEVEL=INFO).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SMOKE_LINES = 2_000
SAMPLE_EVERY = 0.1  # seconds between RSS samples
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FIRST = ("A.", "B.", "Wei", "Maria", "J.", "Yuki", "Ahmed", "Sofia", "Li", "Pierre", "K.")
_LAST = ("Smith", "Zhang", "Müller", "Garcia", "Kim", "Rossi", "Nguyen", "Ivanova", "Patel")
_CATS = ("cs.LG", "cs.CL", "cs.CV", "stat.ML", "cs.AI", "math.OC", "physics.comp-ph", "cs.IR")
# What the CLI logs (LOG_LEVEL=INFO) or prints, per phase.
_IMPORT_RE = re.compile(r"^\((\d+(?:\.\d+)?) s\)$", re.M)
_BUILD_RE = re.compile(r"search index built: (\d+) papers in (\d+(?:\.\d+)?)s")
_PHASE_RE = re.compile(r"import phase (\w+): (\d+(?:\.\d+)?)s")
_SENT_RE = re.compile(r"import: (\d+) new papers sent to be tokenized")
_USED_RE = re.compile(r"search index build: (\d+) of (\d+) papers encoded during the import")


def parse_count(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    return int(float(s.rstrip("km")) * mult)


def _wrap(text: str, width: int = 80) -> str:
    """Hard-wrap like the snapshot's abstracts (newline + nothing, leading two spaces)."""
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "  " + "\n".join(lines) + "\n"


def write_snapshot(path: Path, n: int, seed: int = 0) -> None:
    """n arXiv-snapshot lines of synth.py text, unique new-style ids, written atomically."""
    from benchmarks.synth import generate

    rng = np.random.default_rng(seed + 1)
    per_month: dict[tuple[int, int], int] = {}
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    block = 100_000
    with tmp.open("w", encoding="utf-8") as out:
        for start in range(0, n, block):
            papers = generate(min(block, n - start), seed=seed + start)
            n_auth = rng.integers(1, 7, size=len(papers))
            for p, k in zip(papers, n_auth, strict=True):
                d: date = p.published
                seq = per_month.get((d.year, d.month), 0) + 1
                per_month[(d.year, d.month)] = seq
                arxiv_id = f"{d.year % 100:02d}{d.month:02d}.{seq:05d}"
                first = rng.integers(len(_FIRST), size=int(k))
                last = rng.integers(len(_LAST), size=int(k))
                names = [f"{_FIRST[a]} {_LAST[b]}" for a, b in zip(first, last, strict=True)]
                authors = ", ".join(names[:-1]) + (" and " if k > 1 else "") + names[-1]
                cats = " ".join(sorted(set(rng.choice(_CATS, size=int(rng.integers(1, 4))))))
                created = (
                    f"{_WEEKDAYS[d.weekday()]}, {d.day} {_MONTHS[d.month - 1]} {d.year} "
                    "12:00:00 GMT"
                )
                entry = {
                    "id": arxiv_id,
                    "submitter": names[0],
                    "authors": authors,
                    "title": p.title,
                    "comments": None,
                    "journal-ref": None,
                    "doi": None,
                    "categories": cats,
                    "abstract": _wrap(p.abstract),
                    "versions": [{"version": "v1", "created": created}],
                    "update_date": d.isoformat(),
                }
                out.write(json.dumps(entry, ensure_ascii=False) + "\n")
    tmp.replace(path)


def snapshot_file(workdir: Path, n: int, seed: int = 0) -> tuple[Path, bool]:
    """The cached input for (n, seed), written if missing; (path, whether it was cached)."""
    path = workdir / f"arxiv_snapshot_{n}_s{seed}.jsonl"
    if path.exists():
        return path, True
    write_snapshot(path, n, seed)
    return path, False


class RssSampler(threading.Thread):
    """Peak RSS of a process, and of it plus its descendants (index-build workers)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.peak_main = 0
        self.peak_tree = 0
        self.done = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.done.is_set():
            try:
                main = self.proc.memory_info().rss
                tree = main
                for child in self.proc.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        tree += child.memory_info().rss
            except psutil.Error:
                return
            self.peak_main = max(self.peak_main, main)
            self.peak_tree = max(self.peak_tree, tree)
            self.done.wait(SAMPLE_EVERY)


def run_import(
    path: Path,
    home: Path,
    *,
    python: str = sys.executable,
    cwd: Path = ROOT,
    extra_args: Sequence[str] = (),
) -> dict:
    """`python -m bot.cli import path` with a fresh PAPERBOT_HOME; wall, phases, RSS, output."""
    if home.exists():
        shutil.rmtree(home)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PAPERBOT_INDEX_DIR")}
    env.update(PAPERBOT_HOME=str(home), LOG_LEVEL="INFO", PYTHONPATH=str(cwd))
    load_before = os.getloadavg()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [python, "-m", "bot.cli", "import", str(path), *extra_args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = RssSampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"import exited {proc.returncode}:\n{out}\n{err}")
    text = out + "\n" + err
    m_import = _IMPORT_RE.search(out)
    m_build = _BUILD_RE.search(text)
    phases = {name: float(s) for name, s in _PHASE_RE.findall(text)}
    import_s = float(m_import.group(1)) if m_import else None
    build_s = float(m_build.group(2)) if m_build else None
    return {
        "wall_s": round(wall, 2),
        "import_s": import_s,
        "build_s": build_s,
        "rest_s": round(wall - (import_s or 0) - (build_s or 0), 2),
        "import_phases_s": phases,
        # papers the import sent to be tokenized while it wrote, and the build used
        "prebuild": {
            "sent": int(m.group(1)) if (m := _SENT_RE.search(text)) else None,
            "used": int(m.group(1)) if (m := _USED_RE.search(text)) else None,
        },
        "papers_indexed": int(m_build.group(1)) if m_build else None,
        "peak_rss_mb": round(sampler.peak_main / 2**20),
        "peak_rss_with_workers_mb": round(sampler.peak_tree / 2**20),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "report": out.strip().splitlines()[:4],
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--lines", default="1M", help="snapshot lines (default 1M; 100k, 2k...)")
    ap.add_argument("--smoke", action="store_true", help=f"{SMOKE_LINES} lines, for CI")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, help="where the input is cached (default results/)")
    ap.add_argument("--out", type=Path, help="where the JSON result goes (default results/)")
    ap.add_argument("--python", default=sys.executable, help="interpreter running the CLI")
    ap.add_argument("--code", type=Path, default=ROOT, help="checkout whose CLI runs (e.g. old)")
    ap.add_argument("--reimport", action="store_true", help="also time importing it again")
    args = ap.parse_args(argv)
    n = SMOKE_LINES if args.smoke else parse_count(args.lines)
    workdir = args.workdir or RESULTS
    out_dir = args.out or RESULTS
    t0 = time.perf_counter()
    path, cached = snapshot_file(workdir, n, args.seed)
    gen_s = time.perf_counter() - t0
    print(
        f"input: {path} ({path.stat().st_size / 2**20:.0f} MiB, "
        f"{'cached' if cached else f'written in {gen_s:.1f}s'})",
        flush=True,
    )
    with tempfile.TemporaryDirectory(dir=workdir, prefix="import_home_") as tmp:
        home = Path(tmp) / "home"
        result = run_import(path, home, python=args.python, cwd=args.code)
        if args.reimport:
            again = dict(PYTHONPATH=str(args.code))  # same home: every paper unchanged
            env_home = home
            t1 = time.perf_counter()
            proc = subprocess.run(
                [args.python, "-m", "bot.cli", "import", str(path)],
                cwd=args.code,
                env={**os.environ, **again, "PAPERBOT_HOME": str(env_home), "LOG_LEVEL": "INFO"},
                capture_output=True,
                text=True,
                check=True,
            )
            result["reimport_s"] = round(time.perf_counter() - t1, 2)
            result["reimport_report"] = proc.stdout.strip().splitlines()[:2]
    result.update(lines=n, input_mib=round(path.stat().st_size / 2**20), code=str(args.code))
    if result["import_s"]:
        result["import_papers_per_s"] = round(n / result["import_s"])
    result["papers_per_s_end_to_end"] = round(n / result["wall_s"])
    out_dir.mkdir(parents=True, exist_ok=True)
    name = "import_smoke.json" if args.smoke else f"import_{n}.json"
    (out_dir / name).write_text(json.dumps({"result": result}, indent=2))
    print(
        f"{n} lines: wall {result['wall_s']:.1f}s = import {result['import_s']}s "
        f"+ index build {result['build_s']}s + rest {result['rest_s']}s; "
        f"phases {result['import_phases_s']}; prebuild {result['prebuild']}; "
        f"{result['papers_per_s_end_to_end']} papers/s end to end; peak RSS "
        f"{result['peak_rss_mb']} MB ({result['peak_rss_with_workers_mb']} MB with workers); "
        f"load {result['load_before']} -> {result['load_after']}"
    )
    if "reimport_s" in result:
        print(f"re-import: {result['reimport_s']}s: {result['reimport_report']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
