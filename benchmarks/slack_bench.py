"""Slack round trip: a signed `/papers` request, from Slack's POST to the answer on response_url.

    python -m benchmarks.slack_bench                  # by hand: 100k papers, 200 + burst of 50
    python -m benchmarks.slack_bench --smoke          # CI: 2k papers, 20 requests, < 30 s

Synthetic papers (benchmarks/synth.py) are imported through storage.papers.upsert_papers into
a SQLite file, cached with its saved search index in --workdir so reruns skip the import and
the index build. The real server (bot/server.py HttpServer: waitress + Bolt) then runs in this
process on an ephemeral port, pointed at the fake Slack Web API (tests/fakes/slack_api.py),
which also receives the response_url posts and stamps their arrival. Requests are slash
commands built and signed exactly like Slack's (tests/fakes/slack_payloads.py, signing.py).

Per request: ack = the HTTP round trip of the signed POST (Slack wants it within 3 s);
answer = from just before the POST until the answer arrived at the fake's response_url.
Sequential: one request at a time, each waiting for its answer. Burst: --burst requests at
once from a thread pool, after an unmeasured burst of the same size (so the server's thread
pools have spawned their threads, as in a server that has been up a while).
Per-request stages (send until the answer starts in the app's background pool, search,
search + loading the papers, rendering + the response_url POST) are timed by wrapping the
answer functions in this process; the app's code is unchanged.
Client, fake Slack and server share one interpreter (and its GIL) on a 2-core machine, so the
numbers include that contention: they are an upper bound for the server alone.
Results: a table on stdout and JSON in benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import stamp, write_json
from benchmarks.search_bench import RESULTS, import_papers, parse_size, usable_queries
from benchmarks.synth import generate

WARMUP = 10
ANSWER_TIMEOUT = 30.0
NOT_SEARCHES = {"help", "-h", "--help", "?", "subscribe", "unsubscribe", "subscriptions"}


# ----- the corpus, cached ---------------------------------------------------------------


def corpus_db(n: int, workdir: Path, log: Callable[[str], None]) -> tuple[str, dict]:
    """A SQLite database of n synthetic papers imported via upsert_papers (reused if done)."""
    from storage.db import Database
    from storage.papers import count_papers

    db_path = workdir / f"papers-{n}.db"
    done = workdir / f"papers-{n}.done.json"
    url = f"sqlite:///{db_path}"
    if db_path.exists() and done.exists():
        info = json.loads(done.read_text())
        log(f"[{n:,}] reusing {db_path} ({info['papers']:,} papers)")
        # The fake payloads number their trigger ids from 1 in every process, and PaperBot
        # answers a trigger id once (replay defence): forget the last run's receipts.
        with sqlite3.connect(db_path) as conn:
            conn.execute("DELETE FROM slack_receipts")
        return url, {**info, "cached": True}
    for stale in workdir.glob(f"papers-{n}.db*"):
        stale.unlink()
    for stale in (workdir / f"home-{n}" / "index").glob("*"):
        stale.unlink()
    t = time.perf_counter()
    papers = generate(n)
    info: dict[str, Any] = {"papers_generated": n, "generate_s": time.perf_counter() - t}
    log(f"[{n:,}] generated in {info['generate_s']:.1f}s; importing via upsert_papers")
    db = Database(url)
    db.migrate()
    t = time.perf_counter()
    import_papers(db, papers)
    info["import_s"] = time.perf_counter() - t
    with db.session() as session:
        info["papers"] = count_papers(session)
    db.dispose()
    done.write_text(json.dumps(info))
    log(f"[{n:,}] imported {info['papers']:,} papers in {info['import_s']:.1f}s")
    return url, {**info, "cached": False}


# ----- timing -----------------------------------------------------------------------------


class Stages:
    """Per-request timestamps inside the app, keyed by the response_url's last segment."""

    def __init__(self) -> None:
        self.by_name: dict[str, dict[str, float]] = {}
        self._local = threading.local()
        self._lock = threading.Lock()

    def names(self) -> set[str]:
        with self._lock:
            return set(self.by_name)

    @contextmanager
    def install(self, services: Any) -> Iterator[None]:
        """Wrap the /papers answer path (commands.answer_command, services.find and the
        engine's two-stage search, SearchEngine.ranked) with timers; restored on exit."""
        from bot.listeners import commands

        answer, find, search = commands.answer_command, services.find, services.search.ranked
        stages = self

        def timed_answer(services_: Any, query: str, respond: Any, *rest: Any) -> Any:
            name = str(getattr(respond, "response_url", "") or "").rsplit("/", 1)[-1]
            rec = {"answer_start": time.perf_counter()}
            stages._local.rec = rec
            try:
                return answer(services_, query, respond, *rest)
            finally:
                rec["answer_end"] = time.perf_counter()
                stages._local.rec = None
                with stages._lock:
                    stages.by_name[name] = rec

        def timed(fn: Callable[..., Any], key: str) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                t = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    rec = getattr(stages._local, "rec", None)
                    if rec is not None:
                        rec[key] = time.perf_counter() - t

            return wrapper

        commands.answer_command = timed_answer  # type: ignore[assignment]
        services.find = timed(find, "find_s")
        services.search.ranked = timed(search, "search_s")
        try:
            yield
        finally:
            commands.answer_command = answer  # type: ignore[assignment]
            del services.find, services.search.ranked  # back to the class attributes


