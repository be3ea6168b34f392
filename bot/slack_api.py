"""The one place that builds Slack Web API clients and knows what Slack's errors mean.

Every Slack call in PaperBot (listeners, digest, subscriptions) goes through a client from
`make_client` and reads failures through `describe`, so a given error code gets the same
treatment everywhere: what kind of failure it is, what the user is told, and one short
log line without tokens or response bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

SLACK_TIMEOUT = 15  # seconds per call; the digest's run lease must outlast one call plus waits
RATE_LIMIT_RETRIES = 3
CONNECTION_RETRIES = 2
SERVER_ERROR_RETRIES = 1


class Kind(Enum):
    """What a failed call means for whoever made it."""

    CHANNEL = "channel"  # this channel can't receive our posts (archived, removed, not found)
    WORKSPACE = "workspace"  # the token is unusable: stop calling for this workspace
    MESSAGE = "message"  # our message was refused as built (too long, bad blocks)
    TRANSIENT = "transient"  # Slack or the network did not answer usably this time


@dataclass(frozen=True)
class SlackFailure:
    """A Slack call that failed: a short code (Slack's, or ours for HTTP/network trouble)."""

    code: str
    kind: Kind
    hint: str  # what to tell the user who asked (mrkdwn, our own words)
    stopped: str  # why a digest subscription stopped, when this ends it

    def __str__(self) -> str:
        return self.code


_CHANNEL_HINTS = {
    "not_in_channel": "I'm not a member of this channel. Invite me with `/invite @paperbot`.",
    "channel_not_found": (
        "I can't see this channel (private channels need an invite: `/invite @paperbot`)."
    ),
    "is_archived": "This channel is archived, so I can't post in it.",
    "channel_is_archived": "This channel is archived, so I can't post in it.",
    "restricted_action": "A workspace setting stops me from posting here; ask an admin.",
    "access_denied": "A workspace setting stops me from posting here; ask an admin.",
    "team_access_not_granted": "This workspace hasn't granted me access here; ask an admin.",
}
_WORKSPACE_CODES = (
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
    "missing_scope",
)
_STOPPED = {
    "app_uninstalled": "stopped: PaperBot was uninstalled",
    "tokens_revoked": "stopped: PaperBot's token was revoked",
    "token_revoked": "stopped: PaperBot's token was revoked",
    "is_archived": "stopped: the channel was archived",
    "channel_is_archived": "stopped: the channel was archived",
    "channel_not_found": "stopped: the channel could not be found",
    "not_in_channel": "stopped: PaperBot was removed from the channel; `/invite @paperbot`",
}
_OTHER_HINTS = {
    "msg_too_long": "That answer was too long for Slack; try a narrower query.",
    "ratelimited": "Slack is rate-limiting me right now; please try again in a minute.",
    "slack_unavailable": "Slack isn't answering me right now; please try again shortly.",
    "slack_unreachable": "I can't reach Slack right now; please try again shortly.",
}
WORKSPACE_HINT = "My access to this workspace was revoked; an admin needs to reinstall PaperBot."


def failure(code: str) -> SlackFailure:
    """The meaning of one error code (Slack's own, or the ones `describe` makes up)."""
    if code in _CHANNEL_HINTS:
        kind, hint = Kind.CHANNEL, _CHANNEL_HINTS[code]
    elif code in _WORKSPACE_CODES:
        kind, hint = Kind.WORKSPACE, WORKSPACE_HINT
    elif code in ("msg_too_long", "invalid_blocks", "invalid_arguments", "too_many_attachments"):
        kind, hint = Kind.MESSAGE, _OTHER_HINTS.get(
            code, "Slack refused the message I built; this is a PaperBot bug."
        )
    else:
        kind = Kind.TRANSIENT
        hint = _OTHER_HINTS.get(
            code, f"Slack refused my message ({_plain_code(code)}); please try again."
        )
    return SlackFailure(code, kind, hint, _STOPPED.get(code, f"stopped: {_plain_code(code)}"))


def describe(exc: BaseException) -> SlackFailure:
    """What a failed Web API call means, whatever it raised.

    An HTTP 5xx or an HTML error page is not a token problem or a Slack error code: it becomes
    `slack_unavailable`, and network failures become `slack_unreachable`, so neither the user
    nor the log sees "non-JSON format: <html>…".
    """
    if isinstance(exc, SlackApiError):
        resp = exc.response
        status = getattr(resp, "status_code", 200)
        data = getattr(resp, "data", None)
        code = data.get("error") if isinstance(data, dict) else None
        if status == 429 or code == "ratelimited":
            return failure("ratelimited")
        if status >= 500 or not isinstance(code, str) or not _is_code(code):
            return failure("slack_unavailable")
        return failure(code)
    return failure("slack_unreachable")


def _is_code(code: str) -> bool:
    """Slack error codes are short snake_case words; anything else is a body we must not echo."""
    return 0 < len(code) <= 64 and code.replace("_", "").isalnum() and code.isascii()


def _plain_code(code: str) -> str:
    return code if _is_code(code) else "unexpected_response"


def make_client(
    token: str | None, base_url: str, *, retry_connections: bool = True
) -> WebClient:
    """A Web API client with slack_sdk's retry handlers.

    Rate limits (Retry-After) are always retried. Dropped connections and Slack 500/503 are
    retried only when `retry_connections`: the digest turns it off, because a retried
    chat.postMessage could post twice, and it recovers those through its recorded intent.
    """
    handlers: list = [RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)]
    if retry_connections:
        handlers += [
            ConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
            ServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES),
        ]
    return WebClient(
        token=token or None, base_url=base_url, timeout=SLACK_TIMEOUT, retry_handlers=handlers
    )
