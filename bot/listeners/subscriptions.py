"""`/papers subscribe|unsubscribe|subscriptions` and the workspace lifecycle events.

Registered before the general `/papers` listener, with a matcher on the first word, so a
search for e.g. "subscribers" still goes to search. The work (Slack calls, database) runs
after the ack, in the app's background pool; the answer goes to the response_url.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks import notice_message
from bot.digest import subscriptions
from bot.digest.poster import SlackPoster
from bot.listeners import respond_safely
from storage import digest as repo

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.command("/papers", matchers=[is_subscription_command])(on_command)
    app.event("app_uninstalled")(on_app_uninstalled)
    app.event("tokens_revoked")(on_tokens_revoked)


def is_subscription_command(body: dict) -> bool:
    return subscriptions.is_subscription_command(body.get("text") or "")


def on_command(
    ack: Ack, command: dict, respond: Respond, context: BoltContext, client: WebClient
) -> None:
    ack()
    context["background"](answer, context["services"], client, command, respond)


def answer(services: Any, client: WebClient, command: dict, respond: Respond) -> None:
    text = subscriptions.handle(
        services,
        SlackPoster(client),
        team_id=command.get("team_id") or "",
        channel_id=command.get("channel_id") or "",
        user_id=command.get("user_id") or "",
        text=command.get("text") or "",
    )
    respond_safely(respond, response_type="ephemeral", **notice_message(text, text[:150]))


def deactivate_team(services: Any, team_id: str | None, reason: str) -> int:
    if not team_id:
        return 0
    with services.db.session() as s:
        n = repo.deactivate_team(s, team_id, reason, datetime.now(UTC))
    log.warning("team %s: %s; %d digest subscription(s) deactivated", team_id, reason, n)
    return n


def on_app_uninstalled(body: dict, context: BoltContext) -> None:
    deactivate_team(context["services"], context.team_id or body.get("team_id"), "app_uninstalled")


def on_tokens_revoked(event: dict, body: dict, context: BoltContext) -> None:
    """Only a revoked bot token stops digests (user tokens are not used for posting)."""
    if (event.get("tokens") or {}).get("bot"):
        deactivate_team(
            context["services"], context.team_id or body.get("team_id"), "tokens_revoked"
        )
    else:
        log.info("team %s revoked user tokens only; digests continue", context.team_id)
