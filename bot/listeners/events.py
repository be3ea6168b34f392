"""Events API: @mentions are answered in a thread; reactions on our one-paper messages are
feedback (library.py); paper links shared in a message become cards (link_shared →
chat.unfurl, bot/links/); uninstalls stop the workspace's digests.

Copies of an event already answered (Slack retries, other replicas) are dropped before
they get here (bot/listeners/receipts.py). A mention is searched on the `answers` lane and
posted on the `slack_calls` lane, so a hanging Slack API never delays /papers answers.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.blocks import help_message, mention_help_message, single_paper
from bot.links import unfurl
from bot.listeners import library
from bot.listeners.failures import database_trouble
from bot.listeners.receipts import Receipt
from bot.listeners.replies import post_message, search_reply, strip_mention, tell_user
from bot.listeners.workers import Workers
from bot.mention_intent import is_query
from bot.services import Services
from bot.slack_api import Kind, describe

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.event("app_mention")(on_mention)
    app.event("app_uninstalled")(on_app_uninstalled)
    app.event("tokens_revoked")(on_tokens_revoked)
    app.event("reaction_added")(library.on_reaction)
    app.event("reaction_removed")(library.on_reaction)
    app.event("link_shared")(on_link_shared)


def on_mention(event: dict, body: dict, context: BoltContext, client: WebClient) -> None:
    query = strip_mention(event.get("text") or "")
    thread_ts = event.get("thread_ts") or event["ts"]
    workers: Workers = context["workers"]
    receipt: Receipt = context["receipt"]
    team = context.team_id or body.get("team_id") or ""
    if not workers.answers.submit(
        answer_mention, context["services"], workers, client, receipt, event["channel"],
        event.get("user"), thread_ts, query, team,
    ):
        receipt.unanswered()


def answer_mention(
    services: Services, workers: Workers, client: WebClient, receipt: Receipt, channel: str,
    user: str | None, thread_ts: str, query: str, team_id: str = "",
) -> None:
    """Results in the mention's thread (visible to all); a bare mention gets the help, and
    one that asks for nothing ("thanks!", "can you come to the meeting?") a short hint,
    not a search (bot/mention_intent.py). A single-paper answer is mapped to its paper, so
    reactions on it count."""
    if not query or query.lower() in ("help", "?"):
        reply = help_message()
    elif not is_query(query):
        reply = mention_help_message()
    else:
        reply = search_reply(services, query, ephemeral=False)
    remember = library.remember_one_paper(services, team_id, single_paper(reply), "answer")
    if not workers.slack_calls.submit(
        deliver_mention, client, receipt, channel, user, thread_ts, reply, remember
    ):
        receipt.unanswered()


def deliver_mention(
    client: WebClient, receipt: Receipt, channel: str, user: str | None, thread_ts: str,
    reply: dict, on_posted: Any = None,
) -> None:
    """Post in the thread. A refusal Slack will repeat (channel, workspace, message) is
    settled as answered after telling the user; a transient one leaves it to a retry."""
    failure = post_message(client, channel, thread_ts=thread_ts, on_posted=on_posted, **reply)
    if failure is None:
        receipt.answered()
        return
    tell_user(client, channel, user, failure)
    if failure.kind is Kind.TRANSIENT:
        receipt.unanswered()
    else:
        receipt.answered()


def _stop(context: BoltContext, team_id: str | None, reason: str) -> None:
    from bot.digest import subscriptions  # the digest loads only when asked for

    receipt: Receipt = context["receipt"]
    try:
        subscriptions.stop_workspace(context["services"], team_id, reason)
    except SQLAlchemyError as exc:
        database_trouble(exc, f"handling {reason}")
        receipt.unanswered()
        return
    receipt.answered()


def on_app_uninstalled(body: dict, context: BoltContext) -> None:
    _stop(context, context.team_id or body.get("team_id"), "app_uninstalled")


def on_tokens_revoked(event: dict, body: dict, context: BoltContext) -> None:
    """Only a revoked bot token stops digests (user tokens are not used for posting)."""
    if (event.get("tokens") or {}).get("bot"):
        _stop(context, context.team_id or body.get("team_id"), "tokens_revoked")
    else:
        log.info("team %s revoked user tokens only; digests continue", context.team_id)
        context["receipt"].answered()


# --- paper links become cards (issue 11) --------------------------------------------------


def on_link_shared(event: dict, body: dict, context: BoltContext, client: WebClient) -> None:
    """Acked at once (Bolt); the lookups and Slack calls run on the lookups lane, so links
    waiting on arXiv's pacing never hold up the slack_calls lane (mentions, buttons, Home)."""
    team = context.team_id or body.get("team_id") or ""
    enterprise = context.enterprise_id or body.get("enterprise_id")
    receipt: Receipt = context["receipt"]
    if not context["workers"].lookups.submit(
        answer_link_shared, context["services"], client, receipt, event, team, enterprise
    ):
        receipt.unanswered()


def answer_link_shared(
    services: Services, client: WebClient, receipt: Receipt, event: dict, team_id: str,
    enterprise_id: str | None = None,
) -> None:
    """One chat.unfurl with a card per paper link we could look up. A link we cannot
    look up keeps Slack's own preview: no card, nothing posted, one log line. At most
    unfurl.MAX_LINKS links are looked up (a forged event may carry hundreds)."""
    raw = event.get("links")
    links = unfurl.links_to_unfurl(
        str(link.get("url") or "") for link in (raw if isinstance(raw, list) else [])
        if isinstance(link, dict)
    )
    if not links:
        receipt.answered()
        return
    try:
        done = unfurl.unfurl_links(services, links, _sharing(client, event, team_id, enterprise_id))
    except SQLAlchemyError as exc:
        database_trouble(exc, "unfurling paper links")
        receipt.unanswered()
        return
    for url, why in done.failed:
        log.warning("no card for %s: %s", url, why)
    if not done.cards:
        receipt.answered()
        return
    where: dict[str, str] = (
        {"unfurl_id": event["unfurl_id"], "source": event["source"]}
        if event.get("unfurl_id") and event.get("source")
        else {"channel": event.get("channel") or "", "ts": event.get("message_ts") or ""}
    )
    try:
        client.chat_unfurl(unfurls=done.cards, **where)
    except Exception as exc:  # SlackApiError or the network: describe() knows both
        failure = describe(exc)
        log.warning("chat.unfurl failed: %s", failure.code)
        if failure.kind is Kind.TRANSIENT:
            receipt.unanswered()
            return
    receipt.answered()


def _sharing(
    client: WebClient, event: dict, team_id: str, enterprise_id: str | None
) -> unfurl.Sharing | None:
    """The message that shared the links (with its permalink, when the team library
    records shares); None for a link still in the composer (not shared yet)."""
    channel, ts = event.get("channel"), event.get("message_ts")
    if event.get("source") == "composer" or not channel or not ts or not unfurl.records_shares():
        return None
    permalink = None
    try:
        permalink = client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except Exception as exc:  # the card can go out without the link back
        log.warning("chat.getPermalink failed: %s", describe(exc).code)
    try:
        at = datetime.fromtimestamp(float(ts), UTC)
    except ValueError:
        at = datetime.now(UTC)
    return unfurl.Sharing(
        team_id=team_id, user_id=str(event.get("user") or ""), channel_id=channel, ts=ts,
        permalink=permalink if isinstance(permalink, str) else None, at=at,
        enterprise_id=enterprise_id, public=unfurl.channel_is_public(client, channel),
    )
