"""The personal library in Slack: Save, More like this, Not for us, reactions, and the
`/papers recommend` and `/papers saved` lists (application logic in bot/feedback.py).

Privacy: a user's saves and hides show only on that user's own ephemeral answers. A click
on a channel message (a mention answer, a digest reply) never edits that message, which
everyone sees: the clicker gets a private notice with the paper's buttons in their new
state. A click on an ephemeral answer re-renders it for the clicker: Slack sends no copy of
ephemeral messages, so each paper's actions block_id carries what the page showed
(bot.blocks.view_token); a page whose query is too long for a block_id gets the notice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot import feedback
from bot.blocks import (
    error_message,
    feedback_notice,
    notice_message,
    paper_list_message,
    parse_list_value,
    parse_view,
    safe_clip,
    title_link,
)
from bot.feedback import PaperList, Where
from bot.listeners import home
from bot.listeners.failures import DATABASE_DOWN, database_trouble
from bot.listeners.receipts import Receipt, settle
from bot.listeners.replies import database_down_message, post_message, respond_safely
from bot.listeners.workers import Workers
from bot.services import Services
from bot.slack_api import Kind, describe

log = logging.getLogger(__name__)

GONE = "That paper is no longer in the library."
UNAVAILABLE = "PaperBot could not make this list just now; please try again in a minute."
MAX_PAPER_ID = 2**63 - 1


def paper_id_of(value: str) -> int | None:
    """The paper id a button carries, or None unless it is a positive 64-bit integer."""
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    paper_id = int(value)
    return paper_id if 0 < paper_id <= MAX_PAPER_ID else None


def where_of(body: dict, context: BoltContext, channel: str | None) -> Where:
    """The clicker, their workspace and the channel of the click."""
    team = context.team_id or (body.get("team") or {}).get("id") or body.get("team_id") or ""
    user = (body.get("user") or {}).get("id") or body.get("user_id") or ""
    return Where(team, user, channel or "", context.enterprise_id)


def _thread_of(body: dict) -> tuple[str | None, str | None, bool]:
    """(channel, thread_ts, ephemeral) of the clicked message."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    message = body.get("message")
    if container.get("is_ephemeral") or not message:
        return channel, None, True
    return channel, message.get("thread_ts") or message.get("ts"), False


def _db_down(respond: Respond, where: str, exc: SQLAlchemyError) -> bool:
    database_trouble(exc, where)
    return respond_safely(respond, response_type="ephemeral", replace_original=False,
                          **database_down_message())


def _gone(respond: Respond) -> bool:
    return respond_safely(respond, response_type="ephemeral", replace_original=False,
                          **error_message(GONE))


def viewer(services: Services, where: Where | None) -> tuple[set[int], set[int]]:
    """The viewer's saves and hides for their private page; none when unknown or the
    database is down (the search answer then says what is wrong)."""
    if where is None or not where.user_id:
        return set(), set()
    try:
        return feedback.viewer_state(services, where.team_id, where.user_id)
    except SQLAlchemyError:
        return set(), set()


# --- lists ---------------------------------------------------------------------------------


def _range(page: PaperList) -> str:
    return f"{page.offset + 1}–{page.offset + len(page.papers)}"


def recommend_message(services: Services, where: Where, words: str, offset: int) -> dict:
    """`/papers recommend [words]`, private: picks from this user's own signals."""
    limit = services.config.results_per_page
    page = feedback.recommend_page(services, where.team_id, where.user_id, words,
                                   offset=offset, limit=limit, channel_id=where.channel_id)
    about = f" about “{safe_clip(words, 200)}”" if words else ""
    if not page.papers:
        text = (f"No more recommendations{about}." if offset else
                f"Nothing to recommend{about} yet: *Save* papers or react 👍 to them, and "
                "PaperBot learns what you like.")
        return notice_message(text, "No recommendations")
    heading = f"Recommended for you{about} · {_range(page)} · only you see this"
    return paper_list_message(
        heading, page.papers, kind="r", arg=words, offset=offset, has_more=page.has_more,
        ephemeral=True, saved=page.saved, why=page.why,
        fallback=f"Recommended for you{' about ' + words if words else ''}",
    )


def saved_message(services: Services, where: Where, offset: int) -> dict:
    """`/papers saved`, private: this user's saves, newest first."""
    limit = services.config.results_per_page
    page = feedback.saved_page(services, where.team_id, where.user_id, offset=offset,
                               limit=limit)
    if not page.papers:
        text = ("No more saved papers." if offset else
                "You have not saved any papers yet: click *Save* under a paper.")
        return notice_message(text, "No saved papers")
    return paper_list_message(
        f"Your saved papers · {_range(page)} · only you see this", page.papers, kind="v",
        arg="", offset=offset, has_more=page.has_more, ephemeral=True, saved=page.saved,
        fallback="Your saved papers",
    )


