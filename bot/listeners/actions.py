"""Buttons: Abstract (in the message's thread), More results, Share in channel."""

from __future__ import annotations

import logging
import re

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks import (
    ABSTRACT_ACTION,
    MORE_ACTION,
    SHARE_ACTION,
    abstract_message,
    error_message,
    parse_page_value,
    slack_error_hint,
)
from bot.listeners import post_message, respond_safely, search_reply
from bot.services import Services
from storage.papers import get_paper

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.action(re.compile(rf"^{ABSTRACT_ACTION}_\d+$"))(on_abstract)
    app.action(MORE_ACTION)(on_more)
    app.action(SHARE_ACTION)(on_share)


def _thread_of(body: dict) -> tuple[str | None, str | None]:
    """(channel, thread_ts) of the clicked message; (channel, None) for ephemeral ones."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    message = body.get("message")
    if container.get("is_ephemeral") or not message:
        return channel, None
    return channel, message.get("thread_ts") or message.get("ts")


def on_abstract(ack: Ack, action: dict, body: dict, respond: Respond, context: BoltContext,
                client: WebClient) -> None:
    ack()
    try:
        paper_id = int(action.get("value", ""))
    except ValueError:
        log.warning("Abstract button with a bad value ignored")
        return
    channel, thread_ts = _thread_of(body)
    context["background"](
        answer_abstract, context["services"], client, respond, paper_id, channel, thread_ts
    )


def answer_abstract(
    services: Services, client: WebClient, respond: Respond, paper_id: int,
    channel: str | None, thread_ts: str | None,
) -> None:
    """In the thread of the message when there is one; else only to the clicker."""
    with services.db.session() as s:
        paper = get_paper(s, paper_id)
    if paper is None:
        respond_safely(
            respond, response_type="ephemeral", replace_original=False,
            **error_message("That paper is no longer in the library."),
        )
        return
    if channel and thread_ts:
        error = post_message(client, channel, thread_ts=thread_ts, **abstract_message(paper))
        if not error:
            return
        note = slack_error_hint(error)
    else:
        note = None
    respond_safely(
        respond, response_type="ephemeral", replace_original=False,
        **abstract_message(paper, note=note),
    )


def on_more(ack: Ack, action: dict, body: dict, respond: Respond, context: BoltContext) -> None:
    ack()
    try:
        query, offset = parse_page_value(action.get("value", ""))
    except (ValueError, KeyError, TypeError):
        log.warning("More button with a bad value ignored")
        return
    ephemeral = bool((body.get("container") or {}).get("is_ephemeral"))
    context["background"](answer_more, context["services"], respond, query, offset, ephemeral)


def answer_more(
    services: Services, respond: Respond, query: str, offset: int, ephemeral: bool
) -> None:
    """The next page replaces the message it was asked from."""
    reply = search_reply(services, query, offset=offset, ephemeral=ephemeral)
    respond_safely(respond, replace_original=True, **reply)


def on_share(ack: Ack, action: dict, body: dict, respond: Respond, context: BoltContext) -> None:
    ack()
    try:
        query, offset = parse_page_value(action.get("value", ""))
    except (ValueError, KeyError, TypeError):
        log.warning("Share button with a bad value ignored")
        return
    user = (body.get("user") or {}).get("id")
    context["background"](answer_share, context["services"], respond, query, offset, user)


def answer_share(
    services: Services, respond: Respond, query: str, offset: int, user: str | None
) -> None:
    """Post the same page for everyone (response_url works without channel membership)."""
    reply = search_reply(services, query, offset=offset, ephemeral=False, shared_by=user)
    if respond_safely(respond, response_type="in_channel", replace_original=False, **reply):
        respond_safely(respond, delete_original=True)
