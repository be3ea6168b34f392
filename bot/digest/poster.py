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
from collections.abc import Callable
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


class NotInstalled(ChannelGone):
    """OAuth mode: the subscription's workspace has no installation (uninstalled, or its bot
    token revoked). Its subscription ends like a gone channel; other workspaces carry on."""

    def __init__(self, team_id: str) -> None:
        RuntimeError.__init__(self, f"team {team_id}: PaperBot is not installed there")
        self.reason = "app_uninstalled"


NO_CREDENTIALS = (
    "the digest has no Slack credentials to post with: set SLACK_BOT_TOKEN (xoxb-...) for "
    "one workspace, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for OAuth (each workspace's "
    "install, stored in the database at DATABASE_URL, brings its own token)"
)


def check_credentials(config: Config) -> None:
    """ConfigError(NO_CREDENTIALS) when the digest could never post; called before the
    database is opened, so a missing token does not first create, migrate and seed one.
    OAuth mode passes: its tokens are in the database and are read when posting."""
    if not (config.slack_bot_token or config.oauth):
        raise ConfigError(NO_CREDENTIALS)


def poster_for(config: Config, db: Any = None) -> SlackPoster | TeamPosters:
    """The digest's poster from the environment (`paperbot digest`); missing credentials
    are a ConfigError naming both ways to set them, not a failed post later. In OAuth mode
    (and given the database), each subscription posts with its own workspace's token."""
    if config.oauth and db is not None:
        return team_posters(config, db)
    if not config.slack_bot_token:
        raise ConfigError(NO_CREDENTIALS)
    return SlackPoster(
        make_client(str(config.slack_bot_token), config.slack_api_url, retry_connections=False)
    )


def poster_like(client: WebClient) -> SlackPoster:
    """The digest's poster beside the app's client (same token and Slack), without the
    app's connection retries, which could send a chat.postMessage twice."""
    return SlackPoster(make_client(client.token, client.base_url, retry_connections=False))


def team_posters(config: Config, db: Any) -> TeamPosters:
    """OAuth mode: bot tokens from the installation store (refreshed when they rotate)."""
    from bot.oauth import Installations  # OAuth mode only

    return TeamPosters(Installations(config, db).bot_token, config.slack_api_url)


def team_poster(poster: Any, team_id: str) -> Any:
    """The poster for one subscription's workspace: `poster` itself in single-workspace
    mode, that workspace's own SlackPoster when `poster` is a TeamPosters."""
    return poster.for_team(team_id) if isinstance(poster, TeamPosters) else poster


class TeamPosters:
    """The digest's Slack when many workspaces installed PaperBot: one SlackPoster per
    subscription's team, built with that team's bot token (bot.oauth.Installations)."""

    def __init__(self, token_for: Callable[[str], str | None], api_url: str) -> None:
        self.token_for = token_for
        self.api_url = api_url

    def for_team(self, team_id: str) -> SlackPoster:
        """Raises NotInstalled when the workspace has no bot token (any more)."""
        try:
            token = self.token_for(team_id)
        except SlackApiError as exc:  # the refresh of a rotating token was refused
            if describe(exc).kind is Kind.TRANSIENT:
                raise SlackTransient(f"team {team_id}: token refresh failed") from None
            raise NotInstalled(team_id) from None
        except Exception as exc:  # slack_sdk's SlackTokenRotationError, the network
            raise SlackTransient(f"team {team_id}: no token ({type(exc).__name__})") from None
        if not token:
            raise NotInstalled(team_id)
        client = make_client(token, self.api_url, retry_connections=False)
        return SlackPoster(client, one_of_many=True)

    # The Poster protocol, for callers that do not route by team: nothing to post with.
    def post(self, channel: str, *args: Any, **kwargs: Any) -> str:
        raise SlackTransient(f"channel {channel}: OAuth mode posts through for_team(team)")

    def find_parent(self, channel: str, *args: Any) -> str | None:
        raise SlackTransient(f"channel {channel}: OAuth mode posts through for_team(team)")

    def find_replies(self, channel: str, *args: Any) -> dict[int, str]:
        raise SlackTransient(f"channel {channel}: OAuth mode posts through for_team(team)")


class SlackPoster:
    """Thin wrapper over the Web API calls the digest and subscriptions make.

    `one_of_many` (OAuth mode): a refused token ends that subscription (ChannelGone with
    Slack's code) instead of the whole cycle, which also serves the other workspaces.
    """

    def __init__(self, client: WebClient, *, one_of_many: bool = False) -> None:
        self.client = client
        self.one_of_many = one_of_many

    def _call(self, where: str, method: str, **kwargs: Any) -> dict[str, Any]:
        """One Web API call; `where` (channel or user id) is for errors and logs."""
        try:
            resp = getattr(self.client, method)(**kwargs)
        except Exception as exc:  # SlackApiError, or the network: URLError, timeouts
            failure = describe(exc)
            if failure.kind is Kind.CHANNEL:
                raise ChannelGone(where, failure.code) from None
            if failure.kind is Kind.WORKSPACE and self.one_of_many:
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

    def open_dm(self, user_id: str) -> str | None:
        """The id of the bot's DM with the user (conversations.open; a personal digest
        goes there), or None when Slack would not open it (the log says why)."""
        try:
            data = self._call(user_id, "conversations_open", users=user_id)
        except (SlackTransient, ChannelGone, WorkspaceGone) as exc:
            log.warning("could not open a DM with %s: %s", user_id, exc)
            return None
        dm = (data.get("channel") or {}).get("id")
        return dm if isinstance(dm, str) and dm else None

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
