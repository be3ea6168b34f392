"""`/papers follow|unfollow|alert|following` and the Remove buttons of the listing.

Thin: each acks at once (empty) and answers on the response_url from the answers lane
(a few small queries); the words and the rules are in bot/follows/commands.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from slack_bolt import Ack, App, BoltContext, Respond
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.blocks import FOLLOW_REMOVE_ACTION, following_message, notice_message
from bot.follows import commands as rules
from bot.listeners.actions import paper_id_of
from bot.listeners.failures import database_trouble
from bot.listeners.receipts import Receipt, settle
from bot.listeners.replies import database_down_message, respond_safely
from bot.services import Services
from storage import follows as repo

if TYPE_CHECKING:
    from bot.listeners.commands import Invocation

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.action(FOLLOW_REMOVE_ACTION)(on_remove)


def _who(call: Invocation) -> rules.Who:
    cmd = call.command
    return rules.Who(cmd.get("team_id") or "", cmd.get("user_id") or "",
                     cmd.get("channel_id") or "", cmd.get("enterprise_id") or None)


def _words(call: Invocation) -> str:
    return call.text.split(" ", 1)[1] if " " in call.text else ""


def _submit(call: Invocation, fn: Callable[..., bool], *args: object) -> None:
    call.ack()
    if not call.workers.answers.submit(settle, call.receipt, fn, *args):
        call.receipt.unanswered()


def follow_command(call: Invocation) -> None:
    _submit(call, answer_change, call.services, call.respond,
            lambda s: rules.follow(s, _who(call), _words(call), kind=repo.AUTHOR))


def alert_command(call: Invocation) -> None:
    _submit(call, answer_change, call.services, call.respond,
            lambda s: rules.follow(s, _who(call), _words(call), kind=repo.ALERT))


def unfollow_command(call: Invocation) -> None:
    _submit(call, answer_change, call.services, call.respond,
            lambda s: rules.unfollow(s, _who(call), _words(call)))


def following_command(call: Invocation) -> None:
    _submit(call, answer_listing, call.services, call.respond, _who(call), None)


def answer_change(services: Services, respond: Respond, change: Callable[[Session], str]) -> bool:
    try:
        with services.db.session() as s:
            text = change(s)
    except SQLAlchemyError as exc:
        database_trouble(exc, "changing a follow")
        return respond_safely(respond, response_type="ephemeral", **database_down_message())
    return respond_safely(respond, response_type="ephemeral",
                          **notice_message(text, text[:150]))


def listing_message(services: Services, who: rules.Who, note: str | None = None) -> dict:
    with services.db.session() as s:
        rows = repo.listing(s, who.team_id, who.user_id, who.channel_id)
    mine = [(f.id, rules.describe(f)) for f in rows if f.scope == repo.USER]
    here = [(f.id, rules.describe(f)) for f in rows if f.scope == repo.CHANNEL]
    return following_message(mine, here, note=note)


def answer_listing(services: Services, respond: Respond, who: rules.Who, note: str | None,
                   replace_original: bool = False) -> bool:
    try:
        msg = listing_message(services, who, note)
    except SQLAlchemyError as exc:
        database_trouble(exc, "listing follows")
        return respond_safely(respond, response_type="ephemeral", replace_original=False,
                              **database_down_message())
    return respond_safely(respond, response_type="ephemeral",
                          replace_original=replace_original, **msg)


def on_remove(ack: Ack, action: dict, body: dict, respond: Respond,
              context: BoltContext) -> None:
    """Remove one follow (the clicker's own, or the channel's the listing was asked in)
    and show the listing again in place of the old one."""
    ack()
    receipt: Receipt = context["receipt"]
    container = body.get("container") or {}
    who = rules.Who(
        context.team_id or (body.get("team") or {}).get("id") or "",
        (body.get("user") or {}).get("id") or "",
        (body.get("channel") or {}).get("id") or container.get("channel_id") or "",
    )
    follow_id = paper_id_of(str(action.get("value", "")))  # a positive 64-bit id, or None
    if not context["workers"].answers.submit(
        settle, receipt, answer_remove, context["services"], respond, who, follow_id
    ):
        receipt.unanswered()


def answer_remove(services: Services, respond: Respond, who: rules.Who,
                  follow_id: int | None) -> bool:
    gone = None
    if follow_id is not None:
        try:
            with services.db.session() as s:
                gone = repo.remove_by_id(s, who.team_id, follow_id, user_id=who.user_id,
                                         channel_id=who.channel_id)
        except SQLAlchemyError as exc:
            database_trouble(exc, "removing a follow")
            return respond_safely(respond, response_type="ephemeral", replace_original=False,
                                  **database_down_message())
    note = f"Removed: {rules.describe(gone)}" if gone else "That one was already removed."
    return answer_listing(services, respond, who, note, replace_original=True)
