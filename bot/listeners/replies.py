"""Building and delivering answers: the search reply, Web API posts and response_url posts.

Every failure here is turned into something the user can read (bot.slack_api.describe for
Slack, DATABASE_DOWN for the database) and one short log line, never a traceback: these
paths run once per request, so an outage would otherwise flood the log.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Collection
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.blocks import Paging, error_message, no_results_message, notice_message, results_message
from bot.listeners.failures import DATABASE_DOWN, database_trouble
from bot.search.engine import QueryError
from bot.services import Services
from bot.slack_api import SlackFailure, describe

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
# Searches (rank + load + render) running at once. They are CPU work under one GIL: more
# threads than cores only take turns from the ack threads, which Slack needs within 3 s
# (a burst of 50 commands: ack p50 3.1 s with 8 at once, 1.7 s with 2, same loaded VM).
# The answer lane keeps its 8 threads for the response_url posts, which may hang.
SEARCH_SLOTS = threading.BoundedSemaphore(2)


def slack_text(text: str) -> str:
    """What the user typed: Slack sends `<`, `>` and `&` escaped; undo that once, so our
    own escaping on output does not show them as `&lt;`."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def strip_mention(text: str) -> str:
    """The words of an @mention, without `<@U…>` tokens (ours or anyone else's), unescaped."""
    return slack_text(" ".join(_MENTION.sub(" ", text).split()))


def database_down_message() -> dict[str, Any]:
    return error_message(DATABASE_DOWN)


def search_reply(
    services: Services,
    query: str,
    *,
    offset: int = 0,
    ephemeral: bool,
    shared_by: str | None = None,
    saved: Collection[int] = (),
    hidden: Collection[int] = (),
) -> dict[str, Any]:
    """The message answering `query` (a page of results, no-match, or the query's problem).
    `saved`/`hidden`: the viewer's own choices, shown on ephemeral pages only."""
    with SEARCH_SLOTS:
        return _search_reply(services, query, offset, ephemeral, shared_by, saved, hidden)


def _search_reply(
    services: Services, query: str, offset: int, ephemeral: bool, shared_by: str | None,
    saved: Collection[int], hidden: Collection[int],
) -> dict[str, Any]:
    try:
        found = services.find(query, limit=services.config.results_per_page, offset=offset)
    except QueryError as exc:
        return error_message(str(exc))
    except SQLAlchemyError as exc:
        database_trouble(exc, "answering a search")
        return database_down_message()
    if not found.papers:
        if offset:
            return error_message(f"No more papers match “{query}”.")
        return no_results_message(query)
    paging = Paging(query=query, offset=offset, total=found.page.total, terms=found.page.terms)
    return results_message(
        [paper for paper, _ in found.papers], paging, ephemeral=ephemeral, shared_by=shared_by,
        saved=saved, hidden=hidden,
    )


def post_message(
    client: WebClient, channel: str, *, thread_ts: str | None = None,
    on_posted: Callable[[str, str], None] | None = None, **msg: Any
) -> SlackFailure | None:
    """chat.postMessage; on not_in_channel joins (public channels) and tries once more.

    Returns None when posted, else what failed (logged once, with its code, no traceback).
    `on_posted(channel, ts)` runs once it is posted (e.g. to map the message to its paper).
    """
    args = {"channel": channel, "unfurl_links": False, "unfurl_media": False, **msg}
    if thread_ts:
        args["thread_ts"] = thread_ts
    failure = None
    for attempt in range(2):
        try:
            resp = client.chat_postMessage(**args)
        except Exception as exc:  # SlackApiError, or the network: describe() knows both
            failure = describe(exc)
            if attempt == 0 and failure.code == "not_in_channel" and _join(client, channel):
                continue
            break
        if on_posted is not None and resp.get("ts"):
            _after_post(on_posted, str(resp.get("channel") or channel), str(resp["ts"]))
        return None
    assert failure is not None
    log.warning("chat.postMessage to %s failed: %s", channel, failure.code)
    return failure


def _after_post(on_posted: Callable[[str, str], None], channel: str, ts: str) -> None:
    """The message is out; a failure recording it must not turn it into a failed post."""
    try:
        on_posted(channel, ts)
    except SQLAlchemyError as exc:
        database_trouble(exc, "recording a posted message")


def _join(client: WebClient, channel: str) -> bool:
    """Join a public channel we were asked to answer in (private ones need an invite)."""
    try:
        client.conversations_join(channel=channel)
    except Exception as exc:
        log.debug("could not join %s: %s", channel, describe(exc).code)
        return False
    log.info("joined %s to answer there", channel)
    return True


def tell_user(client: WebClient, channel: str, user: str | None, failure: SlackFailure) -> None:
    """Best effort: explain a failed post to the one user who asked (may fail too)."""
    if not user:
        return
    try:
        client.chat_postEphemeral(
            channel=channel, user=user,
            **notice_message(failure.hint, "PaperBot could not post here"),
        )
    except Exception as exc:
        log.debug("could not tell %s why (ephemeral: %s)", user, describe(exc).code)


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
