"""Requests exactly as Slack sends them to an app: slash commands, Events API callbacks and
block_actions, signed like Slack signs them (tests/fakes/signing.py), over real HTTP.

Builders return (body bytes, content type); `SlackSender` posts them to a running server.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.fakes.signing import TEST_SIGNING_SECRET, signed_headers
from tests.fakes.slack_api import BOT_USER_ID, TEAM_ID

API_APP_ID = "A0PAPERBOT"
TEAM_DOMAIN = "fakelab"
VERIFICATION_TOKEN = "legacy-verification-token"  # Slack still sends it; Bolt ignores it
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

_seq = itertools.count(1)


def _next() -> int:
    return next(_seq)


def slack_ts() -> str:
    return f"{int(time.time())}.{_next():06d}"


def slash_command(
    text: str,
    *,
    response_url: str,
    command: str = "/papers",
    channel_id: str = "C0GENERAL",
    channel_name: str = "general",
    user_id: str = "U0ALICE",
    user_name: str = "alice",
    team_id: str = TEAM_ID,
) -> tuple[bytes, str]:
    """A slash command invocation: form-encoded, exactly Slack's fields."""
    n = _next()
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "response_url": response_url,
        "trigger_id": f"{n}.{n * 7}.0123456789abcdef0123456789abcdef",
    }
    return urlencode(fields).encode(), FORM


def event_callback(
    event: dict[str, Any], *, team_id: str = TEAM_ID, event_id: str | None = None
) -> tuple[bytes, str, dict[str, Any]]:
    """The Events API envelope Slack wraps every event in (body, type, body)."""
    body = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": API_APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{_next():010d}",
        "event_time": int(float(event.get("event_ts") or time.time())),
        "authorizations": [{
            "enterprise_id": None, "team_id": team_id, "user_id": BOT_USER_ID,
            "is_bot": True, "is_enterprise_install": False,
        }],
        "is_ext_shared_channel": False,
        "event_context": f"4-{event['type']}-{_next()}",
    }
    return json.dumps(body).encode(), JSON, body


def app_mention(
    text: str,
    *,
    channel: str = "C0GENERAL",
    user: str = "U0ALICE",
    ts: str | None = None,
    thread_ts: str | None = None,
    event_id: str | None = None,
) -> tuple[bytes, str, dict[str, Any]]:
    """An Events API `event_callback` wrapping an `app_mention` (body, type, event)."""
    ts = ts or slack_ts()
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "client_msg_id": f"00000000-0000-4000-8000-{_next():012d}",
        "team": TEAM_ID,
        "channel": channel,
        "event_ts": ts,
        "blocks": [{
            "type": "rich_text", "block_id": "b1",
            "elements": [{"type": "rich_text_section",
                          "elements": [{"type": "text", "text": text}]}],
        }],
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = user
    return event_callback(event, team_id=TEAM_ID, event_id=event_id)


def find_button(
    blocks: list[dict[str, Any]], action_prefix: str, value: str | None = None
) -> tuple[dict, dict]:
    """(block, element) of the first button (or overflow menu) whose action_id starts with
    `action_prefix` (and, when `value` is given, carrying that paper id)."""
    for block in blocks:
        candidates = block.get("elements", []) if block.get("type") == "actions" else [
            block.get("accessory") or {}
        ]
        for el in candidates:
            if el.get("type") not in ("button", "overflow"):
                continue
            if not el.get("action_id", "").startswith(action_prefix):
                continue
            if value is not None and el.get("type") == "button" and el.get("value") not in (
                value, f"unhide:{value}",
            ):
                continue
            if value is not None and el.get("type") == "overflow" and not any(
                o["value"].endswith(f":{value}") for o in el.get("options", [])
            ):
                continue
            return block, el
    raise AssertionError(f"no button {action_prefix}* ({value}) in the message")


def block_actions(
    blocks: list[dict[str, Any]],
    action_prefix: str,
    *,
    response_url: str,
    channel: str = "C0GENERAL",
    user: str = "U0ALICE",
    message: dict[str, Any] | None = None,
    message_ts: str | None = None,
    value: str | None = None,
    option: str | None = None,
    team_id: str = TEAM_ID,
) -> tuple[bytes, str]:
    """A click on a button of a message: form field `payload` holding the JSON.

    `message` is the channel message the button sits on (as Slack stores it); None means
    the button sits on an ephemeral message, which Slack sends without a `message`.
    `value` picks the button (or overflow) of one paper; for an overflow menu, `option` is
    the start of the chosen option's value (default: the first option).
    """
    block, button = find_button(blocks, action_prefix, value)
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message["ts"] if message else (message_ts or slack_ts()),
        "channel_id": channel,
        "is_ephemeral": message is None,
    }
    if message and message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": f"{_next()}.1234.abcdef",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "general"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [_action(block, button, option)],
    }
    if message is not None:
        payload["message"] = {
            "type": "message", "subtype": None, "text": message.get("text", ""),
            "ts": message["ts"], "bot_id": message.get("bot_id"), "user": message.get("user"),
            "blocks": message.get("blocks", []),
            **({"thread_ts": message["thread_ts"]} if message.get("thread_ts") else {}),
        }
    return urlencode({"payload": json.dumps(payload)}).encode(), FORM


