"""Slack listeners, grouped by surface, plus the plain functions they call.

Registration order matters: Bolt runs the first listener that matches. Events and actions
come first; the digest's `/papers subscribe…` listener (subscriptions, registered with a
matcher on the first word) comes before the general `/papers` search listener.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import (
    Paging,
    error_message,
    no_results_message,
    notice_message,
    results_message,
    slack_error_hint,
)
from bot.search.engine import QueryError
from bot.services import Services

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def register_all(app: App) -> None:
    from bot.listeners import actions, commands, events, subscriptions

    events.register(app)
    actions.register(app)
    subscriptions.register(app)
    commands.register(app)


def strip_mention(text: str) -> str:
    """The words of an @mention, without `<@U…>` tokens (ours or anyone else's)."""
    return " ".join(_MENTION.sub(" ", text).split())


def search_reply(
    services: Services,
    query: str,
    *,
    offset: int = 0,
    ephemeral: bool,
    shared_by: str | None = None,
) -> dict[str, Any]:
    """The message answering `query` (a page of results, no-match, or the query's problem)."""
    try:
        found = services.find(query, limit=services.config.results_per_page, offset=offset)
    except QueryError as exc:
        return error_message(str(exc))
    if not found.papers:
        if offset:
            return error_message(f"No more papers match “{query}”.")
        return no_results_message(query)
    paging = Paging(query=query, offset=offset, total=found.page.total, terms=found.page.terms)
    return results_message(
        [paper for paper, _ in found.papers], paging, ephemeral=ephemeral, shared_by=shared_by
    )


def slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or "unknown_error")


def post_message(
    client: WebClient, channel: str, *, thread_ts: str | None = None, **msg: Any
) -> str | None:
    """chat.postMessage; on not_in_channel joins (public channels) and tries once more.

    Returns None when posted, else the Slack error code (logged once, without the token).
    """
    args = {"channel": channel, "unfurl_links": False, "unfurl_media": False, **msg}
    if thread_ts:
        args["thread_ts"] = thread_ts
    try:
        client.chat_postMessage(**args)
        return None
    except SlackApiError as exc:
        error = slack_error(exc)
    if error == "not_in_channel" and _join(client, channel):
        try:
            client.chat_postMessage(**args)
            return None
        except SlackApiError as exc:
            error = slack_error(exc)
    log.warning("chat.postMessage to %s failed: %s", channel, error)
    return error


def _join(client: WebClient, channel: str) -> bool:
    """Join a public channel we were asked to answer in (private ones need an invite)."""
    try:
        client.conversations_join(channel=channel)
    except SlackApiError as exc:
        log.debug("could not join %s: %s", channel, slack_error(exc))
        return False
    log.info("joined %s to answer there", channel)
    return True


def tell_user(client: WebClient, channel: str, user: str | None, error: str) -> None:
    """Best effort: explain a failed post to the one user who asked (may fail too)."""
    if not user:
        return
    hint = slack_error_hint(error)
    try:
        client.chat_postEphemeral(
            channel=channel, user=user, **notice_message(hint, "PaperBot could not post here")
        )
    except SlackApiError as exc:
        log.debug("could not tell %s why (ephemeral: %s)", user, slack_error(exc))


def respond_safely(respond: Any, **payload: Any) -> bool:
    """Post to the response_url; a dead or expired URL is logged, never raised."""
    try:
        resp = respond(**payload)
    except Exception as exc:  # network trouble on the response_url
        log.warning("response_url post failed: %s", type(exc).__name__)
        return False
    status = getattr(resp, "status_code", 200)
    if status != 200:
        log.warning("response_url answered %s", status)
        return False
    return True
