"""The fake Slack (tests/fakes/slack_api.py) plus Slack's side of OAuth and many workspaces.

- `/oauth/v2/authorize` plays the user clicking "Allow": it records the query (client_id,
  scope, state) and redirects the browser to `redirect_to` with a fresh code and the state.
- `oauth.v2.access` checks the app's client id/secret (HTTP Basic, as slack_sdk sends them),
  exchanges a code once for that workspace's v2 answer (team, bot_user_id, its own
  access_token, and refresh_token/expires_in when `rotating`), and refreshes rotating tokens.
- Every other method answers for the workspace of the token it was called with: auth.test
  says that token's team; a revoked token gets `token_revoked`. `token_of(call)` says which
  token a recorded call used.
"""

from __future__ import annotations

import base64
import itertools
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from tests.fakes.slack_api import Call, FakeSlack

CLIENT_ID = "1111111111.2222222222"
CLIENT_SECRET = "fake-client-secret-never-logged"
APP_ID = "A0PAPERBOT"
INSTALLER = "U0INSTALLER"


@dataclass
class Workspace:
    team_id: str
    name: str
    enterprise_id: str | None = None
    rotating: bool = False
    expires_in: int = 43_200  # Slack's rotating tokens last 12 hours

    @property
    def bot_user_id(self) -> str:
        return f"UBOT{self.team_id}"

    @property
    def bot_id(self) -> str:
        return f"BBOT{self.team_id}"


def token_of(call: Call) -> str | None:
    auth = call.headers.get("authorization", "")
    return auth[len("Bearer "):] if auth.startswith("Bearer ") else None


class OAuthFakeSlack(FakeSlack):
    def __init__(self) -> None:
        super().__init__()
        self.workspaces: dict[str, Workspace] = {}
        self.tokens: dict[str, str] = {}  # access token -> team id
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> team id
        self.revoked: set[str] = set()
        self.codes: dict[str, str] = {}  # unused code -> team id
        self.authorize_requests: list[dict[str, str]] = []
        self.redirect_to: str | None = None  # the app's /slack/oauth_redirect
        self.approving: str | None = None  # the team whose admin clicks "Allow"
        self._n = itertools.count(1)
        self._local = threading.local()

    # --- set-up -----------------------------------------------------------------------
    def add_workspace(self, team_id: str, name: str, **kw: Any) -> Workspace:
        ws = Workspace(team_id, name, **kw)
        self.workspaces[team_id] = ws
        return ws

    def grant(self, team_id: str) -> str:
        """A code Slack would hand the app after an admin of `team_id` approved it."""
        code = f"code-{team_id}-{next(self._n)}"
        with self._lock:
            self.codes[code] = team_id
        return code

    def revoke_team(self, team_id: str) -> None:
        """Slack's side of an uninstall: the workspace's tokens stop working."""
        with self._lock:
            self.revoked |= {t for t, team in self.tokens.items() if team == team_id}

    def tokens_of(self, team_id: str) -> list[str]:
        with self._lock:
            return [t for t, team in self.tokens.items() if team == team_id]

    def calls_with(self, team_id: str, method: str | None = None) -> list[Call]:
        """Recorded calls made with any token of `team_id`."""
        mine = set(self.tokens_of(team_id))
        with self._lock:
            return [
                c for c in self.calls
                if token_of(c) in mine and (method is None or c.method == method)
            ]

    # --- HTTP -------------------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        url = urlparse(req.path)
        if url.path == "/oauth/v2/authorize":
            self._authorize(req, {k: v[-1] for k, v in parse_qs(url.query).items()})
            return
        auth = req.headers.get("Authorization", "")
        self._local.token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        self._local.basic = auth[len("Basic "):] if auth.startswith("Basic ") else None
        if url.path == "/api/oauth.v2.access":
            # slack_sdk authenticates this one with HTTP Basic: let it past the Bearer check
            req.headers.replace_header("Authorization", "Bearer -")  # type: ignore[attr-defined]
        super()._handle(req)

    def _authorize(self, req: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        with self._lock:
            self.authorize_requests.append(query)
        team = self.approving
        target = query.get("redirect_uri") or self.redirect_to
        if team is None or target is None:
            self._send(req, 400, {"ok": False, "error": "nobody_to_approve"})
            return
        back = {"code": self.grant(team), "state": query.get("state", "")}
        location = f"{target}?{urlencode(back)}"
        req.send_response(302)
        req.send_header("Location", location)
        req.send_header("Content-Length", "0")
        req.end_headers()

    def _dispatch(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        token = getattr(self._local, "token", None)
        if method != "oauth.v2.access" and token in self.revoked:
            return {"ok": False, "error": "token_revoked"}
        return super()._dispatch(method, p)

    def _m_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        team_id = self.tokens.get(getattr(self._local, "token", None) or "")
        if team_id is None:
            return super()._m_auth_test(p)  # the single-workspace token of the base fake
        ws = self.workspaces[team_id]
        return {"ok": True, "team_id": ws.team_id, "team": ws.name, "user_id": ws.bot_user_id,
                "bot_id": ws.bot_id, "user": "paperbot", "enterprise_id": ws.enterprise_id,
                "url": f"https://{ws.team_id.lower()}.slack.com/"}

    def _m_oauth_v2_access(self, p: dict[str, Any]) -> dict[str, Any]:
        basic = getattr(self._local, "basic", None) or ""
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if basic != expected:
            return {"ok": False, "error": "invalid_client_id"}
        if p.get("grant_type") == "refresh_token":
            team_id = self.refresh_tokens.pop(p.get("refresh_token") or "", None)
            if team_id is None:
                return {"ok": False, "error": "invalid_refresh_token"}
            ws = self.workspaces[team_id]
            return {"ok": True, "app_id": APP_ID, "token_type": "bot", "scope": "commands",
                    **self._issue(ws), "team": {"id": ws.team_id, "name": ws.name},
                    "enterprise": None, "is_enterprise_install": False,
                    "bot_user_id": ws.bot_user_id}
        team_id = self.codes.pop(p.get("code") or "", None)
        if team_id is None:
            return {"ok": False, "error": "invalid_code"}
        ws = self.workspaces[team_id]
        enterprise = {"id": ws.enterprise_id, "name": "Org"} if ws.enterprise_id else None
        return {
            "ok": True, "app_id": APP_ID, "authed_user": {"id": INSTALLER},
            "scope": "commands,chat:write,app_mentions:read", "token_type": "bot",
            "bot_user_id": ws.bot_user_id, "team": {"id": ws.team_id, "name": ws.name},
            "enterprise": enterprise, "is_enterprise_install": False, **self._issue(ws),
        }

    def _issue(self, ws: Workspace) -> dict[str, Any]:
        n = next(self._n)
        token = f"xoxb-{ws.team_id}-{n}-fakebottoken"
        self.tokens[token] = ws.team_id
        out: dict[str, Any] = {"access_token": token}
        if ws.rotating:
            refresh = f"xoxe-1-{ws.team_id}-{n}-fakerefresh"
            self.refresh_tokens[refresh] = ws.team_id
            out |= {"refresh_token": refresh, "expires_in": ws.expires_in}
        return out
