"""`paperbot digest --once [--now]`: one cycle now, then when each channel's next digest is.

Cron runs `--once` on a timer and only the digests whose time has come go out. A person
who just subscribed runs it by hand and would see nothing, so every run also says when
each active subscription is next due; `--now` posts today's digest at once to every
active subscription that has not had it (a second run the same day posts nothing: the
day's run already exists, see cycle.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bot.digest import due
from bot.digest.cycle import run_cycle, utcnow
from bot.digest.outage import DatabaseGone, cause_of, database_trouble, problem_line
from bot.digest.post import Poster

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What to print: `lines` on stdout, and `problem` (exit status 1) on stderr."""

    lines: list[str] = field(default_factory=list)
    problem: str | None = None


def run_once(
    services: Services,
    poster: Poster,
    *,
    post_now: bool = False,
    clock: Callable[[], datetime] = utcnow,
) -> Outcome:
    """One cycle (fetching even when nothing is due), then the schedule of every channel."""
    out = Outcome()
    try:
        report = run_cycle(services, poster, clock=clock, always_fetch=True, post_now=post_now)
        now = clock()
        slots, _ = due.scan(services, now)
    except (SQLAlchemyError, DatabaseGone) as exc:
        log.debug("digest cycle: database error", exc_info=True)  # LOG_LEVEL=DEBUG: where
        cause = cause_of(exc)
        database_trouble(cause, "running the digest cycle")  # once per kind: maybe logged
        out.problem = problem_line(cause, services.db.safe_url)
        return out
    out.lines.append(report.summary())
    out.lines += [schedule_line(slot, now) for slot in slots]
    out.lines += [f"{line}: skipped" for line in report.bad]
    if not slots and not report.bad:
        out.lines.append(
            "no active subscriptions: `/papers subscribe` in a Slack channel sets one up"
        )
    out.problem = report.problem()
    return out


def schedule_line(slot: due.Slot, now: datetime) -> str:
    """'#C123 (topic “x”): next digest 2026-11-27 09:00 America/New_York (in 14 h)'."""
    sub = slot.sub
    what = f"topic “{sub.topic}”" if sub.topic else "all trending papers"
    if sub.categories:
        what = f"arXiv {', '.join(sub.categories.split())}" + (
            f", topic “{sub.topic}”" if sub.topic else ""
        )
    if sub.for_user:
        what = f"personal digest of {sub.for_user}"
    when = slot.next_digest()
    wait = when - now
    if wait <= timedelta(0):
        soon = "due now: the next cycle posts it"
    elif wait < timedelta(hours=1):
        soon = f"in {max(1, round(wait.total_seconds() / 60))} min"
    else:
        soon = f"in {round(wait.total_seconds() / 3600)} h"
    return f"#{sub.channel_id} ({what}): next digest {when:%Y-%m-%d %H:%M} {sub.tz} ({soon})"