def similar_message(services: Services, where: Where, paper_id: int, offset: int, *,
                    private: bool) -> dict | None:
    """More like this; None when the paper is gone. A private answer leaves out the
    clicker's hidden papers; a channel one uses nobody's choices."""
    limit = services.config.results_per_page
    seed, page = feedback.similar_page(
        services, where.team_id, where.user_id if private else None, paper_id,
        offset=offset, limit=limit,
    )
    if seed is None:
        return None
    if not page.papers:
        return notice_message(f"No{' more' if offset else ''} papers like {title_link(seed)}.",
                              "No similar papers")
    heading = f"More like {title_link(seed, 200)} · {_range(page)}"
    return paper_list_message(
        heading, page.papers, kind="m", arg=paper_id, offset=offset, has_more=page.has_more,
        ephemeral=private, saved=page.saved, why=page.why,
        fallback=f"More like {seed.title[:150]}",
    )


def _rerender(services: Services, where: Where, view: tuple[str, int, Any],
              paper_id: int) -> dict | None:
    """The clicker's private page as it is now (their saves and hides applied)."""
    from bot.listeners.replies import search_reply

    kind, offset, arg = view
    if kind == "s":
        saved, hidden = feedback.viewer_state(services, where.team_id, where.user_id)
        return search_reply(services, str(arg), offset=offset, ephemeral=True, saved=saved,
                            hidden=hidden)
    if kind == "r":
        return recommend_message(services, where, str(arg), offset)
    if kind == "v":
        return saved_message(services, where, offset)
    if kind == "m" and isinstance(arg, int):
        return similar_message(services, where, arg, offset, private=True)
    return _notice(services, where, paper_id)


def _notice(services: Services, where: Where, paper_id: int) -> dict | None:
    paper = feedback.get(services, paper_id)
    if paper is None:
        return None
    is_saved, is_hidden = feedback.choice_state(services, where, paper_id)
    if is_hidden:
        text = "*Not for us ✓* PaperBot won't recommend it to you:"
    elif is_saved:
        text = "*Saved ✓* (`/papers saved` lists them):"
    else:
        text = "Not saved:"
    return feedback_notice(paper, text, saved=is_saved, hidden=is_hidden)


# --- clicks ----------------------------------------------------------------------------


def on_save(ack: Ack, action: dict, body: dict, respond: Respond, context: BoltContext,
            client: WebClient) -> None:
    _choose(ack, body, respond, context, str(action.get("value", "")), None, action, client)


def on_hide(ack: Ack, action: dict, body: dict, respond: Respond, context: BoltContext,
            client: WebClient) -> None:
    """The overflow's "Not for us" / "Undo Not for us", or the "Undo" button."""
    value = str((action.get("selected_option") or {}).get("value") or action.get("value") or "")
    verb, _, raw = value.partition(":")
    hidden = {"hide": True, "unhide": False}.get(verb)
    _choose(ack, body, respond, context, raw if hidden is not None else "", hidden, action,
            client)


def in_home(body: dict) -> bool:
    """A click inside the App Home view: no message, no response_url to answer on."""
    return ((body.get("container") or {}).get("type") == "view"
            and (body.get("view") or {}).get("type") == "home")


def _choose(ack: Ack, body: dict, respond: Respond, context: BoltContext, raw_id: str,
            hidden: bool | None, action: dict, client: WebClient | None = None) -> None:
    """Save / Not for us: the choice is stored here, on the request thread, before the ack
    (one short transaction on one user's row for one paper), so a click Slack saw
    acknowledged is never lost; only the answer (the page re-rendered, a private notice,
    the Home tab re-published) goes to a lane. When that lane is full the choice still
    stands: the user just does not see it re-rendered."""
    receipt: Receipt = context["receipt"]
    workers: Workers = context["workers"]
    services: Services = context["services"]
    paper_id = paper_id_of(raw_id)
    if paper_id is None:
        ack()
        log.warning("feedback click with a bad value: answered as a missing paper")
        if not workers.answers.submit(settle, receipt, _gone, respond):
            receipt.unanswered()
        return
    home_tab = client is not None and in_home(body)
    channel, _, ephemeral = _thread_of(body)
    where = where_of(body, context, None if home_tab else channel)
    try:
        state = record_choice(services, where, paper_id, hidden)
    except SQLAlchemyError as exc:
        ack()
        _choice_failed(workers, client, respond, receipt, where, exc, home_tab)
        return
    ack()
    if home_tab:  # a paper gone meanwhile: the re-published page no longer shows it
        assert client is not None
        submitted = workers.slack_calls.submit(home.publish_home, services, client, receipt,
                                               where)
    else:
        view = parse_view(str(action.get("block_id") or "")) if ephemeral else None
        submitted = workers.answers.submit(answer_choice, services, respond, receipt, where,
                                           paper_id, state, view)
    if not submitted:
        receipt.answered()  # stored: a copy of this click must not toggle it back


