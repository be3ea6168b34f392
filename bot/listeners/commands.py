"""`/papers`: one listener, one table of subcommands, search for everything else.

The grammar: the first word, compared whole and case-insensitively, picks a subcommand
(SUBCOMMANDS); any other first word makes the whole text a search. `/papers search <words>`
searches the words whatever the first one is (`/papers search library learning`).
`recommend`, `library` and `export` take optional words; `saved` takes none and says how
to search instead of searching for "saved …".

Help is answered in the ack itself. Everything else acks at once (empty) and answers on
the response_url from a worker lane: searches from `answers`, the digest's subscription
commands from `slack_calls` (they call users.info and conversations.join).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.blocks import help_message, notice_message, safe_clip
from bot.feedback import Where
from bot.listeners import follows, library, team_library
from bot.listeners.failures import database_trouble
from bot.listeners.receipts import Receipt, settle
from bot.listeners.replies import database_down_message, respond_safely, search_reply, slack_text
from bot.listeners.workers import Workers
from bot.services import Services


@dataclass(frozen=True)
class Invocation:
    """One `/papers …`: the words (unescaped, whitespace collapsed) and where it came from."""

    text: str
    command: dict[str, Any]
    ack: Ack
    respond: Respond
    client: WebClient
    services: Services
    workers: Workers
    receipt: Receipt


Subcommand = Callable[[Invocation], None]


def register(app: App) -> None:
    app.command("/papers")(papers_command)
    app.action(team_library.LIBRARY_MORE_ACTION)(team_library.on_more)


def papers_command(
    ack: Ack, command: dict, respond: Respond, context: BoltContext, client: WebClient
) -> None:
    text = " ".join(slack_text(command.get("text") or "").split())
    call = Invocation(
        text, command, ack, respond, client, context["services"], context["workers"],
        context["receipt"],
    )
    first = text.split(" ", 1)[0].lower()
    SUBCOMMANDS.get(first, search)(call)


def show_help(call: Invocation) -> None:
    call.ack(response_type="ephemeral", **help_message())
    call.receipt.answered()


def search(call: Invocation) -> None:
    """The default: rank the library for the words and answer only to the requester."""
    call.ack()  # empty ack: the answer follows on the response_url
    if not call.workers.answers.submit(
        settle, call.receipt, answer_command, call.services, call.text, call.respond,
        _where(call),
    ):
        call.receipt.unanswered()


def _usage(call: Invocation, mrkdwn_text: str, fallback: str) -> None:
    """A grammar mistake, explained only to the requester in the ack itself."""
    call.ack(response_type="ephemeral", **notice_message(mrkdwn_text, fallback))
    call.receipt.answered()


def forced_search(call: Invocation) -> None:
    """`/papers search <words>`: a search of the words, even when the first one is a
    subcommand's."""
    words = _words(call)
    if not words:
        _usage(call, "`/papers search <words>` searches the papers for the words, even when "
               "the first one is a subcommand (`/papers search library learning`).",
               "/papers search <words>")
        return
    search(replace(call, text=words))


def _where(call: Invocation) -> Where:
    cmd = call.command
    return Where(cmd.get("team_id") or "", cmd.get("user_id") or "", cmd.get("channel_id") or "",
                 cmd.get("enterprise_id") or None)


def answer_command(services: Services, query: str, respond: Respond,
                   where: Where | None = None) -> bool:
    """Search and answer only to the requester (ephemeral, with a Share button, showing
    which of the papers they saved or hid)."""
    saved, hidden = library.viewer(services, where)
    reply = search_reply(services, query, ephemeral=True, saved=saved, hidden=hidden)
    return respond_safely(respond, response_type="ephemeral", **reply)


def recommend(call: Invocation) -> None:
    """`/papers recommend [words]`: private picks from the user's own signals."""
    words = call.text.split(" ", 1)[1] if " " in call.text else ""
    where = _where(call)
    call.ack()
    if not call.workers.answers.submit(
        settle, call.receipt, library.answer_list_command, call.services, call.respond, where,
        lambda: library.recommend_message(call.services, where, words, 0),
    ):
        call.receipt.unanswered()


def saved(call: Invocation) -> None:
    """`/papers saved`: the user's saves, newest first. It takes no words: `/papers saved
    <words>` says how to search for them instead of guessing which was meant."""
    if " " in call.text:
        typed = safe_clip(call.text, 200)
        _usage(call, "`/papers saved` lists the papers you saved and takes no words. To "
               f"search for these words, use `/papers search {typed}`.",
               "/papers saved takes no words")
        return
    where = _where(call)
    call.ack()
    if not call.workers.answers.submit(
        settle, call.receipt, library.answer_list_command, call.services, call.respond, where,
        lambda: library.saved_message(call.services, where, 0),
    ):
        call.receipt.unanswered()


def subscription(call: Invocation) -> None:
    """`subscribe|unsubscribe|subscriptions`: the digest's commands (bot/digest)."""
    from bot.digest import subscriptions  # the digest loads only when asked for

    if not subscriptions.is_subscription_command(call.text):
        search(call)
        return
    call.ack()
    if not call.workers.slack_calls.submit(settle, call.receipt, answer_subscription, call):
        call.receipt.unanswered()


def answer_subscription(call: Invocation) -> bool:
    from bot.digest import subscriptions
    from bot.digest.poster import SlackPoster

    cmd = call.command
    try:
        text = subscriptions.handle(
            call.services,
            SlackPoster(call.client),
            team_id=cmd.get("team_id") or "",
            channel_id=cmd.get("channel_id") or "",
            user_id=cmd.get("user_id") or "",
            text=call.text,
        )
    except SQLAlchemyError as exc:
        database_trouble(exc, "answering a subscription command")
        return respond_safely(call.respond, response_type="ephemeral", **database_down_message())
    return respond_safely(
        call.respond, response_type="ephemeral", **notice_message(text, text[:150])
    )


def _words(call: Invocation) -> str:
    return call.text.split(" ", 1)[1] if " " in call.text else ""


def team_library_list(call: Invocation) -> None:
    """`/papers library [words]`: the workspace's library, private, newest first (words
    search within it)."""
    team_library.library_command(call.services, call.workers, call.receipt, call.ack,
                                 call.respond, _where(call), _words(call))


def export(call: Invocation) -> None:
    """`/papers export [words]`: the library (or its matches) as a .bib in the user's DM."""
    team_library.export_command(call.services, call.workers, call.receipt, call.ack,
                                call.respond, call.client, _where(call), _words(call))


SUBCOMMANDS: dict[str, Subcommand] = {
    "": show_help,
    "help": show_help,
    "-h": show_help,
    "--help": show_help,
    "?": show_help,
    "subscribe": subscription,
    "unsubscribe": subscription,
    "subscriptions": subscription,
    "search": forced_search,
    "recommend": recommend,
    "saved": saved,
    "library": team_library_list,
    "export": export,
    "follow": follows.follow_command,
    "alert": follows.alert_command,
    "unfollow": follows.unfollow_command,
    "following": follows.following_command,
}
