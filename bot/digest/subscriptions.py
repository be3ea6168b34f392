"""`/papers subscribe|unsubscribe|subscriptions`: parse, check, store, and say what happened.

Plain functions (no Slack import): the listener hands in a gateway that can read a
user's time zone, make sure the bot is in the channel and open the user's DM with the bot
(bot.digest.poster.SlackPoster).

`/papers subscribe me [at HH:MM]` is a personal digest: a subscription whose channel is
the user's DM with the bot and whose `for_user` is that user (its picks learn from that
user's own signals, see learn.py); `/papers unsubscribe me` stops it. It can be set up
from any channel; nobody else's command can touch it.

`/papers subscribe [me] arxiv cs.CL cs.LG [topic words] [at HH:MM]` takes the day's arXiv
announcements in those categories instead of the trending list (see categories.py). The
words right after `arxiv` that look like categories (archive.SUBJECT, e.g. cs.CL, or a
whole archive, e.g. quant-ph, math) are the categories; the first word that does not starts
the topic. A word shaped like a category whose archive arXiv does not have (cs.CL is one,
foo.BAR is not) is refused with a message.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from bot.blocks import escape, safe
from bot.digest.due import zone
from bot.digest.settings import Settings
from bot.digest.topics import topic_error
from bot.slack_api import failure
from bot.sources import taxonomy
from storage import digest as repo
from storage.models import Subscription

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

MAX_TOPIC = 200
COMMAND_RE = re.compile(r"^\s*(subscribe|unsubscribe|subscriptions)\b", re.IGNORECASE)
_AT_RE = re.compile(r"(?:^|\s)at\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*$", re.IGNORECASE)
_ME_RE = re.compile(r"^me(?:\s+|$)", re.IGNORECASE)
_ARXIV_RE = re.compile(r"^arxiv(?:\s+|$)", re.IGNORECASE)
# Shaped like an arXiv category: archive.SUBJECT (cs.CL, cond-mat.mes-hall).
_CATEGORY_SHAPE = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)?\.[A-Za-z]+(?:-[A-Za-z]+)*")
MAX_CATEGORIES = 10
CATEGORY_EXAMPLE = "`/papers subscribe arxiv cs.CL cs.LG`"
USAGE = (
    "Usage: `/papers subscribe [topic words] [at HH:MM]`, e.g. "
    "`/papers subscribe diffusion models at 08:30`. Without a topic the channel gets all "
    "trending papers; the time is in your time zone (default {default}). "
    "`/papers subscribe arxiv cs.CL cs.LG [topic words] [at HH:MM]` takes each day's new "
    "arXiv papers in those categories instead. "
    "`/papers subscribe me [arxiv …] [at HH:MM]` sends your own picks to a DM instead."
)


class Gateway(Protocol):
    def user_tz(self, user_id: str) -> str | None: ...

    def ensure_member(self, channel: str) -> str | None: ...

    def open_dm(self, user_id: str) -> str | None: ...


class CommandError(ValueError):
    """The command text is not usable; the message says how to fix it."""


@dataclass(frozen=True)
class Command:
    action: str
    topic: str = ""
    at: str | None = None  # "HH:MM" when given
    me: bool = False  # `subscribe me` / `unsubscribe me`: the user's personal digest
    categories: str | None = None  # "cs.CL cs.LG": arXiv's announcements, not trending


def is_subscription_command(text: str) -> bool:
    """The Bolt matcher: only these three words as the first word of `/papers`."""
    return bool(COMMAND_RE.match(text or ""))


def parse(text: str, default_time: str = "09:00") -> Command:
    m = COMMAND_RE.match(text or "")
    if not m:
        raise CommandError(USAGE.format(default=default_time))
    action = m.group(1).lower()
    rest = " ".join(text[m.end() :].split())
    me = action != "subscriptions" and bool(_ME_RE.match(rest))
    if me:
        rest = rest[2:].strip()
    if action != "subscribe":
        if rest:
            raise CommandError(f"`/papers {action}{' me' if me else ''}` takes no words after it.")
        return Command(action, me=me)
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
    categories = None
    if _ARXIV_RE.match(rest):
        categories, rest = parse_categories(rest[5:].strip())
    if me and rest:
        raise CommandError(
            "A personal digest has no topic: it learns from what you save and react to. "
            "Use `/papers subscribe me`, `/papers subscribe me arxiv cs.CL` or "
            "`/papers subscribe me at 08:30`."
        )
    if len(rest) > MAX_TOPIC:
        raise CommandError(f"That topic is {len(rest)} characters long; keep it under {MAX_TOPIC}.")
    return Command(action, topic=rest, at=at, me=me, categories=categories)


def _category(word: str) -> str | None:
    """`word` as arXiv writes the category (cs.cl -> cs.CL), or None when it is not shaped
    like one (the topic starts there); CommandError when shaped like one but not one of
    arXiv's (bot.sources.taxonomy: cs.XX would ride in the feed every team shares)."""
    if not (_CATEGORY_SHAPE.fullmatch(word) or taxonomy.is_category(word)):
        return None
    try:
        return taxonomy.category(word)
    except taxonomy.UnknownCategory as exc:
        raise CommandError(
            f"{safe(str(exc))}. Name categories as arXiv does, e.g. {CATEGORY_EXAMPLE} or "
            "`arxiv quant-ph stat.ML` (see arxiv.org/category_taxonomy)."
        ) from None


