"""One digest cycle: fetch, plan each due subscription's day, post it exactly once.

Exactly once, across restarts, crashes (kill -9 between any two Slack calls) and several
workers sharing one database:

1. Plan once. A run is the (subscription, local date) row, unique in the database. Its
   planned papers (ranked, in order) and the channel's reservations of those papers
   (digest_channel_papers, unique per channel and paper) are written in the transaction
   that creates it, so a day is planned by one worker only and a paper is never planned
   twice for a channel. The plan never changes afterwards: a resumed run posts the same.
2. One owner at a time. Posting needs the run's lease, taken by a conditional UPDATE
   (free or expired) and renewed with every state change; each change is conditional on
   still owning it (else LeaseLost: stop). The lease (PAPERBOT_DIGEST_LEASE, 300 s) is far
   longer than one Slack call (15 s timeout, plus rate-limit waits), so a worker can only
   lose it by stalling or dying.
3. Intent before, result after. Before each chat.postMessage the run records "intent" for
   that message; after it, the message ts ("posted"). Every message carries metadata
   (event_type paperbot_digest, payload run_key [+ paper_id]).
4. Recover by looking. A message left in "intent" (crash between the post and the record,
   or a timeout) is looked up in the channel (conversations.history / replies with
   include_all_metadata) before anything is posted again; "none" means never sent.
5. A run ends "done", "empty" (nothing new: nothing posted) or "failed" (channel gone:
   the subscription is deactivated with the reason; other channels carry on).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.digest import blocks, topics
from bot.digest.source import FetchError, fetch_daily, store
from storage import digest as repo
from storage.models import DigestRun, Paper, Subscription
from storage.papers import get_papers

log = logging.getLogger(__name__)

DEFAULT_LEASE = 300.0
DEFAULT_INTERVAL = 300.0
FETCH_DAYS = 2  # today's and yesterday's lists (UTC): early time zones still see a full day
# Who holds a lease: this process (a restarted process is a new owner).
OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Poster(Protocol):
    """What the runner needs from Slack (bot.digest.poster.SlackPoster)."""

    def post(
        self,
        channel: str,
        text: str,
        blocks: list,
        payload: dict[str, Any],
        thread_ts: str | None = None,
    ) -> str: ...

    def find_parent(self, channel: str, run_key: str, since: datetime) -> str | None: ...

    def find_replies(self, channel: str, parent_ts: str, run_key: str) -> dict[int, str]: ...


@dataclass(frozen=True)
class Settings:
    size: int = 5
    default_time: str = "09:00"
    api_url: str = "https://huggingface.co/api"
    lease: float = DEFAULT_LEASE
    interval: float = DEFAULT_INTERVAL
    fetch_days: int = FETCH_DAYS

    @classmethod
    def from_config(cls, config: Any) -> Settings:
        try:
            parse_hhmm(config.digest_default_time)
        except ValueError:
            from bot.config import ConfigError

            raise ConfigError(
                f"PAPERBOT_DIGEST_TIME must be HH:MM (24-hour), got {config.digest_default_time!r}"
            ) from None
        return cls(
            size=config.digest_size,
            default_time=config.digest_default_time,
            api_url=config.hf_api_url,
            lease=config.digest_lease_seconds,
            interval=config.digest_interval_seconds,
        )


@dataclass
class CycleReport:
    fetched: int = 0
    skipped_entries: int = 0
    planned: int = 0
    empty: int = 0
    done: int = 0
    posts: int = 0
    busy: int = 0
    deactivated: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    fetch_error: str | None = None
    fatal: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.fetch_error or self.fatal or self.deferred)

    def summary(self) -> str:
        parts = [
            f"fetched {self.fetched} papers"
            + (f" ({self.skipped_entries} bad entries skipped)" if self.skipped_entries else ""),
            f"planned {self.planned} digests ({self.empty} with nothing new)",
            f"completed {self.done} with {self.posts} messages",
        ]
        if self.busy:
            parts.append(f"{self.busy} in progress elsewhere")
        if self.deactivated:
            parts.append(f"deactivated {', '.join(self.deactivated)}")
        return "digest: " + "; ".join(parts)

    def problem(self) -> str | None:
        """The one line saying what failed, for `paperbot digest --once`."""
        if self.fatal:
            return f"digest stopped: {self.fatal}"
        if self.fetch_error:
            return f"digest fetch failed, nothing new was planned: {self.fetch_error}"
        if self.deferred:
            return (
                f"{len(self.deferred)} digest(s) could not be posted now and will be retried: "
                + "; ".join(self.deferred[:3])
            )
        return None


def parse_hhmm(value: str) -> time:
    """'09:00' -> time(9, 0); ValueError for anything else."""
    hh, mm = value.strip().split(":")
    return time(int(hh), int(mm))


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_slot(sub: Subscription, now: datetime) -> tuple[date, bool]:
    """(the subscriber's local date, whether its posting time has come today)."""
    local = now.astimezone(zone(sub.tz))
    return local.date(), local.time() >= parse_hhmm(sub.post_time)


@dataclass(frozen=True)
class Candidate:
    paper_id: int
    upvotes: int


def fetch_candidates(
    services: Any, settings: Settings, now: datetime, report: CycleReport
) -> list[Candidate]:
    """The trending lists of the last `fetch_days` UTC days, stored, best first."""
    today = now.astimezone(UTC).date()
    days = [today - timedelta(days=i) for i in range(settings.fetch_days)]
    fetched = fetch_daily(settings.api_url, days)
    report.fetched = len(fetched.records)
    report.skipped_entries = fetched.skipped
    ids = store(services, fetched.records)
    cands = [Candidate(ids[r.key], r.upvotes or 0) for r in fetched.records if r.key in ids]
    cands.sort(key=lambda c: (-c.upvotes, c.paper_id))
    return cands


def plan(
    services: Any,
    sub: Subscription,
    day: date,
    cands: Sequence[Candidate],
    settings: Settings,
    now: datetime,
) -> DigestRun | None:
    """Create the run for (sub, day) unless one exists; None when another worker won."""
    chosen = list(cands)
    if sub.topic:
        # The engine filters on the stored dates (an earlier import may have set them).
        with services.db.session() as s:
            dates = list(
                s.scalars(select(Paper.published).where(Paper.id.in_(c.paper_id for c in chosen)))
            )
        since = min(dates) if dates and None not in dates else None  # type: ignore[type-var]
        scores = topics.matching(
            services.search, sub.topic, [c.paper_id for c in chosen], since=since
        )
        chosen = [c for c in chosen if c.paper_id in scores]
    try:
        with services.db.session() as s:
            repo.begin_write(s)
            if repo.get_run(s, sub.id, day) is not None:
                return None
            current = s.get(Subscription, sub.id)
            if current is None or not current.active:
                return None
            given = repo.given_to_channel(s, sub.channel_id, [c.paper_id for c in chosen])
            ids = [c.paper_id for c in chosen if c.paper_id not in given][: settings.size]
            run = repo.create_run(s, current, day, ids, now)
    except IntegrityError:
        log.info("digest for channel %s on %s was planned by another worker", sub.channel_id, day)
        return None
    log.info("digest for channel %s on %s planned: %d papers", sub.channel_id, day, len(ids))
    return run


class _Run:
    """Posting one claimed run; every state change renews (and checks) the lease."""

    def __init__(
        self,
        services: Any,
        poster: Poster,
        run_id: int,
        settings: Settings,
        clock: Callable[[], datetime],
        report: CycleReport,
        owner: str,
    ) -> None:
        self.owner = owner
        self.db = services.db
        self.poster = poster
        self.run_id = run_id
        self.lease = settings.lease
        self.clock = clock
        self.report = report

    def _parent(self, state: str, ts: str | None = None) -> None:
        with self.db.session() as s:
            repo.set_parent(s, self.run_id, self.owner, self.clock(), self.lease, state, ts)

    def _item(self, paper_id: int, state: str, ts: str | None = None) -> None:
        with self.db.session() as s:
            repo.set_item(s, self.run_id, paper_id, self.owner, self.clock(), self.lease, state, ts)

    def post(self) -> None:
        with self.db.session() as s:
            run = s.get(DigestRun, self.run_id)
            assert run is not None
            sub = s.get(Subscription, run.subscription_id)
            items = repo.items(s, run.id)
            papers = {p.id: p for p in get_papers(s, run.planned)}
        assert sub is not None
        channel, key = run.channel_id, run.run_key
        parent_ts = run.parent_ts if run.parent_state == "posted" else None
        if parent_ts is None:
            if run.parent_state == "intent":
                since = (repo.utc(run.created_at) or self.clock()) - timedelta(hours=1)
                parent_ts = self.poster.find_parent(channel, key, since)
                if parent_ts:
                    log.info("run %s: found its earlier day message %s", key, parent_ts)
            if parent_ts is None:
                self._parent("intent")
                msg = blocks.parent_message(
                    run.local_date, sub.topic, [papers[i] for i in run.planned if i in papers]
                )
                parent_ts = self.poster.post(
                    channel,
                    msg["text"],
                    msg["blocks"],
                    {"run_key": key, "run_id": run.id, "date": run.local_date.isoformat()},
                )
                self.report.posts += 1
            self._parent("posted", parent_ts)
        pending = [it for it in items if it.state != "posted"]
        earlier: dict[int, str] = {}
        if any(it.state == "intent" for it in pending):
            earlier = self.poster.find_replies(channel, parent_ts, key)
        for it in pending:
            ts = earlier.get(it.paper_id) if it.state == "intent" else None
            paper = papers.get(it.paper_id)
            if ts is None and paper is not None:
                self._item(it.paper_id, "intent")
                msg = blocks.reply_message(it.position + 1, paper)
                ts = self.poster.post(
                    channel,
                    msg["text"],
                    msg["blocks"],
                    {"run_key": key, "run_id": run.id, "paper_id": it.paper_id},
                    thread_ts=parent_ts,
                )
                self.report.posts += 1
            self._item(it.paper_id, "posted", ts)
        with self.db.session() as s:
            repo.finish_run(s, self.run_id, self.owner, self.clock())
        self.report.done += 1
        log.info("digest %s posted to %s (%d papers)", key, channel, len(items))


def execute(
    services: Any,
    poster: Poster,
    run_id: int,
    settings: Settings,
    clock: Callable[[], datetime],
    report: CycleReport,
    owner: str = OWNER,
) -> None:
    """Claim the run and post what is left of it; failures stay with this channel."""
    from bot.digest.poster import ChannelGone, SlackTransient, WorkspaceGone

    with services.db.session() as s:
        if not repo.claim_run(s, run_id, owner, clock(), settings.lease):
            report.busy += 1
            return
        run = s.get(DigestRun, run_id)
        assert run is not None
        channel, sub_id = run.channel_id, run.subscription_id
    try:
        _Run(services, poster, run_id, settings, clock, report, owner).post()
    except ChannelGone as exc:
        log.warning("digest: %s; its subscription is now inactive", exc)
        with services.db.session() as s:
            repo.deactivate(s, sub_id, exc.reason, clock())
            run = s.get(DigestRun, run_id)
            assert run is not None
            repo.fail_run(s, run, owner, clock(), exc.reason)
        report.deactivated.append(f"{channel} ({exc.reason})")
    except repo.LeaseLost as exc:
        log.warning("digest: %s; leaving it to its new owner", exc)
    except WorkspaceGone:
        _release(services, run_id, owner, "bot token refused")
        raise
    except SlackTransient as exc:
        log.warning("digest for %s deferred: %s", channel, exc)
        _release(services, run_id, owner, str(exc))
        report.deferred.append(str(exc))
    except Exception as exc:  # a bug or the database: keep the other channels going
        log.exception("digest for %s failed", channel)
        _release(services, run_id, owner, f"{type(exc).__name__}: {exc}")
        report.deferred.append(f"{channel}: {type(exc).__name__}: {exc}")


def _release(services: Any, run_id: int, owner: str, error: str) -> None:
    try:
        with services.db.session() as s:
            repo.release_run(s, run_id, owner, error[:500])
    except Exception:
        log.exception("could not release digest run %s (its lease will expire)", run_id)


def run_cycle(
    services: Any,
    poster: Poster,
    *,
    settings: Settings | None = None,
    clock: Callable[[], datetime] = utcnow,
    always_fetch: bool = False,
    owner: str = OWNER,
) -> CycleReport:
    """Fetch (when a digest is due), plan due days, finish every open run we can claim."""
    from bot.digest.poster import WorkspaceGone

    settings = settings or Settings.from_config(services.config)
    report = CycleReport()
    now = clock()
    with services.db.session() as s:
        due = []
        for sub in repo.active_subscriptions(s):
            day, time_has_come = local_slot(sub, now)
            if time_has_come and repo.get_run(s, sub.id, day) is None:
                due.append((sub, day))
    if due or always_fetch:
        try:
            cands = fetch_candidates(services, settings, now, report)
        except FetchError as exc:
            log.error("%s", exc)
            report.fetch_error = str(exc)
            due = []
        for sub, day in due:
            try:
                run = plan(services, sub, day, cands, settings, now)
            except Exception as exc:  # one subscription's problem is not the cycle's
                log.exception("digest for %s on %s could not be planned", sub.channel_id, day)
                report.deferred.append(f"{sub.channel_id}: planning failed: {exc}")
                continue
            if run is not None:
                report.planned += 1
                report.empty += run.status == "empty"
    with services.db.session() as s:
        open_ids = [r.id for r in repo.open_runs(s)]
    try:
        for run_id in open_ids:
            execute(services, poster, run_id, settings, clock, report, owner)
    except WorkspaceGone as exc:
        log.error("%s", exc)
        report.fatal = str(exc)
    return report


def run_cli(services: Any, once: bool) -> int:
    """`paperbot digest [--once]`: one cycle now, or the blocking scheduler (the worker)."""
    from bot.digest.poster import SlackPoster, make_client

    poster = SlackPoster(make_client(services.config))  # ConfigError names SLACK_BOT_TOKEN
    if not once:
        from bot.digest.scheduler import run_blocking

        run_blocking(services, poster)
        return 0
    try:
        report = run_cycle(services, poster, always_fetch=True)
    except SQLAlchemyError as exc:
        log.debug("digest cycle: database error", exc_info=True)  # LOG_LEVEL=DEBUG: where
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"paperbot: digest: database error: {detail}", file=sys.stderr)
        return 1
    print(report.summary())
    problem = report.problem()
    if problem:
        print(f"paperbot: {problem}", file=sys.stderr)
        return 1
    return 0
