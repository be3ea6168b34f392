"""The digest's only Slack code: post, find our own earlier posts, join, read a user's tz.

Failures are read through bot.slack_api (one error table for the whole app) and sorted
into what the cycle must do: ChannelGone (deactivate that channel's subscription),
WorkspaceGone (stop the cycle: the token is unusable) and SlackTransient (leave the run for
the next cycle). Only rate limits are retried: retrying a post after a dropped connection
could post twice, so that case goes through the run's recorded intent and a look at the
channel (see cycle.py).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Config, ConfigError
from bot.slack_api import Kind, describe, make_client

log = logging.getLogger(__name__)

EVENT_TYPE = "paperbot_digest"
HISTORY_PAGES = 10


class SlackTransient(RuntimeError):
    """Slack did not answer usably this time; try again next cycle."""


class ChannelGone(RuntimeError):
    """The channel cannot receive posts any more (archived, removed, not found)."""

    def __init__(self, channel: str, reason: str) -> None:
        super().__init__(f"channel {channel}: {reason}")
        self.reason = reason


class WorkspaceGone(RuntimeError):
    """The bot token is unusable (revoked, uninstalled, missing scope)."""


def poster_for(config: Config) -> SlackPoster:
    """The digest's poster from the environment (`paperbot digest`); a missing token is a
    ConfigError that names SLACK_BOT_TOKEN, not a failed post later."""
    if not config.slack_bot_token:
        raise ConfigError(
            "SLACK_BOT_TOKEN is not set: the digest posts to Slack with the bot token "
            "(xoxb-...); set it in the environment"
        )
    return SlackPoster(
        make_client(str(config.slack_bot_token), config.slack_api_url, retry_connections=False)
    )


def poster_like(client: WebClient) -> SlackPoster:
    """The digest's poster beside the app's client (same token and Slack), without the
    app's connection retries, which could send a chat.postMessage twice."""
    return SlackPoster(make_client(client.token, client.base_url, retry_connections=False))


class SlackPoster:
    """Thin wrapper over the Web API calls the digest and subscriptions make."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def _call(self, where: str, method: str, **kwargs: Any) -> dict[str, Any]:
        """One Web API call; `where` (channel or user id) is for errors and logs."""
        try:
            resp = getattr(self.client, method)(**kwargs)
        except Exception as exc:  # SlackApiError, or the network: URLError, timeouts
            failure = describe(exc)
            if failure.kind is Kind.CHANNEL:
                raise ChannelGone(where, failure.code) from None
            if failure.kind is Kind.WORKSPACE:
                raise WorkspaceGone(f"Slack refused the bot token: {failure.code}") from None
            detail = failure.code
            if not isinstance(exc, SlackApiError):
                detail += f" ({type(exc).__name__})"
            raise SlackTransient(f"{method} in {where}: {detail}") from None
        return resp.data if isinstance(resp.data, dict) else {}

    # --- digest -----------------------------------------------------------------
    def post(
        self,
        channel: str,
        text: str,
        blocks: list,
        payload: dict[str, Any],
        thread_ts: str | None = None,
    ) -> str:
        data = self._call(
            channel,
            "chat_postMessage",
            channel=channel,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
            metadata={"event_type": EVENT_TYPE, "event_payload": payload},
        )
        return str(data["ts"])

    def find_parent(self, channel: str, run_key: str, since: datetime) -> str | None:
        """ts of this run's day message if an earlier attempt posted it, else None."""
        cursor = None
        for _ in range(HISTORY_PAGES):
            data = self._call(
                channel,
                "conversations_history",
                channel=channel,
                oldest=f"{since.timestamp() - 600:.6f}",
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
            for msg in data.get("messages", []):
                if _payload(msg).get("run_key") == run_key and not _payload(msg).get("paper_id"):
                    return str(msg["ts"])
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not data.get("has_more") or not cursor:
                return None
        raise SlackTransient(f"channel {channel}: too much history to look for run {run_key}")

    def find_replies(self, channel: str, parent_ts: str, run_key: str) -> dict[int, str]:
        """paper id -> ts of the abstract replies this run already posted in its thread."""
        found: dict[int, str] = {}
        cursor = None
        for _ in range(HISTORY_PAGES):
            data = self._call(
                channel,
                "conversations_replies",
                channel=channel,
                ts=parent_ts,
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
            for msg in data.get("messages", []):
                p = _payload(msg)
                if p.get("run_key") == run_key and isinstance(p.get("paper_id"), int):
                    found.setdefault(p["paper_id"], str(msg["ts"]))
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not data.get("has_more") or not cursor:
                return found
        raise SlackTransient(f"channel {channel}: thread {parent_ts} too long to check")

    # --- subscriptions ------------------------------------------------------------
    def user_tz(self, user_id: str) -> str | None:
        try:
            data = self._call(user_id, "users_info", user=user_id)
        except (SlackTransient, ChannelGone):
            return None
        tz = (data.get("user") or {}).get("tz")
        return tz if isinstance(tz, str) and tz else None

    def ensure_member(self, channel: str) -> str | None:
        """None when the bot can post in `channel` (joining a public one); else why not."""
        try:
            info = self._call(channel, "conversations_info", channel=channel).get("channel", {})
        except ChannelGone as exc:
            return exc.reason  # private channels the bot is not in look "not found"
        except SlackTransient as exc:
            return str(exc)
        if info.get("is_archived"):
            return "is_archived"
        if info.get("is_member"):
            return None
        if info.get("is_private"):
            return "private"
        try:
            self._call(channel, "conversations_join", channel=channel)
        except (ChannelGone, SlackTransient) as exc:
            return getattr(exc, "reason", str(exc))
        return None


def _payload(msg: dict[str, Any]) -> dict[str, Any]:
    meta = msg.get("metadata") or {}
    if meta.get("event_type") != EVENT_TYPE:
        return {}
    payload = meta.get("event_payload")
    return payload if isinstance(payload, dict) else {}
