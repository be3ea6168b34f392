"""Buttons: Abstract (in the message's thread), More results, Share in channel; the feedback
buttons (Save, More like this, Not for us, list paging) live in library.py."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot import feedback
from bot.blocks import (
    ABSTRACT_ACTION,
    HIDE_ACTION,
    LIST_MORE_ACTION,
    MORE_ACTION,
    SAVE_ACTION,
    SHARE_ACTION,
    SIMILAR_ACTION,
    abstract_message,
    error_message,
    parse_page_value,
)
from bot.listeners import library
from bot.listeners.failures import database_trouble
from bot.listeners.receipts import Receipt, settle
from bot.listeners.replies import (
    database_down_message,
    post_message,
    respond_safely,
    search_reply,
)
from bot.listeners.workers import Workers
from bot.services import Services
from storage.papers import get_paper

log = logging.getLogger(__name__)

MAX_PAPER_ID = 2**63 - 1  # ids are 64-bit integers in every backend
GONE = "That paper is no longer in the library."


def register(app: App) -> None:
    app.action(re.compile(rf"^{ABSTRACT_ACTION}_\d+$"))(on_abstract)
    app.action(MORE_ACTION)(on_more)
    app.action(SHARE_ACTION)(on_share)
    app.action(SAVE_ACTION)(library.on_save)
    app.action(SIMILAR_ACTION)(library.on_similar)
    app.action(HIDE_ACTION)(library.on_hide)
    app.action(LIST_MORE_ACTION)(library.on_list_more)


def paper_id_of(value: str) -> int | None:
    """The paper id a button carries, or None unless it is a positive 64-bit integer
    (a forged huge value would otherwise overflow the database driver)."""
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    paper_id = int(value)
    return paper_id if 0 < paper_id <= MAX_PAPER_ID else None


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
    receipt: Receipt = context["receipt"]
    paper_id = paper_id_of(str(action.get("value", "")))
    workers: Workers = context["workers"]
    if paper_id is None:
        log.warning("Abstract button with a bad value: answered as a missing paper")
        if not workers.answers.submit(settle, receipt, tell_gone, respond):
            receipt.unanswered()
        return
    channel, thread_ts = _thread_of(body)
    team = context.team_id or (body.get("team") or {}).get("id") or ""
    if not workers.answers.submit(
        answer_abstract, context["services"], workers, client, respond, receipt, paper_id,
        channel, thread_ts, team,
    ):
        receipt.unanswered()


def tell_gone(respond: Respond) -> bool:
    return respond_safely(
        respond, response_type="ephemeral", replace_original=False, **error_message(GONE)
    )


def answer_abstract(
    services: Services, workers: Workers, client: WebClient, respond: Respond,
    receipt: Receipt, paper_id: int, channel: str | None, thread_ts: str | None,
    team_id: str = "",
) -> None:
    """In the thread of the message when there is one (a Web API call, on the slack_calls
    lane); else, or when that fails, only to the clicker on the response_url."""
    try:
        with services.db.session() as s:
            paper = get_paper(s, paper_id)
    except SQLAlchemyError as exc:
        database_trouble(exc, "loading an abstract")
        settle(receipt, respond_safely, respond, response_type="ephemeral",
               replace_original=False, **database_down_message())
        return
    if paper is None:
        settle(receipt, tell_gone, respond)
        return
    message = abstract_message(paper)
    if channel and thread_ts:
        remember = library.remember_one_paper(services, team_id, paper.id, "abstract")
        if not workers.slack_calls.submit(
            post_abstract, client, respond, receipt, channel, thread_ts, paper, remember
        ):
            receipt.unanswered()
        return
    settle(receipt, respond_safely, respond, response_type="ephemeral",
           replace_original=False, **message)


def post_abstract(
    client: WebClient, respond: Respond, receipt: Receipt, channel: str, thread_ts: str,
    paper: Any, on_posted: Any = None,
) -> None:
    """The abstract in the thread; reactions on it are then feedback on the paper."""
    failure = post_message(client, channel, thread_ts=thread_ts, on_posted=on_posted,
                           **abstract_message(paper))
    if failure is None:
        receipt.answered()
        return
    settle(receipt, respond_safely, respond, response_type="ephemeral", replace_original=False,
           **abstract_message(paper, note=failure.hint))


def on_more(ack: Ack, action: dict, body: dict, respond: Respond, context: BoltContext) -> None:
    ack()
    try:
        query, offset = parse_page_value(action.get("value", ""))
    except (ValueError, KeyError, TypeError):
        log.warning("More button with a bad value ignored")
        context["receipt"].answered()
        return
    ephemeral = bool((body.get("container") or {}).get("is_ephemeral"))
    where = library.where_of(body, context, None)
    if not context["workers"].answers.submit(
        settle, context["receipt"], answer_more, context["services"], respond, query, offset,
        ephemeral, where,
    ):
        context["receipt"].unanswered()


def answer_more(
    services: Services, respond: Respond, query: str, offset: int, ephemeral: bool,
    where: feedback.Where | None = None,
) -> bool:
    """The next page replaces the message it was asked from (a private page shows the
    clicker's saves and hides)."""
    saved, hidden = library.viewer(services, where) if ephemeral else (set(), set())
    reply = search_reply(services, query, offset=offset, ephemeral=ephemeral, saved=saved,
                         hidden=hidden)
    return respond_safely(respond, replace_original=True, **reply)


def on_share(ack: Ack, action: dict, body: dict, respond: Respond, context: BoltContext) -> None:
    ack()
    try:
        query, offset = parse_page_value(action.get("value", ""))
    except (ValueError, KeyError, TypeError):
        log.warning("Share button with a bad value ignored")
        context["receipt"].answered()
        return
    user = (body.get("user") or {}).get("id")
    if not context["workers"].answers.submit(
        settle, context["receipt"], answer_share, context["services"], respond, query, offset,
        user,
    ):
        context["receipt"].unanswered()


def answer_share(
    services: Services, respond: Respond, query: str, offset: int, user: str | None
) -> bool:
    """Post the same page for everyone (response_url works without channel membership)."""
    reply = search_reply(services, query, offset=offset, ephemeral=False, shared_by=user)
    if respond_safely(respond, response_type="in_channel", replace_original=False, **reply):
        respond_safely(respond, delete_original=True)
        return True
    return False
