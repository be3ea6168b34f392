"""Events API: @mentions are answered in a thread.

Retries of the same event_id are dropped before they get here (bot/app.py middleware).
The lifecycle events (app_uninstalled, tokens_revoked) are handled by the digest's
listeners in subscriptions.py, which deactivate the team's subscriptions.
"""

from __future__ import annotations

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.blocks import help_message
from bot.listeners import post_message, search_reply, strip_mention, tell_user
from bot.services import Services


def register(app: App) -> None:
    app.event("app_mention")(on_mention)


def on_mention(event: dict, context: BoltContext, client: WebClient) -> None:
    query = strip_mention(event.get("text") or "")
    thread_ts = event.get("thread_ts") or event["ts"]
    context["background"](
        answer_mention, context["services"], client, event["channel"], event.get("user"),
        thread_ts, query,
    )


def answer_mention(
    services: Services, client: WebClient, channel: str, user: str | None, thread_ts: str,
    query: str,
) -> None:
    """Results in the mention's thread (visible to all); a bare mention gets the help."""
    if not query or query.lower() in ("help", "?"):
        reply = help_message()
    else:
        reply = search_reply(services, query, ephemeral=False)
    error = post_message(client, channel, thread_ts=thread_ts, **reply)
    if error:
        tell_user(client, channel, user, error)

