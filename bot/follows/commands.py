"""`/papers follow|unfollow|alert|following`: parse the words, change the follows, answer.

Plain Python over storage.follows (bot/listeners/follows.py is the Slack side). The words:

    /papers follow [here] author "Tri Dao"      /papers alert [here] "speculative decoding"
    /papers unfollow [here] author "Tri Dao"    /papers unfollow [here] alert "kv cache"
    /papers following

`here` makes it the channel's (notices posted in the channel), else it is the user's own
(notices by DM). Quotes are optional; straight and curly ones are both taken off.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.blocks import safe_clip
from bot.feedback import Where
from bot.follows import match
from storage import follows as repo

QUOTES = "\"'“”‘’„«»"
FOLLOW_USAGE = (
    "`/papers follow author \"Tri Dao\"` sends you each new paper by that author in a DM; "
    "`/papers follow here author \"Tri Dao\"` posts them in this channel. "
    "`/papers following` lists what you follow."
)
ALERT_USAGE = (
    "`/papers alert \"speculative decoding\"` sends you each new paper whose title or "
    "abstract has that phrase, in a DM; `/papers alert here \"kv cache\"` posts them in "
    "this channel. `/papers following` lists your alerts."
)
UNFOLLOW_USAGE = (
    "`/papers unfollow author \"Tri Dao\"` or `/papers unfollow alert \"kv cache\"` (add "
    "`here` for this channel's); `/papers following` lists them with a Remove button each."
)


# Who asked, and where: the same (workspace, user, channel) as a feedback signal's origin.
Who = Where


@dataclass(frozen=True)
class Parsed:
    here: bool
    kind: str | None  # author | alert | None (unfollow of either)
    phrase: str


def _unquote(text: str) -> str:
    return text.strip().strip(QUOTES).strip()


def parse(words: str, *, default_kind: str | None) -> Parsed:
    """`[here] [author|alert] <phrase>` in either order of the first two."""
    parts = words.split(" ")
    here, kind = False, default_kind
    while parts and parts[0].lower() in ("here", "author", "alert"):
        word = parts.pop(0).lower()
        if word == "here":
            here = True
        else:
            kind = repo.AUTHOR if word == "author" else repo.ALERT
    return Parsed(here, kind, _unquote(" ".join(parts)))


def _scope(who: Who, here: bool) -> tuple[str, str]:
    # `here` in a DM is the user's own: the notices would go to the same DM anyway.
    if here and not who.channel_id.startswith("D"):
        return repo.CHANNEL, who.channel_id
    return repo.USER, who.user_id


def _check(kind: str, phrase: str) -> str | None:
    """Why the name or phrase cannot be followed, or None."""
    words = match.tokens(phrase)
    if len(phrase) > match.MAX_CHARS or len(words) > match.MAX_WORDS:
        return f"That is too long to follow: at most {match.MAX_WORDS} words."
    if kind == repo.AUTHOR and len(words) < 2:
        return ("Give a first name (or initial) and a last name, e.g. "
                "`/papers follow author \"Tri Dao\"` or `\"T. Dao\"` for every T. Dao.")
    if not words:
        return ALERT_USAGE
    return None


def follow(session: Session, who: Who, words: str, *, kind: str) -> str:
    """`follow …` and `alert …`: add it; the mrkdwn answer."""
    p = parse(words, default_kind=None if kind == repo.AUTHOR else repo.ALERT)
    if (kind == repo.AUTHOR and p.kind != repo.AUTHOR) or not p.phrase:
        return FOLLOW_USAGE if kind == repo.AUTHOR else ALERT_USAGE
    kind = p.kind or kind
    problem = _check(kind, p.phrase)
    if problem:
        return problem
    scope, owner = _scope(who, p.here)
    shown = safe_clip(p.phrase, match.MAX_CHARS)
    where = "in this channel" if scope == repo.CHANNEL else "to you in a DM"
    if repo.count_owned(session, who.team_id, scope, owner) >= repo.MAX_FOLLOWS:
        return (f"{'This channel has' if scope == repo.CHANNEL else 'You have'} "
                f"{repo.MAX_FOLLOWS} follows and alerts already, the most there can be: "
                "remove one first (`/papers following`).")
    added = repo.add_follow(
        session, who.team_id, scope=scope, owner=owner, kind=kind, text=p.phrase,
        norm=match.norm(p.phrase), created_by=who.user_id, enterprise_id=who.enterprise_id,
    )
    if kind == repo.AUTHOR:
        if not added:
            return f"Already following *{shown}* ({where})."
        return (f"Following *{shown}*: each new paper by them comes {where}. Names match "
                "whatever the accents and case; `T. Dao` would follow every T. Dao.")
    if not added:
        return f"That alert is already set: “{shown}” ({where})."
    return (f"Alert set: each new paper with “{shown}” in its title or abstract comes "
            f"{where}.")


def unfollow(session: Session, who: Who, words: str) -> str:
    p = parse(words, default_kind=None)
    if not p.phrase:
        return UNFOLLOW_USAGE
    scope, owner = _scope(who, p.here)
    norm = match.norm(p.phrase)
    kinds = [p.kind] if p.kind else [repo.AUTHOR, repo.ALERT]
    for kind in kinds:
        gone = repo.remove_follow(session, who.team_id, scope=scope, owner=owner, kind=kind,
                                  norm=norm)
        if gone is not None:
            what = "following" if gone.kind == repo.AUTHOR else "the alert for"
            return f"Stopped {what} *{safe_clip(gone.text, match.MAX_CHARS)}*."
    whose = "This channel does" if scope == repo.CHANNEL else "You do"
    return (f"{whose} not follow “{safe_clip(p.phrase, match.MAX_CHARS)}”. "
            "`/papers following` lists them, with a Remove button each.")


def describe(f: repo.FollowRow) -> str:
    text = safe_clip(f.text, match.MAX_CHARS)
    return f"Author *{text}*" if f.kind == repo.AUTHOR else f"Alert “{text}”"