def record_choice(services: Services, where: Where, paper_id: int,
                  hidden: bool | None) -> bool | None:
    """Store one click (hidden None: toggle the save); its new state, None: no such paper."""
    if hidden is None:
        return feedback.toggle_save(services, where, paper_id)
    return feedback.set_hide(services, where, paper_id, hidden)


def _choice_failed(workers: Workers, client: WebClient | None, respond: Respond,
                   receipt: Receipt, where: Where, exc: SQLAlchemyError, home_tab: bool) -> None:
    """Nothing was stored: tell the clicker (a retry of the click may try again)."""
    if home_tab and client is not None:
        database_trouble(exc, "recording feedback from the App Home")
        submitted = workers.slack_calls.submit(home.publish_notice, client, receipt,
                                               where.user_id, DATABASE_DOWN)
    else:
        submitted = workers.answers.submit(settle, receipt, _db_down, respond,
                                           "recording feedback", exc)
    if not submitted:
        receipt.unanswered()


def answer_choice(services: Services, respond: Respond, receipt: Receipt, where: Where,
                  paper_id: int, state: bool | None,
                  view: tuple[str, int, Any] | None) -> None:
    """Show a stored choice to the clicker only: their private page re-rendered in place,
    else a private notice. The receipt is answered whatever happens here: the choice is
    recorded, and a copy of the click answered again would toggle it back."""
    try:
        _show_choice(services, respond, where, paper_id, state, view)
    finally:
        receipt.answered()


def _show_choice(services: Services, respond: Respond, where: Where, paper_id: int,
                 state: bool | None, view: tuple[str, int, Any] | None) -> bool:
    if state is None:
        return _gone(respond)
    try:
        if view is not None:
            page = _rerender(services, where, view, paper_id)
            if page is not None:
                return respond_safely(respond, replace_original=True, **page)
        notice = _notice(services, where, paper_id)
    except SQLAlchemyError as exc:
        return _db_down(respond, "showing your choice", exc)
    if notice is None:
        return _gone(respond)
    return respond_safely(respond, response_type="ephemeral", replace_original=False, **notice)


def on_similar(ack: Ack, action: dict, body: dict, respond: Respond, context: BoltContext,
               client: WebClient) -> None:
    ack()
    receipt: Receipt = context["receipt"]
    workers: Workers = context["workers"]
    paper_id = paper_id_of(str(action.get("value", "")))
    if paper_id is None:
        log.warning("More like this with a bad value: answered as a missing paper")
        if not workers.answers.submit(settle, receipt, _gone, respond):
            receipt.unanswered()
        return
    if in_home(body):
        if not workers.answers.submit(
            answer_similar_home, context["services"], workers, client, receipt,
            where_of(body, context, None), paper_id,
        ):
            receipt.unanswered()
        return
    channel, thread_ts, ephemeral = _thread_of(body)
    if not workers.answers.submit(
        answer_similar, context["services"], workers, client, respond, receipt,
        where_of(body, context, channel), paper_id, thread_ts if not ephemeral else None,
    ):
        receipt.unanswered()


def answer_similar(services: Services, workers: Workers, client: WebClient, respond: Respond,
                   receipt: Receipt, where: Where, paper_id: int, thread_ts: str | None) -> None:
    """Private answers stay private (to the clicker); a channel message's go in its thread."""
    try:
        reply = similar_message(services, where, paper_id, 0, private=thread_ts is None)
    except SQLAlchemyError as exc:
        settle(receipt, _db_down, respond, "finding similar papers", exc)
        return
    if reply is None:
        settle(receipt, _gone, respond)
        return
    if thread_ts is None or not where.channel_id:
        settle(receipt, respond_safely, respond, response_type="ephemeral",
               replace_original=False, **reply)
        return
    if not workers.slack_calls.submit(
        post_in_thread, client, respond, receipt, where.channel_id, thread_ts, reply
    ):
        receipt.unanswered()


def post_in_thread(client: WebClient, respond: Respond, receipt: Receipt, channel: str,
                   thread_ts: str, reply: dict) -> None:
    failure = post_message(client, channel, thread_ts=thread_ts, **reply)
    if failure is None:
        receipt.answered()
        return
    note = notice_message(failure.hint, "PaperBot could not post here")
    settle(receipt, respond_safely, respond, response_type="ephemeral", replace_original=False,
           text=reply["text"], blocks=note["blocks"] + reply["blocks"][:48])


# --- clicks in the App Home tab -----------------------------------------------------------


