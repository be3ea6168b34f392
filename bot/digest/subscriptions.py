"""`/papers subscribe|unsubscribe|subscriptions`: parse, check, store, and say what happened.

Plain functions (no Slack import): the listener hands in a gateway that can read a
user's time zone and make sure the bot is in the channel (bot.digest.poster.SlackPoster).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.exc import SQLAlchemyError

from bot.blocks import escape, safe
from bot.digest.due import zone
from bot.digest.topics import topic_error
from bot.slack_api import failure
from storage import digest as repo
from storage.models import Subscription

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

MAX_TOPIC = 200
COMMAND_RE = re.compile(r"^\s*(subscribe|unsubscribe|subscriptions)\b", re.IGNORECASE)
_AT_RE = re.compile(r"(?:^|\s)at\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*$", re.IGNORECASE)
USAGE = (
    "Usage: `/papers subscribe [topic words] [at HH:MM]`, e.g. "
    "`/papers subscribe diffusion models at 08:30`. Without a topic the channel gets all "
    "trending papers; the time is in your time zone (default {default})."
)


class Gateway(Protocol):
    def user_tz(self, user_id: str) -> str | None: ...

    def ensure_member(self, channel: str) -> str | None: ...


class CommandError(ValueError):
    """The command text is not usable; the message says how to fix it."""


@dataclass(frozen=True)
class Command:
    action: str
    topic: str = ""
    at: str | None = None  # "HH:MM" when given


def is_subscription_command(text: str) -> bool:
    """The Bolt matcher: only these three words as the first word of `/papers`."""
    return bool(COMMAND_RE.match(text or ""))


def parse(text: str, default_time: str = "09:00") -> Command:
    m = COMMAND_RE.match(text or "")
    if not m:
        raise CommandError(USAGE.format(default=default_time))
    action = m.group(1).lower()
    rest = " ".join(text[m.end() :].split())
    if action != "subscribe":
        if rest:
            raise CommandError(f"`/papers {action}` takes no words after it.")
        return Command(action)
    at = None
    tm = _AT_RE.search(rest)
    if tm:
        hour, minute = int(tm.group(1)), int(tm.group(2) or 0)
        ampm = (tm.group(3) or "").lower()
        if ampm:
            if not 1 <= hour <= 12:
                raise CommandError(f"“{tm.group(0).strip()}” is not a time of day.")
            hour = hour % 12 + (12 if ampm == "pm" else 0)
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise CommandError(
                f"“{tm.group(0).strip()}” is not a time of day; use 24-hour HH:MM, e.g. at 08:30."
            )
        at = f"{hour:02d}:{minute:02d}"
        rest = rest[: tm.start()].strip()
    elif re.search(r"(?:^|\s)at\s*$", rest, re.IGNORECASE):
        raise CommandError("Say when after “at”, e.g. `/papers subscribe at 08:30`.")
    if len(rest) > MAX_TOPIC:
        raise CommandError(f"That topic is {len(rest)} characters long; keep it under {MAX_TOPIC}.")
    return Command(action, topic=rest, at=at)


def stopped_because(reason: str | None) -> str:
    """Why a subscription is inactive, in words (reasons are ours or Slack error codes)."""
    reason = reason or ""
    m = re.fullmatch(r"unsubscribed by ([UW][A-Z0-9]+)", reason)
    if m:
        return f"<@{m.group(1)}> unsubscribed it"
    return failure(reason).stopped


def _describe(sub: Subscription, size: int) -> str:
    """mrkdwn: the topic (user text) is escaped and defused; tz names are IANA names."""
    what = f"the top {size} trending papers"
    if sub.topic:
        what += f" about “{safe(sub.topic)}”"
    return f"{what} from Hugging Face, every day at {sub.post_time} ({escape(sub.tz)})"


def handle(
    services: Services,
    gateway: Gateway,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    text: str,
    now: datetime | None = None,
) -> str:
    """Run one subscription command; returns the (mrkdwn) answer for the user, also when
    the database fails (the user is told to try again, the log says why)."""
    try:
        return _handle(services, gateway, team_id, channel_id, user_id, text, now)
    except SQLAlchemyError:
        log.exception("/papers %s in %s: database error", (text or "").split()[:1], channel_id)
        return "Sorry, I couldn't save or read this channel's digest just now; please try again."


def _handle(
    services: Services,
    gateway: Gateway,
    team_id: str,
    channel_id: str,
    user_id: str,
    text: str,
    now: datetime | None,
) -> str:
    config = services.config
    now = now or datetime.now(UTC)
    try:
        cmd = parse(text, config.digest_default_time)
    except CommandError as exc:
        return str(exc)  # our own words; user text in it is limited to digits and am/pm
    size = config.digest_size

    if cmd.action == "subscriptions":
        with services.db.session() as s:
            sub = repo.get_subscription(s, team_id, channel_id)
        if sub is None or not sub.active:
            why = f" ({stopped_because(sub.inactive_reason)})" if sub is not None else ""
            return (
                f"This channel has no daily digest{why}. "
                "`/papers subscribe [topic] [at HH:MM]` sets one up."
            )
        return (
            f"This channel gets {_describe(sub, size)}; "
            f"set up by <@{sub.created_by}>. Abstracts go in each digest's thread."
        )

    if cmd.action == "unsubscribe":
        with services.db.session() as s:
            stopped = repo.unsubscribe(s, team_id, channel_id, f"unsubscribed by {user_id}", now)
        if not stopped:
            return "This channel has no daily digest to stop."
        return "Done: this channel gets no more daily digests."

    if cmd.topic:
        problem = topic_error(cmd.topic)
        if problem:
            return f"That topic can't be matched: {safe(problem)}"
    why_not = gateway.ensure_member(channel_id)
    if why_not in ("is_archived", "channel_is_archived"):
        return "This channel is archived, so I can't post a digest in it."
    if why_not is not None:
        return (
            "I can't post in this channel yet (it's private, or I couldn't join it). "
            "Invite me with `/invite @paperbot`, then run `/papers subscribe` again."
        )
    tz_name = gateway.user_tz(user_id) or "UTC"
    tz_name = zone(tz_name).key
    with services.db.session() as s:
        sub, was_new = repo.subscribe(
            s,
            team_id=team_id,
            channel_id=channel_id,
            topic=cmd.topic,
            post_time=cmd.at or config.digest_default_time,
            tz=tz_name,
            created_by=user_id,
            now=now,
        )
    lead = "Subscribed" if was_new else "Updated"
    return (
        f"{lead}: this channel gets {_describe(sub, size)}. "
        "Each paper's abstract goes in the digest's thread. `/papers unsubscribe` stops it."
    )


def stop_workspace(services: Services, team_id: str | None, reason: str) -> int:
    """Switch off every digest of a workspace that uninstalled PaperBot or revoked its token."""
    if not team_id:
        return 0
    with services.db.session() as s:
        n = repo.deactivate_team(s, team_id, reason, datetime.now(UTC))
    log.warning("team %s: %s; %d digest subscription(s) deactivated", team_id, reason, n)
    return n
