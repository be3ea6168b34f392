"""App Home: `app_home_opened` (Home tab) publishes the user's page with views.publish.

The page is built and published on the `slack_calls` lane: it needs two Web API calls
(users.conversations for the user's channels, views.publish) and a hanging Slack API must
not delay search answers. The data comes from bot/home.py, the blocks from
bot/home_blocks.py. While the database is down the tab shows one sentence saying so (a
stale page would look like lost saves) and the log gets the usual throttled line; the
receipt stays unanswered so Slack's retry may publish the real page. Buttons clicked in the
Home tab are handled in library.py, which re-publishes the page through `publish_home`.
"""

from __future__ import annotations

import logging

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot import home
from bot.feedback import Where
from bot.home_blocks import home_view, notice_view
from bot.listeners.failures import DATABASE_DOWN, database_trouble
from bot.listeners.receipts import Receipt
from bot.listeners.team_library import provenance
from bot.services import Services
from bot.slack_api import Kind, SlackFailure, describe

log = logging.getLogger(__name__)

CHANNEL_PAGES = 5  # users.conversations pages of 200 asked for one Home tab (1,000 channels)


def register(app: App) -> None:
    app.event("app_home_opened")(on_home_opened)


def on_home_opened(event: dict, body: dict, context: BoltContext, client: WebClient) -> None:
    """Only the Home tab is ours to publish; opening the Messages or About tab does nothing."""
    receipt: Receipt = context["receipt"]
    user = str(event.get("user") or "")
    if event.get("tab") != "home" or not user:
        receipt.answered()
        return
    team = context.team_id or body.get("team_id") or ""
    where = Where(team, user, "", context.enterprise_id)
    if not context["workers"].slack_calls.submit(
        publish_home, context["services"], client, receipt, where
    ):
        receipt.unanswered()


def user_channels(client: WebClient, user_id: str) -> list[str] | None:
    """The ids of the channels `user_id` is in (public ones, and private ones the bot
    shares), or None when Slack would not say (the page then says it could not list them)."""
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(CHANNEL_PAGES):
        try:
            resp = client.users_conversations(
                user=user_id, types="public_channel,private_channel", exclude_archived=True,
                limit=200, cursor=cursor,
            )
        except Exception as exc:  # SlackApiError or the network: describe() knows both
            log.warning("users.conversations for the App Home failed: %s", describe(exc).code)
            return None
        ids += [str(c["id"]) for c in resp.get("channels") or [] if c.get("id")]
        cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    return ids


def build_view(services: Services, client: WebClient, where: Where) -> tuple[dict, bool]:
    """(the Home view, True when it is the real page; False: the database-down notice)."""
    channels = user_channels(client, where.user_id)
    try:
        data = home.gather(services, where.team_id, where.user_id, channels)
    except SQLAlchemyError as exc:
        database_trouble(exc, "opening the App Home")
        return notice_view(DATABASE_DOWN), False
    return home_view(data, provenance=provenance), True


def publish(client: WebClient, user_id: str, view: dict) -> SlackFailure | None:
    """views.publish; None when published, else what failed (one log line, no traceback)."""
    try:
        client.views_publish(user_id=user_id, view=view)
    except Exception as exc:
        failure = describe(exc)
        log.warning("views.publish failed: %s", failure.code)
        return failure
    return None


def publish_home(services: Services, client: WebClient, receipt: Receipt, where: Where) -> None:
    """Build and publish the user's Home tab, then settle the receipt: a transient Slack
    failure or the database-down page leaves it for Slack's retry."""
    view, real = build_view(services, client, where)
    failure = publish(client, where.user_id, view)
    if not real or (failure is not None and failure.kind is Kind.TRANSIENT):
        receipt.unanswered()
    else:
        receipt.answered()


def publish_notice(client: WebClient, receipt: Receipt, user_id: str, text: str) -> None:
    """Replace the Home tab with one sentence (a click in it met a database outage)."""
    publish(client, user_id, notice_view(text))
    receipt.unanswered()