def answer_similar_home(services: Services, workers: Workers, client: WebClient,
                        receipt: Receipt, where: Where, paper_id: int) -> None:
    """More like this in the Home tab: the list goes to the user in a DM with the bot.
    (Not a modal: views.open needs the click's trigger_id within 3 s, which a busy lane
    or a slow recommender would miss; a DM has no deadline and keeps the list.)"""
    try:
        reply = similar_message(services, where, paper_id, 0, private=True)
    except SQLAlchemyError as exc:
        database_trouble(exc, "finding similar papers for the App Home")
        reply = database_down_message()
    if reply is None:
        reply = error_message(GONE)
    if not workers.slack_calls.submit(send_dm, client, receipt, where.user_id, reply):
        receipt.unanswered()


def send_dm(client: WebClient, receipt: Receipt, user_id: str, reply: dict) -> None:
    """Post `reply` in the user's DM with the bot (conversations.open, then post)."""
    try:
        channel = str(client.conversations_open(users=user_id)["channel"]["id"])
    except Exception as exc:  # SlackApiError or the network
        failure = describe(exc)
        log.warning("conversations.open for a DM failed: %s", failure.code)
        if failure.kind is Kind.TRANSIENT:
            receipt.unanswered()
        else:
            receipt.answered()
        return
    failure = post_message(client, channel, **reply)
    if failure is not None and failure.kind is Kind.TRANSIENT:
        receipt.unanswered()
    else:
        receipt.answered()


def on_list_more(ack: Ack, action: dict, body: dict, respond: Respond,
                 context: BoltContext) -> None:
    """More under a personal list: the next page replaces the page it was asked from."""
    ack()
    try:
        kind, arg, offset = parse_list_value(str(action.get("value", "")))
    except (ValueError, KeyError, TypeError):
        log.warning("list More button with a bad value ignored")
        context["receipt"].answered()
        return
    channel, _, ephemeral = _thread_of(body)
    if not context["workers"].answers.submit(
        settle, context["receipt"], answer_list_more, context["services"], respond,
        where_of(body, context, channel), kind, arg, offset, ephemeral,
    ):
        context["receipt"].unanswered()


def answer_list_more(services: Services, respond: Respond, where: Where, kind: str,
                     arg: str | int, offset: int, ephemeral: bool) -> bool:
    try:
        if kind == "r":
            page = recommend_message(services, where, str(arg), offset)
        elif kind == "v":
            page = saved_message(services, where, offset)
        else:
            pid = paper_id_of(str(arg))
            page = similar_message(services, where, pid, offset, private=ephemeral) if pid \
                else None
    except SQLAlchemyError as exc:
        return _db_down(respond, "paging a list", exc)
    if page is None:
        return _gone(respond)
    return respond_safely(respond, replace_original=True, **page)


# --- commands --------------------------------------------------------------------------


def answer_list_command(services: Services, respond: Respond, where: Where,
                        build: Callable[[], dict]) -> bool:
    """`/papers recommend` and `/papers saved`: private, with the database-outage answer."""
    try:
        reply = build()
    except SQLAlchemyError as exc:
        database_trouble(exc, "answering a list command")
        reply = database_down_message()
    except Exception:  # a recommender bug: the user still gets an answer, the log the trace
        log.exception("list command failed")
        reply = error_message(UNAVAILABLE)
    return respond_safely(respond, response_type="ephemeral", **reply)


# --- reactions -------------------------------------------------------------------------


def on_reaction(event: dict, body: dict, context: BoltContext) -> None:
    """reaction_added / reaction_removed on one of our one-paper messages: a signal from
    that user in that channel (or its take-back). Anything else is ignored. Recorded here,
    on the request thread (two short statements), not in a lane: a full lane would lose it."""
    receipt: Receipt = context["receipt"]
    item = event.get("item") or {}
    user = event.get("user") or ""
    if (item.get("type") != "message" or not item.get("channel") or not item.get("ts")
            or not user or user == context.bot_user_id):
        receipt.answered()
        return
    team = context.team_id or body.get("team_id") or ""
    where = Where(team, user, item["channel"], context.enterprise_id)
    added = event.get("type") == "reaction_added"
    record_reaction(context["services"], receipt, where, str(item["ts"]),
                    str(event.get("reaction") or ""), added)


def record_reaction(services: Services, receipt: Receipt, where: Where, ts: str,
                    reaction: str, added: bool) -> None:
    try:
        feedback.react(services, where, ts, reaction, added)
    except SQLAlchemyError as exc:
        database_trouble(exc, "recording a reaction")
        receipt.unanswered()  # Slack's retry may record it
        return
    receipt.answered()


def remember_one_paper(services: Services, team_id: str, paper_id: int | None,
                       kind: str) -> Callable[[str, str], None] | None:
    """An on_posted hook for post_message: map a posted one-paper message to its paper."""
    if paper_id is None or not team_id:
        return None

    def hook(channel: str, ts: str) -> None:
        feedback.remember(services, team_id, channel, ts, paper_id, kind)

    return hook
