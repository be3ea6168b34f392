"""PaperBot in OAuth mode over real HTTP against OAuthFakeSlack, and Slack's requests from
any workspace (the builders of tests/fakes/slack_payloads.py re-addressed to a team)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx

from bot.services import Services
from tests.fakes.slack_payloads import JSON, app_mention, slash_command
from tests.listeners.support import Running, make_services
from tests.oauth.fake_oauth import CLIENT_ID, CLIENT_SECRET, OAuthFakeSlack

COOKIE = "slack-app-oauth-state"


def oauth_services(db_url: str, home: Path, fake: OAuthFakeSlack, **env: str) -> Services:
    """Services as `paperbot serve` builds them with the app's client id/secret and no
    SLACK_BOT_TOKEN."""
    return make_services(
        db_url, home, fake, SLACK_BOT_TOKEN="", SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET, **env,
    )


def install(running: Running | str, fake: OAuthFakeSlack, team_id: str) -> httpx.Response:
    """An admin of `team_id` opens /slack/install, clicks "Add to Slack", then "Allow";
    the browser follows Slack's redirect back with its state cookie. The last response.
    `running`: an in-process server, or the base URL of a `paperbot serve`."""
    url = running if isinstance(running, str) else running.url
    with httpx.Client(timeout=10, follow_redirects=False) as browser:
        page = browser.get(f"{url}/slack/install")
        assert page.status_code == 200, page.text
        cookie = page.headers["set-cookie"]
        state = re.search(rf"{COOKIE}=([^;]+)", cookie)
        assert state, cookie
        link = html.unescape(re.search(r'<a href="([^"]+)"', page.text)[1])  # type: ignore[index]
        fake.approving, fake.redirect_to = team_id, f"{url}/slack/oauth_redirect"
        back = browser.get(link)  # Slack's authorize page: "Allow" -> 302 to the app
        assert back.status_code == 302, back.text
        return browser.get(back.headers["location"], headers={"Cookie": f"{COOKIE}={state[1]}"})


def authorize_query(link_or_request: dict[str, str] | str) -> dict[str, str]:
    if isinstance(link_or_request, dict):
        return link_or_request
    return {k: v[-1] for k, v in parse_qs(urlparse(link_or_request).query).items()}


def _readdress(body: dict[str, Any], team_id: str, bot_user: str) -> dict[str, Any]:
    body["team_id"] = body["context_team_id"] = team_id
    if "team" in body.get("event", {}):
        body["event"]["team"] = team_id
    for a in body.get("authorizations", []):
        a["team_id"], a["user_id"] = team_id, bot_user
    return body


def mention_from(team_id: str, text: str, *, channel: str = "C0GENERAL") -> bytes:
    _, _, body = app_mention(f"<@UBOT{team_id}> {text}", channel=channel)
    return json.dumps(_readdress(body, team_id, f"UBOT{team_id}")).encode()


def command_from(team_id: str, text: str, *, response_url: str, **kw: Any) -> bytes:
    raw, _ = slash_command(text, response_url=response_url, **kw)
    fields = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
    fields["team_id"] = team_id
    return urlencode(fields).encode()


def uninstall_event(team_id: str, kind: str = "app_uninstalled") -> bytes:
    """app_uninstalled, or tokens_revoked for the bot token, as Slack sends them."""
    _, _, body = app_mention("x")
    event: dict[str, Any] = {"type": kind, "event_ts": body["event"]["event_ts"]}
    if kind == "tokens_revoked":
        event["tokens"] = {"bot": [f"UBOT{team_id}"]}
    body["event"] = event
    return json.dumps(_readdress(body, team_id, f"UBOT{team_id}")).encode()


def send_json(running: Running, body: bytes) -> httpx.Response:
    return running.sender.send(body, JSON)
