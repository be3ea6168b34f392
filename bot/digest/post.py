"""Step 5, post: claim a planned run and post what is left of it, exactly once
(see cycle.py, rules 2 to 5).

Every state change renews and checks the run's lease; each message is recorded "intent"
before it is sent and by its ts after; a message left in "intent" is looked up in the
channel before anything is posted again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from bot.digest import blocks, categories, learn
from bot.digest.outage import DatabaseGone, database_trouble, is_unreachable
from bot.digest.poster import ChannelGone, SlackTransient, WorkspaceGone, team_poster
from bot.digest.report import CycleReport
from bot.digest.settings import Settings
from storage import digest as repo
from storage.db import Database
from storage.feedback import remember_message
from storage.models import DigestRun, Subscription
from storage.papers import get_papers

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


class Poster(Protocol):
    """What posting needs from Slack (bot.digest.poster.SlackPoster)."""

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


class _Run:
    """Posting one claimed run; every state change renews (and checks) the lease."""

    def __init__(
        self,
        db: Database,
        poster: Poster,
        run_id: int,
        settings: Settings,
        clock: Callable[[], datetime],
        report: CycleReport,
        owner: str,
    ) -> None:
        self.owner = owner
        self.db = db
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
        self.poster = team_poster(self.poster, sub.team_id)  # OAuth: that workspace's token
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
                title, ranking = learn.heading(sub, run.learned_from)
                shown = [papers[i] for i in run.planned if i in papers]
                head: dict[str, Any] = {"title": title, "ranking": ranking}
                if sub.categories:  # "N of M new papers in cs.CL today", its own footer
                    with self.db.session() as s:
                        head = categories.heading(s, sub, run.learned_from, shown)
                msg = blocks.parent_message(run.local_date, sub.topic, shown, **head)
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
            if ts:  # reactions on this reply are feedback on its paper (storage/feedback.py)
                with self.db.session() as s:
                    remember_message(s, sub.team_id, channel, ts, it.paper_id, "digest")
            self._item(it.paper_id, "posted", ts)
        with self.db.session() as s:
            repo.finish_run(s, self.run_id, self.owner, self.clock())
        self.report.done += 1
        log.info("digest %s posted to %s (%d papers)", key, channel, len(items))


def post_run(
    services: Services,
    poster: Poster,
    run_id: int,
    settings: Settings,
    clock: Callable[[], datetime],
    report: CycleReport,
    owner: str,
) -> None:
    """Claim the run and post what is left of it; failures stay with this channel, except
    WorkspaceGone (the token is unusable) and outage.DatabaseGone (the database stopped
    answering): the caller stops the cycle."""
    with services.db.session() as s:
        if not repo.claim_run(s, run_id, owner, clock(), settings.lease):
            report.busy += 1
            return
        run = s.get(DigestRun, run_id)
        assert run is not None
        channel, sub_id = run.channel_id, run.subscription_id
    try:
        _Run(services.db, poster, run_id, settings, clock, report, owner).post()
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
        _release(services.db, run_id, owner, "bot token refused")
        raise
    except SlackTransient as exc:
        log.warning("digest for %s deferred: %s", channel, exc)
        _release(services.db, run_id, owner, str(exc))
        report.deferred.append(str(exc))
    except Exception as exc:  # a bug or the database: keep the other channels going
        if isinstance(exc, SQLAlchemyError) and is_unreachable(exc):
            # Every channel would fail the same way: stop the cycle. The run's recorded
            # intents let the next cycle resume it without posting anything twice.
            database_trouble(exc, f"posting the digest for {channel}")
            _release(services.db, run_id, owner, "database unreachable")
            raise DatabaseGone(exc) from exc
        log.exception("digest for %s failed", channel)
        _release(services.db, run_id, owner, f"{type(exc).__name__}: {exc}")
        report.deferred.append(f"{channel}: {type(exc).__name__}: {exc}")


def _release(db: Database, run_id: int, owner: str, error: str) -> None:
    try:
        with db.session() as s:
            repo.release_run(s, run_id, owner, error[:500])
    except SQLAlchemyError as exc:  # one line per kind: in an outage, every release fails
        database_trouble(exc, f"releasing digest run {run_id} (its lease will expire)")
    except Exception:
        log.exception("could not release digest run %s (its lease will expire)", run_id)
