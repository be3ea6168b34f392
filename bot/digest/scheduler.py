"""Run digest cycles on a timer: in-process for `paperbot serve`, or as the worker.

Every instance runs the same interval job; the database leases (see cycle.py) make any
number of instances safe, so the worker scales by adding processes. A cycle that fails
is logged and the next one tries again; nothing here can take the process down.
"""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.digest.cycle import run_cycle
from bot.digest.outage import DatabaseGone, cause_of, database_trouble
from bot.digest.post import Poster
from bot.digest.poster import poster_like
from bot.digest.settings import Settings

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)
JOB_ID = "paperbot-digest"


def safe_cycle(services: Services, poster: Poster, settings: Settings) -> None:
    """One cycle whose every failure is logged, never raised into the scheduler."""
    try:
        report = run_cycle(services, poster, settings=settings)
    except (SQLAlchemyError, DatabaseGone) as exc:  # an outage: one line per kind, no traceback
        database_trouble(cause_of(exc), "running a digest cycle (the next one will retry)")
        return
    except Exception:
        log.exception("digest cycle failed; the next one will retry")
        return
    problem = report.problem()
    if problem:
        log.warning("%s", problem)
    if report.planned or report.done or report.deactivated:
        log.info("%s", report.summary())


def _add_job(sched: BaseScheduler, services: Services, poster: Poster) -> None:
    # APScheduler logs every run at INFO; our cycle logs what matters.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    settings = Settings.from_config(services.config)
    sched.add_job(
        safe_cycle,
        "interval",
        seconds=settings.interval,
        args=(services, poster, settings),
        id=JOB_ID,
        next_run_time=datetime.now(UTC),  # first cycle right away
        coalesce=True,
        max_instances=1,
        misfire_grace_time=max(1, int(settings.interval)),
    )


def start_scheduler(
    services: Services, client: WebClient, poster: Poster | None = None
) -> BackgroundScheduler:
    """Digest cycles in a background thread (for `paperbot serve`); call .shutdown().
    `poster`: OAuth mode's per-workspace posters (bot.digest.poster.team_posters)."""
    sched = BackgroundScheduler(timezone=UTC)
    _add_job(sched, services, poster or poster_like(client))
    sched.start()
    log.info("digest scheduler started")
    return sched


def run_blocking(services: Services, poster: Poster) -> None:
    """The `paperbot digest` worker: cycles until SIGTERM/SIGINT (the current one finishes)."""
    sched = BlockingScheduler(timezone=UTC)
    _add_job(sched, services, poster)

    def stop(signum: int, _frame: object) -> None:
        log.info("digest worker stopping (signal %d)", signum)
        sched.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    log.info("digest worker started")
    try:
        sched.start()
    except KeyboardInterrupt:
        sched.shutdown(wait=False)
