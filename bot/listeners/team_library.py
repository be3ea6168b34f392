"""`/papers library [words]` and `/papers export [words]` in Slack (logic in
bot/team_library.py, BibTeX in bot/bibtex.py).

The library page is private (ephemeral) and shows each paper with its usual buttons and a
line saying who brought it in, where and when (a link to the message when it was shared).
Its More button has an action of its own (LIBRARY_MORE_ACTION) carrying the words and the
next offset. Export runs in the slack-calls lane: conversations.open with the user, then
files_upload_v2 of the .bib into that DM, then a private confirmation.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.exc import SQLAlchemyError

from bot import team_library
from bot.blocks import (
    MAX_CONTEXT_ELEMENT_TEXT,
    button,
    context,
    error_message,
    link_url,
    notice_message,
    page_value,
    paper_list_message,
    parse_page_value,
    safe_clip,
)
from bot.feedback import Where
from bot.listeners.failures import database_trouble
from bot.listeners.receipts import Receipt, settle
from bot.listeners.replies import database_down_message, respond_safely
from bot.listeners.workers import Workers
from bot.search.engine import QueryError
from bot.services import Services
from bot.slack_api import describe
from storage.library import LibraryEntry

log = logging.getLogger(__name__)

LIBRARY_MORE_ACTION = "team_library_more"
EXPORT_FILENAME = "paperbot-library.bib"
MISSING_SCOPE_HINT = ("PaperBot needs Slack's `files:write` permission to send files; "
                      "an admin needs to reinstall PaperBot.")
_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,20}$")


# --- the library page ---------------------------------------------------------------------


def provenance(entry: LibraryEntry | None) -> str | None:
    """"Shared by @who in #where · 2026-11-01" (the date links to the message): our own
    mrkdwn, ids only (Slack renders names for whoever reads it). A paper that joined by a
    Save says only "Saved by a teammate · date": a share was a message everyone saw, but a
    user's saves are never shown to another user (issue 10's privacy rule)."""
    if entry is None:
        return None
    day = entry.at.astimezone(UTC).date().isoformat()
    if entry.how != "link":
        return f"Saved by a teammate · {day}"
    if not entry.public:  # a DM or private channel: not who, where, nor a link (issue 17)
        return f"Shared by a teammate · {day}"
    verb = "Shared"
    url = link_url(entry.permalink)
    when = f"<{url}|{day}>" if url else day
    who = f"<@{entry.user_id}>" if _USER.match(entry.user_id) else "someone"
    # A DM is nobody else's business: only channels are named.
    where = f" in <#{entry.channel_id}>" if _CHANNEL.match(entry.channel_id) else ""
    return f"{verb} by {who}{where} · {when}"


def library_message(services: Services, where: Where, words: str, offset: int) -> dict:
    """One private page of the workspace's library (newest first, or ranked for words)."""
    limit = services.config.results_per_page
    try:
        page = team_library.library_page(services, where.team_id, where.user_id, words,
                                         offset=offset, limit=limit)
    except QueryError as exc:
        return error_message(str(exc))
    about = f" matching “{safe_clip(words, 200)}”" if words else ""
    if not page.papers:
        text = (f"No more papers in the team library{about}." if offset else
                f"Nothing in the team library{about} yet: papers join it when someone "
                "shares a paper link or clicks *Save*.")
        return notice_message(text, "Team library")
    heading = (f"Team library{about} · {offset + 1}–{offset + len(page.papers)} of "
               f"{page.total} · only you see this")
    msg = paper_list_message(
        heading, page.papers, kind="l", arg=words, offset=offset, has_more=False,
        ephemeral=True, saved=page.saved, fallback=f"Team library{' ' + words if words else ''}",
    )
    blocks: list[dict[str, Any]] = []
    for block in msg["blocks"]:
        blocks.append(block)
        bid = str(block.get("block_id") or "")
        if block.get("type") == "section" and bid.startswith("paper_"):
            rank = int(bid.split("_", 1)[1]) - offset - 1
            line = provenance(page.entries.get(page.papers[rank].id)) \
                if 0 <= rank < len(page.papers) else None
            if line:
                blocks.append(context(line[:MAX_CONTEXT_ELEMENT_TEXT]))
    more = page_value(words, offset + len(page.papers))
    if page.has_more and more:
        blocks.append({"type": "actions", "block_id": "library_paging",
                       "elements": [button("More", LIBRARY_MORE_ACTION, more)]})
    return {**msg, "blocks": blocks}


