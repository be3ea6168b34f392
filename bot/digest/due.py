"""Step 1, due: which subscriptions get a digest now, and when each is next due.

A subscription is due once its local posting time has come on its local date and that
date has no run yet (the run, unique per subscription and date, is what makes a day's
digest happen once). Each subscription is read on its own: one with an unusable stored
time or time zone is logged and skipped, never allowed to stop the other channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage import digest as repo
from storage.models import Subscription

if TYPE_CHECKING:
    from bot.services import Services


def parse_hhmm(value: str) -> time:
    """'09:00' -> time(9, 0); ValueError for anything else (e.g. '25:99')."""
    hh, mm = value.strip().split(":")
    return time(int(hh), int(mm))


def zone(name: str) -> ZoneInfo:
    """A Slack profile's tz, or UTC when Python does not know it (subscribe time)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class BadSettings(ValueError):
    """A stored subscription whose time or time zone cannot be used."""


@dataclass(frozen=True)
class Slot:
    """One active subscription at `now`: its local day, posting time, and whether that
    day's digest exists already."""

    sub: Subscription  # detached copy (sessions do not expire on commit)
    day: date
    at: datetime  # the posting time on `day`, in the subscriber's zone
    had_today: bool

    def due(self, now: datetime, *, post_now: bool = False) -> bool:
        """Plan today's digest now? (`post_now`: without waiting for the posting time)."""
        return not self.had_today and (post_now or now >= self.at)

    def next_digest(self) -> datetime:
        """When the next digest goes out: today's posting time, or tomorrow's once posted."""
        if not self.had_today:
            return self.at
        tomorrow = self.day + timedelta(days=1)
        return datetime.combine(tomorrow, self.at.time(), tzinfo=self.at.tzinfo)


def local_clock(sub: Subscription) -> tuple[ZoneInfo, time]:
    """The subscription's zone and posting time, strictly: BadSettings names what is wrong."""
    try:
        tz = ZoneInfo(sub.tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise BadSettings(f"time zone {sub.tz!r} is unknown") from None
    try:
        at = parse_hhmm(sub.post_time)
    except (ValueError, AttributeError):
        raise BadSettings(f"post_time {sub.post_time!r} is not HH:MM") from None
    return tz, at


def scan(services: Services, now: datetime) -> tuple[list[Slot], list[str]]:
    """Every active subscription's slot at `now`, and one line per unusable subscription
    (naming it and what is wrong, for the caller to log or print)."""
    slots: list[Slot] = []
    bad: list[str] = []
    with services.db.session() as s:
        for sub in repo.active_subscriptions(s):
            where = f"subscription {sub.id} (#{sub.channel_id}, team {sub.team_id})"
            try:
                tz, at = local_clock(sub)
                day = now.astimezone(tz).date()
                at_day = datetime.combine(day, at, tzinfo=tz)
            except Exception as exc:  # one subscription's bad data is not the cycle's
                reason = str(exc) if isinstance(exc, BadSettings) else repr(exc)
                bad.append(f"{where}: {reason}")
                continue
            slots.append(Slot(sub, day, at_day, repo.get_run(s, sub.id, day) is not None))
    return slots, bad