def parse_categories(text: str) -> tuple[str, str]:
    """The words after `arxiv`: (categories space-separated, the topic words after them)."""
    words = text.replace(",", " ").replace("+", " ").split()
    cats: dict[str, None] = {}
    i = 0
    while i < len(words):
        term = _category(words[i])
        if term is None:
            break
        cats[term] = None
        i += 1
    if not cats:
        raise CommandError(
            "Name the arXiv categories after “arxiv”, e.g. "
            f"{CATEGORY_EXAMPLE} (see arxiv.org/category_taxonomy)."
        )
    if len(cats) > MAX_CATEGORIES:
        raise CommandError(
            f"That is {len(cats)} categories; a digest takes at most {MAX_CATEGORIES}."
        )
    return " ".join(cats), " ".join(words[i:])


def stopped_because(reason: str | None) -> str:
    """Why a subscription is inactive, in words (reasons are ours or Slack error codes)."""
    reason = reason or ""
    m = re.fullmatch(r"unsubscribed by ([UW][A-Z0-9]+)", reason)
    if m:
        return f"<@{m.group(1)}> unsubscribed it"
    return failure(reason).stopped


def _describe(sub: Subscription, settings: Settings) -> str:
    """mrkdwn: the topic (user text) is escaped and defused; tz names are IANA names;
    categories passed our own check (letters, dots, dashes)."""
    size = settings.size_for(sub.categories)
    if sub.categories:
        cats = ", ".join(sub.categories.split())
        when = f"every day arXiv announces papers, at {sub.post_time} ({escape(sub.tz)})"
        if sub.for_user:
            return (
                f"your own top {size} of the day's new arXiv papers in {cats} in a DM with me, "
                f"{when}, ranked by what you save and react to"
            )
        until = f"; until then, papers about “{safe(sub.topic)}” first" if sub.topic else ""
        return (
            f"the top {size} of the day's new arXiv papers in {cats}, {when}, ranked by what "
            f"this channel saves and reacts to once it has 3 saves or reactions{until}"
        )
    if sub.for_user:
        return (
            f"your own top {size} papers in a DM with me, every day at {sub.post_time} "
            f"({escape(sub.tz)}), learned from what you save and react to (trending until then)"
        )
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
    """Run one subscription command; returns the (mrkdwn) answer for the user.

    A database failure is raised (SQLAlchemyError): the Slack edge answers it like any other
    command's (bot.listeners.failures: the standard sentence, one log line per kind)."""
    config = services.config
    now = now or datetime.now(UTC)
    try:
        cmd = parse(text, config.digest_default_time)
    except CommandError as exc:
        return str(exc)  # our own words; user text in it is limited to digits and am/pm
    settings = Settings.from_config(config)

    if cmd.me:
        return _personal(services, gateway, cmd, team_id, user_id, now)

    if cmd.action == "subscriptions":
        with services.db.session() as s:
            sub = repo.get_subscription(s, team_id, channel_id)
            mine = repo.get_personal(s, team_id, user_id)
        if mine is not None and mine.active and mine.channel_id != channel_id:
            yours = f" You also get {_describe(mine, settings)}; `/papers unsubscribe me` stops it."
        else:
            yours = " `/papers subscribe me` sends you your own picks in a DM every day."
        if sub is not None and sub.for_user == user_id and sub.active:
            return f"Here you get {_describe(sub, settings)}. `/papers unsubscribe me` stops it."
        if sub is None or not sub.active:
            why = f" ({stopped_because(sub.inactive_reason)})" if sub is not None else ""
            return (
                f"This channel has no daily digest{why}. "
                "`/papers subscribe [topic] [at HH:MM]` or "
                f"`/papers subscribe arxiv cs.CL [at HH:MM]` sets one up.{yours}"
            )
        return (
            f"This channel gets {_describe(sub, settings)}; "
            f"set up by <@{sub.created_by}>. Abstracts go in each digest's thread.{yours}"
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
            categories=cmd.categories,
        )
    lead = "Subscribed" if was_new else "Updated"
    return (
        f"{lead}: this channel gets {_describe(sub, settings)}. "
        "Each paper's abstract goes in the digest's thread. `/papers unsubscribe` stops it."
    )


def _personal(
    services: Services,
    gateway: Gateway,
    cmd: Command,
    team_id: str,
    user_id: str,
    now: datetime,
) -> str:
    """`subscribe me` / `unsubscribe me`: the caller's own digest, in their DM with the bot."""
    settings = Settings.from_config(services.config)
    if cmd.action == "unsubscribe":
        with services.db.session() as s:
            mine = repo.get_personal(s, team_id, user_id)
            stopped = bool(
                mine and repo.deactivate(s, mine.id, f"unsubscribed by {user_id}", now)
            )
        if not stopped:
            return "You have no personal digest to stop."
        return "Done: you get no more personal digests."
    dm = gateway.open_dm(user_id)
    if dm is None:
        return (
            "I couldn't open a direct message with you, so I can't send you a digest; "
            "please try again in a moment."
        )
    tz_name = zone(gateway.user_tz(user_id) or "UTC").key
    with services.db.session() as s:
        sub, was_new = repo.subscribe(
            s,
            team_id=team_id,
            channel_id=dm,
            topic="",
            post_time=cmd.at or services.config.digest_default_time,
            tz=tz_name,
            created_by=user_id,
            now=now,
            for_user=user_id,
            categories=cmd.categories,
        )
    lead = "Subscribed" if was_new else "Updated"
    return (
        f"{lead}: you get {_describe(sub, settings)}. "
        "Abstracts go in each digest's thread. `/papers unsubscribe me` stops it."
    )


def stop_workspace(services: Services, team_id: str | None, reason: str) -> int:
    """Switch off every digest of a workspace that uninstalled PaperBot or revoked its token."""
    if not team_id:
        return 0
    with services.db.session() as s:
        n = repo.deactivate_team(s, team_id, reason, datetime.now(UTC))
    log.warning("team %s: %s; %d digest subscription(s) deactivated", team_id, reason, n)
    return n