def answer_library(services: Services, respond: Respond, where: Where, words: str,
                   offset: int, replace: bool) -> bool:
    try:
        reply = library_message(services, where, words, offset)
    except SQLAlchemyError as exc:
        database_trouble(exc, "listing the team library")
        reply = database_down_message()
    if replace:
        return respond_safely(respond, replace_original=True, **reply)
    return respond_safely(respond, response_type="ephemeral", **reply)


def on_more(ack: Ack, action: dict, body: dict, respond: Respond, context: BoltContext) -> None:
    """More under the library page: the next page replaces it."""
    from bot.listeners.library import where_of

    ack()
    receipt: Receipt = context["receipt"]
    try:
        words, offset = parse_page_value(str(action.get("value", "")))
    except (ValueError, KeyError, TypeError):
        log.warning("library More button with a bad value ignored")
        receipt.answered()
        return
    channel = (body.get("channel") or {}).get("id") or \
        (body.get("container") or {}).get("channel_id")
    workers: Workers = context["workers"]
    if not workers.answers.submit(
        settle, receipt, answer_library, context["services"], respond,
        where_of(body, context, channel), words, offset, True,
    ):
        receipt.unanswered()


# --- export -------------------------------------------------------------------------------


def answer_export(services: Services, client: WebClient, respond: Respond, where: Where,
                  words: str) -> bool:
    """The library (or its matches for words) as a .bib file in the user's DM."""
    def tell(text: str, fallback: str) -> bool:
        return respond_safely(respond, response_type="ephemeral",
                              **notice_message(text, fallback))

    about = f" matching “{safe_clip(words, 200)}”" if words else ""
    try:
        papers = team_library.export_papers(services, where.team_id, words)
    except QueryError as exc:
        return respond_safely(respond, response_type="ephemeral", **error_message(str(exc)))
    except SQLAlchemyError as exc:
        database_trouble(exc, "exporting the team library")
        return respond_safely(respond, response_type="ephemeral", **database_down_message())
    if not papers:
        return tell(f"Nothing to export: no papers in the team library{about}.",
                    "Nothing to export")
    text = team_library.render(papers, "bibtex")
    n = len(papers)
    count = f"{n} paper{'s' if n != 1 else ''}"
    try:
        opened = client.conversations_open(users=where.user_id)
        dm = (opened.get("channel") or {}).get("id")
        if not dm:
            raise SlackClientError("conversations.open returned no channel")
        client.files_upload_v2(
            channel=dm, filename=EXPORT_FILENAME, content=text.encode("utf-8"),
            title=f"PaperBot team library{' – ' + words[:80] if words else ''}",
            initial_comment=f"The team library{about} as BibTeX: {count}.",
        )
    except (SlackApiError, SlackClientError, OSError) as exc:
        failure = describe(exc) if isinstance(exc, SlackApiError) else describe(OSError())
        log.warning("export upload failed: %s", failure.code)
        # files:write is new with export: a workspace installed before it lacks the scope.
        hint = MISSING_SCOPE_HINT if failure.code == "missing_scope" else failure.hint
        return respond_safely(respond, response_type="ephemeral", **error_message(
            f"I could not send you the file: {hint}"))
    return tell(f"Sent you {count}{about} as BibTeX (`{EXPORT_FILENAME}`) in our DM.",
                "Export sent")


# --- the subcommands (called from bot/listeners/commands.py's table) ------------------------


def library_command(services: Services, workers: Workers, receipt: Receipt, ack: Ack,
                    respond: Respond, where: Where, words: str) -> None:
    ack()
    if not workers.answers.submit(settle, receipt, answer_library, services, respond, where,
                                  words, 0, False):
        receipt.unanswered()


def export_command(services: Services, workers: Workers, receipt: Receipt, ack: Ack,
                   respond: Respond, client: WebClient, where: Where, words: str) -> None:
    ack()
    if not workers.slack_calls.submit(settle, receipt, answer_export, services, client,
                                      respond, where, words):
        receipt.unanswered()
