"""One digest cycle, top to bottom: due -> fetch -> store -> plan -> post.

Exactly once, across restarts, crashes (kill -9 between any two Slack calls) and several
workers sharing one database:

1. Plan once (plan.py). A run is the (subscription, local date) row, unique in the
   database. Its planned papers (ranked, in order) and the channel's reservations of those
   papers (digest_channel_papers, unique per channel and paper) are written in the
   transaction that creates it, so a day is planned by one worker only and a paper is never
   planned twice for a channel. The plan never changes afterwards: a resumed run posts the
   same.
2. One owner at a time (post.py). Posting needs the run's lease, taken by a conditional
   UPDATE (free or expired) and renewed with every state change; each change is conditional
   on still owning it (else LeaseLost: stop). The lease (PAPERBOT_DIGEST_LEASE, 300 s) is
   far longer than one Slack call (15 s timeout, plus rate-limit waits), so a worker can
   only lose it by stalling or dying.
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
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.digest import categories, due, source
from bot.digest.outage import stop_if_unreachable
from bot.digest.plan import plan
from bot.digest.post import Poster, post_run
from bot.digest.poster import WorkspaceGone
from bot.digest.report import CycleReport
from bot.digest.settings import Settings
from bot.digest.store import Candidate, store
from bot.follows.notify import notify_new_papers
from storage import digest as repo

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

# Who holds a lease: this process (a restarted process is a new owner).
OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def run_cycle(
    services: Services,
    poster: Poster,
    *,
    settings: Settings | None = None,
    clock: Callable[[], datetime] = utcnow,
    always_fetch: bool = False,
    post_now: bool = False,
    owner: str = OWNER,
) -> CycleReport:
    """Plan the due days (fetching first), then finish every open run we can claim.

    Raises SQLAlchemyError, or outage.DatabaseGone (already logged), when the database
    fails outside one channel's step or stops answering.

    `always_fetch`: fetch even when nothing is due (`paperbot digest --once`).
    `post_now`: today's digest is due for every active subscription that has not had it,
    whatever its posting time (`--once --now`).
    """
    settings = settings or Settings.from_config(services.config)
    report = CycleReport()
    now = clock()

    # 1. due
    slots, report.bad = due.scan(services, now)
    for line in report.bad:  # skipped; the other channels go on
        log.error("digest skipped for %s", line)
    todo = [slot for slot in slots if slot.due(now, post_now=post_now)]
    if post_now:
        report.had_today = sum(slot.had_today for slot in slots)

    if todo or always_fetch:
        # 2. fetch, 3. store
        cands: list[Candidate] = []
        try:
            cands = fetch_and_store(services, settings, now, report)
        except source.FetchError as exc:
            log.error("%s", exc)
            report.fetch_error = str(exc)
            todo = [slot for slot in todo if slot.sub.categories]  # they need no Hub list
        # follows, alerts, revisions of what the Hub brought (and anything stored since the
        # last look); the papers of arXiv's feed below are announced by its fetch, with the
        # same poster, and counted here too. One claim row per notice keeps each paper's
        # notice once whichever call reaches it first.
        report.notices = notify_new_papers(services, poster, [c.paper_id for c in cands])
        # arXiv's announcement for the due category subscriptions: one request, stored
        feed = categories.fetch(services, todo, poster)
        if feed is not None:
            report.arxiv = feed.summary
            report.notices.add(feed.notices)
            if feed.error:  # only the category digests wait; the Hub's go on
                report.arxiv_error = feed.error
                report.arxiv_waiting = sum(1 for slot in todo if slot.sub.categories)
                todo = [slot for slot in todo if not slot.sub.categories]
        # 4. plan
        for slot in todo:
            try:
                run = plan(services, slot.sub, slot.day, cands, settings, now, feed)
            except Exception as exc:  # one subscription's problem is not the cycle's
                stop_if_unreachable(exc, f"planning the digest for {slot.sub.channel_id}")
                log.exception(
                    "digest for %s on %s could not be planned", slot.sub.channel_id, slot.day
                )
                report.deferred.append(f"{slot.sub.channel_id}: planning failed: {exc}")
                continue
            if run is not None:
                report.planned += 1
                report.empty += run.status == "empty"

    # 5. post: today's plans and any run left unfinished (by us or a dead worker)
    with services.db.session() as s:
        open_ids = [r.id for r in repo.open_runs(s)]
    try:
        for run_id in open_ids:
            post_run(services, poster, run_id, settings, clock, report, owner)
    except WorkspaceGone as exc:
        log.error("%s", exc)
        report.fatal = str(exc)
    return report


def fetch_and_store(
    services: Services, settings: Settings, now: datetime, report: CycleReport
) -> list[Candidate]:
    """The trending lists of the last `fetch_days` UTC days, stored, best first."""
    today = now.astimezone(UTC).date()
    days = [today - timedelta(days=i) for i in range(settings.fetch_days)]
    fetched = source.fetch_daily(settings.api_url, days)
    report.fetched = len(fetched.records)
    report.skipped_entries = fetched.skipped
    return store(services, fetched.records)
