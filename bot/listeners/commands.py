"""`/papers`: ack at once, answer on the response_url from a background thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.blocks import help_message, notice_message
from bot.listeners import respond_safely, search_reply
from bot.services import Services

SUBCOMMANDS = ("subscribe", "unsubscribe", "subscriptions")


def register(app: App) -> None:
    app.command("/papers")(papers_command)


def papers_command(ack: Ack, command: dict, respond: Respond, context: dict) -> None:
    query = " ".join((command.get("text") or "").split())
    first = query.split(" ", 1)[0].lower()
    if not query or first in ("help", "-h", "--help", "?"):
        ack(response_type="ephemeral", **help_message())
        return
    if first in SUBCOMMANDS:
        # Only reached when the digest's own listener is not installed.
        ack(
            response_type="ephemeral",
            **notice_message(
                "Channel digests are not available on this PaperBot yet.",
                "Channel digests are not available yet.",
            ),
        )
        return
    ack()  # empty ack: the answer follows on the response_url within a second or so
    background: Callable[..., Any] = context["background"]
    background(answer_command, context["services"], query, respond)


def answer_command(services: Services, query: str, respond: Respond) -> None:
    """Search and answer only to the requester (ephemeral, with a Share button)."""
    reply = search_reply(services, query, ephemeral=True)
    respond_safely(respond, response_type="ephemeral", **reply)