def _action(block: dict[str, Any], element: dict[str, Any], option: str | None) -> dict:
    """The `actions[0]` Slack sends for a click on a button or a choice in an overflow."""
    action: dict[str, Any] = {
        "action_id": element["action_id"],
        "block_id": block.get("block_id", "b"),
        "type": element["type"],
        "action_ts": slack_ts(),
    }
    if element["type"] == "overflow":
        chosen = next(o for o in element["options"]
                      if option is None or o["value"].startswith(option))
        action["selected_option"] = chosen
    else:
        action["text"] = element["text"]
        action["value"] = element.get("value", "")
    return action


def reaction(
    name: str,
    *,
    channel: str,
    ts: str,
    user: str = "U0ALICE",
    added: bool = True,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    item_user: str = BOT_USER_ID,
) -> tuple[bytes, str, dict[str, Any]]:
    """An Events API `reaction_added` / `reaction_removed` on a message (body, type, body)."""
    event_ts = slack_ts()
    event = {
        "type": "reaction_added" if added else "reaction_removed",
        "user": user,
        "reaction": name,
        "item_user": item_user,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": event_ts,
    }
    return event_callback(event, team_id=team_id, event_id=event_id)


@dataclass
class SlackSender:
    """Posts signed requests to the app under test, the way Slack's servers do."""

    url: str  # e.g. http://127.0.0.1:PORT/slack/events
    secret: str = TEST_SIGNING_SECRET

    def __post_init__(self) -> None:
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    @property
    def http(self) -> httpx.Client:
        """One client per thread: bursts sent from a thread pool share no connection pool
        (a shared one failed under a 1 µs switch interval with 'Bad file descriptor')."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(timeout=10)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def send(
        self,
        body: bytes,
        content_type: str,
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | None = None,
        secret: str | None = None,
        signed: bool = True,
    ) -> httpx.Response:
        if signed:
            headers = signed_headers(
                body, secret=secret or self.secret, timestamp=timestamp, content_type=content_type
            )
        else:
            headers = {"Content-Type": content_type}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        headers["User-Agent"] = "Slackbot 1.0 (+https://api.slack.com/robots)"
        return self.http.post(self.url, content=body, headers=headers)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()


# --- App Home (added for tests/home) ---------------------------------------------------


def app_home_opened(
    *,
    user: str = "U0ALICE",
    tab: str = "home",
    team_id: str = TEAM_ID,
    event_id: str | None = None,
    view: dict[str, Any] | None = None,
) -> tuple[bytes, str, dict[str, Any]]:
    """An Events API `app_home_opened` (body, type, body): the user opened a tab of the
    app ("home", "messages" or "about"); `view` is the Home view published before, if any."""
    event_ts = slack_ts()
    event: dict[str, Any] = {
        "type": "app_home_opened", "user": user, "channel": "D" + user, "tab": tab,
        "event_ts": event_ts,
    }
    if view is not None:
        event["view"] = view
    return event_callback(event, team_id=team_id, event_id=event_id)


def view_block_actions(
    view: dict[str, Any],
    action_prefix: str,
    *,
    user: str = "U0ALICE",
    value: str | None = None,
    option: str | None = None,
    team_id: str = TEAM_ID,
    view_id: str = "V0HOME0001",
) -> tuple[bytes, str]:
    """A click on a button inside a published view (the App Home): container type "view",
    the view instead of a message, and neither a channel nor a response_url."""
    block, button = find_button(view.get("blocks") or [], action_prefix, value)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {"type": "view", "view_id": view_id},
        "trigger_id": f"{_next()}.1234.abcdef",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": {
            "id": view_id, "team_id": team_id, "type": view.get("type", "home"),
            "blocks": view.get("blocks") or [], "private_metadata": "",
            "callback_id": view.get("callback_id", ""), "state": {"values": {}},
            "hash": f"{_next()}.abcdef", "title": {"type": "plain_text", "text": "View Title"},
            "clear_on_close": False, "notify_on_close": False, "close": None, "submit": None,
            "previous_view_id": None, "root_view_id": view_id, "app_id": API_APP_ID,
            "external_id": "", "app_installed_team_id": team_id, "bot_id": "BBOT",
        },
        "actions": [_action(block, button, option)],
    }
    return urlencode({"payload": json.dumps(payload)}).encode(), FORM


def link_shared(
    urls: list[str],
    *,
    channel: str = "C0GENERAL",
    user: str = "U0ALICE",
    message_ts: str | None = None,
    composer: bool = False,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
) -> tuple[bytes, str, dict[str, Any]]:
    """An Events API `link_shared` (body, type, body): links in a posted message (with the
    `unfurl_id` and `source` Slack now sends), or, with composer=True, still being typed."""
    from urllib.parse import urlparse

    message_ts = message_ts or slack_ts()
    unfurl_id = f"C{_next():08d}.{message_ts}.fake"
    event: dict[str, Any] = {
        "type": "link_shared",
        "channel": "COMPOSER" if composer else channel,
        "is_bot_user_member": True,
        "user": user,
        "message_ts": (f"{user}-{_next():08d}-composer" if composer else message_ts),
        "unfurl_id": unfurl_id,
        "source": "composer" if composer else "conversations_history",
        "links": [{"domain": urlparse(u).hostname or "", "url": u} for u in urls],
        "event_ts": slack_ts(),
    }
    return event_callback(event, team_id=team_id, event_id=event_id)