def stats(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {
        "p50_ms": float(np.percentile(a, 50)),
        "p95_ms": float(np.percentile(a, 95)),
        "max_ms": float(a.max()),
        "mean_ms": float(a.mean()),
    }


class Client:
    """Sends signed slash commands and collects their acks and response_url answers."""

    def __init__(self, url: str, fake: Any, stages: Stages) -> None:
        from tests.fakes.slack_payloads import SlackSender

        self.sender = SlackSender(url)
        self.fake = fake
        self.stages = stages
        self._seq = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self.sender.close()

    def send(self, query: str) -> dict[str, Any]:
        from tests.fakes.slack_payloads import slash_command

        with self._lock:
            self._seq += 1
            name = f"q{self._seq}"
        body, ctype = slash_command(query, response_url=self.fake.response_url(name))
        t0 = time.perf_counter()
        resp = self.sender.send(body, ctype)
        ack = time.perf_counter() - t0
        return {
            "name": name,
            "query": query,
            "t0": t0,
            "ack_s": ack,
            "status": resp.status_code,
            "ack_body": resp.text,
        }

    def wait(self, sent: list[dict[str, Any]], timeout: float = ANSWER_TIMEOUT) -> None:
        """Wait for the answers to `sent` and fill in answer time, payload and stages."""
        names = {r["name"] for r in sent}
        fake = self.fake

        def arrived() -> dict[str, tuple[dict, float]]:
            with fake._lock:
                return {
                    n: (p, t)
                    for (n, p), t in zip(fake.response_posts, fake.response_times, strict=True)
                    if n in names
                }

        deadline = time.monotonic() + timeout
        with fake.response_arrived:
            while len(got := arrived()) < len(names) and time.monotonic() < deadline:
                fake.response_arrived.wait(0.5)
        # the answer functions return (and record their stages) just after the POST landed
        stage_deadline = time.monotonic() + 2.0
        while not names <= self.stages.names() and time.monotonic() < stage_deadline:
            time.sleep(0.001)
        for r in sent:
            if r["name"] not in got:
                r["answered"] = False
                continue
            payload, at = got[r["name"]]
            r["answered"] = True
            r["answer_s"] = at - r["t0"]
            r["blocks"] = len(payload.get("blocks") or [])
            r["ephemeral"] = payload.get("response_type") == "ephemeral"
            st = self.stages.by_name.get(r["name"], {})
            if "answer_start" in st:
                r["queued_s"] = st["answer_start"] - r["t0"]
                r["answer_fn_s"] = st["answer_end"] - st["answer_start"]
                r["search_s"] = st.get("search_s", float("nan"))
                r["find_s"] = st.get("find_s", float("nan"))
                # after find: rendering the blocks, then the POST until the fake stamped it
                r["render_and_post_s"] = at - st["answer_start"] - r["find_s"]

    def one_by_one(self, queries: Sequence[str]) -> list[dict[str, Any]]:
        out = []
        for q in queries:
            r = self.send(q)
            self.wait([r])
            out.append(r)
        return out

    def burst(self, queries: Sequence[str]) -> list[dict[str, Any]]:
        """All at once: one thread per request, started first and released together (a
        ThreadPoolExecutor would spawn its threads while holding concurrent.futures' global
        lock, which the app's own pools need to submit work: it would slow the server)."""
        sent: list[dict[str, Any] | None] = [None] * len(queries)
        go = threading.Event()

        def one(i: int) -> None:
            _ = self.sender.http  # this thread's HTTP client (an SSL context: ~20 ms), untimed
            go.wait()
            sent[i] = self.send(queries[i])

        threads = [
            threading.Thread(target=one, args=(i,), name=f"bench-burst-{i}", daemon=True)
            for i in range(len(queries))
        ]
        for t in threads:
            t.start()
        time.sleep(0.5)  # every thread has its client
        go.set()
        for t in threads:
            t.join(ANSWER_TIMEOUT)
        done = [r for r in sent if r is not None]
        if len(done) < len(queries):
            raise RuntimeError(f"{len(queries) - len(done)} burst requests never returned")
        self.wait(done)
        return done


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answered = [r for r in rows if r.get("answered")]
    out: dict[str, Any] = {
        "requests": len(rows),
        "acked_200": sum(r["status"] == 200 for r in rows),
        "answered": len(answered),
        "answers_with_blocks": sum(r.get("blocks", 0) > 0 for r in answered),
        "ack": stats([r["ack_s"] * 1000 for r in rows]),
    }
    if answered:
        out["answer"] = stats([r["answer_s"] * 1000 for r in answered])
        staged = [r for r in answered if "queued_s" in r]
        if staged:
            out["stages_p50_ms"] = {
                k: float(np.nanpercentile([r[k] * 1000 for r in staged], 50))
                for k in ("queued_s", "search_s", "find_s", "render_and_post_s", "answer_fn_s")
            }
    return out


# ----- the run ------------------------------------------------------------------------------


def compare_ack_modes(
    app: Any, client: Client, queries: Sequence[str], burst: int, rounds: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Bursts acked the way the app does (listener on the request thread) and the way it did
    until 2026-12 (Bolt's default: listener on a 16-thread pool, the request thread polling
    for the ack every 10 ms), alternated on the same server so both see the same load.
    The old mode is set on Bolt's listener runner here only; the app never runs it."""
    from concurrent.futures import ThreadPoolExecutor

    runner = app._listener_runner  # Bolt's; no public way to switch modes after start-up
    current = (runner.process_before_response, runner.listener_executor)
    old_pool = ThreadPoolExecutor(16, thread_name_prefix="bench-bolt-ack")
    modes = {"request_thread": (True, current[1]), "bolt_ack_poll": (False, old_pool)}
    rows: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    try:
        for i in range(rounds):
            for mode, (flag, pool) in modes.items():
                runner.process_before_response, runner.listener_executor = flag, pool
                start = (i * len(modes) + list(modes).index(mode)) * burst % max(
                    1, len(queries) - burst)
                rows[mode] += client.burst(queries[start : start + burst])
        log(f"ack modes compared over {rounds} alternated bursts of {burst} each")
    finally:
        runner.process_before_response, runner.listener_executor = current
        old_pool.shutdown(wait=True)
    out = {m: summarize(r) for m, r in rows.items()}
    for m in out:
        out[m]["not_acked_200"] = sum(r["status"] != 200 for r in rows[m])
    return out


def run(n: int, n_requests: int, burst: int, workdir: Path, log: Callable[[str], None],
        ack_rounds: int = 0) -> dict:
    from tests.fakes.slack_api import FakeSlack
    from tests.listeners.support import make_services, start

    url, corpus = corpus_db(n, workdir, log)
    res: dict[str, Any] = {"papers_generated": n, "corpus": corpus}
    queries = [
        q
        for q in usable_queries(2 * (n_requests + 2 * burst + WARMUP))
        if q.split()[0].lower() not in NOT_SEARCHES
    ]
    with FakeSlack() as fake:
        services = make_services(url, workdir / f"home-{n}", fake, PAPERBOT_SEED="0")
        t = time.perf_counter()
        running = start(services)  # warms (loads or builds + saves) the search index
        res["warm_s"] = time.perf_counter() - t
        res["papers"] = services.search.size
        log(f"[{n:,}] server on {running.url}, index warm in {res['warm_s']:.1f}s")
        stages = Stages()
        client = Client(f"{running.url}/slack/events", fake, stages)
        try:
            with stages.install(services):
                client.one_by_one(queries[-WARMUP:])  # connections, caches, lazy imports
                t = time.perf_counter()
                seq = client.one_by_one(queries[:n_requests])
                res["sequential_wall_s"] = time.perf_counter() - t
                log(f"[{n:,}] {len(seq)} sequential requests in {res['sequential_wall_s']:.1f}s")
                # a first burst makes the thread pools (waitress, Bolt's ack pool, the answer
                # pool) spawn their threads, as in a server that has been up a while
                client.burst(queries[-WARMUP - burst : -WARMUP])
                t = time.perf_counter()
                bur = client.burst(queries[n_requests : n_requests + burst])
                res["burst_wall_s"] = time.perf_counter() - t
                log(f"[{n:,}] burst of {len(bur)} in {res['burst_wall_s']:.1f}s")
                if ack_rounds:
                    res["ack_modes"] = compare_ack_modes(
                        running.app, client, queries, burst, ack_rounds, log
                    )
        finally:
            client.close()
            running.stop()
    res["sequential"] = summarize(seq)
    res["burst"] = summarize(bur)
    keys = ("ack_s", "answer_s", "queued_s", "search_s", "find_s", "render_and_post_s")
    for phase, rows in (("sequential", seq), ("burst", bur)):
        res[phase]["rows_ms"] = [
            {"query": r["query"], **{k[:-2]: round(r[k] * 1000, 3) for k in keys if k in r}}
            for r in rows
        ]
    return res


def table(r: dict) -> str:
    c = r["corpus"]
    lines = [
        f"\n== {r['papers']:,} papers (index warm {r['warm_s']:.1f}s; "
        + ("cached corpus" if c["cached"] else f"imported in {c['import_s']:.1f}s")
        + ") ==",
        f"{'phase':<12}{'n':>5}{'':>3}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}",
    ]
    for phase in ("sequential", "burst"):
        s = r[phase]
        for what in ("ack", "answer"):
            if what in s:
                v = s[what]
                label, count = (phase, s["requests"]) if what == "ack" else ("", "")
                lines.append(
                    f"{label:<12}{count:>5}{what:>8}"
                    f"{v['p50_ms']:>9.1f}{v['p95_ms']:>9.1f}{v['max_ms']:>9.1f}"
                )
        lines.append(
            f"{'':<12}answered {s['answered']}/{s['requests']}, with blocks "
            f"{s['answers_with_blocks']}, acked 200: {s['acked_200']}"
        )
        if "stages_p50_ms" in s:
            st = s["stages_p50_ms"]
            lines.append(
                f"{'':<12}answer p50 stages: queued {st['queued_s']:.1f} ms (ack incl.), "
                f"search {st['search_s']:.1f}, find (search + DB) {st['find_s']:.1f}, "
                f"render + POST {st['render_and_post_s']:.1f}"
            )
    if "ack_modes" in r:
        m = r["ack_modes"]
        lines.append(f"\nbursts of {r['burst']['requests']}, ack by mode (alternated rounds):")
        for mode, label in (("request_thread", "listener on the request thread (now)"),
                            ("bolt_ack_poll", "Bolt's listener pool + 10 ms polling (before)")):
            a = m[mode]["ack"]
            lines.append(
                f"  {label:<48} n={m[mode]['requests']:<4} p50 {a['p50_ms']:7.1f}  "
                f"p95 {a['p95_ms']:7.1f}  max {a['max_ms']:7.1f} ms; not 200: "
                f"{m[mode]['not_acked_200']}; answered {m[mode]['answered']}"
            )
        now, before = m["request_thread"]["ack"], m["bolt_ack_poll"]["ack"]
        lines.append(
            f"  now / before: p50 {now['p50_ms'] / before['p50_ms']:.2f}, "
            f"p95 {now['p95_ms'] / before['p95_ms']:.2f}, "
            f"max {now['max_ms'] / before['max_ms']:.2f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--papers", default="100k", help="corpus size, e.g. 2k, 100k")
    ap.add_argument("--requests", type=int, default=200, help="sequential requests")
    ap.add_argument("--burst", type=int, default=50, help="requests sent at once afterwards")
    ap.add_argument("--smoke", action="store_true", help="2k papers, 20 requests, burst 10 (CI)")
    ap.add_argument(
        "--ack-rounds", type=int, default=3,
        help="alternated bursts per ack mode, now vs before (0: skip the comparison)",
    )
    ap.add_argument(
        "--workdir",
        type=Path,
        default=RESULTS / "slack_bench_work",
        help="cache of databases and indexes (default: benchmarks/results/…)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    n = 2_000 if args.smoke else parse_size(args.papers)
    n_requests, burst = (20, 10) if args.smoke else (args.requests, args.burst)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "queue depth" in bursts

    def log(msg: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="slack-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        result = run(n, n_requests, burst, workdir, log, 1 if args.smoke else args.ack_rounds)
    print(table(result))
    when = stamp()
    name = "slack_smoke.json" if args.smoke else f"slack_bench-{n}-{when}.json"
    write_json(args.out, name, when, {"result": result}, requests=n_requests, burst=burst)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
