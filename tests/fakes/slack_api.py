"""A fake Slack Web API served over real HTTP on 127.0.0.1, recording every call.

Point the app at it with SLACK_API_URL=fake.api_url. It also receives `response_url`
posts (fake.response_url(...)) and keeps every message per channel, with thread_ts and
metadata, so conversations.history / conversations.replies answer like Slack's do.
Failures are injected per method: `fail("chat.postMessage", "channel_not_found",
channel="C1")`, `rate_limit("chat.postMessage", retry_after=1)`, `delay(method, 0.2)`,
`fail_http("chat.postMessage", 500)` (an HTML error page, as Slack's edge sends), and
`hang(method)` (no answer until `release(method)` or stop()).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.time)


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    is_member: bool = True
    exists: bool = True


@dataclass
class _Failure:
    error: str
    times: int
    channel: str | None
    status: int = 200
    retry_after: int | None = None
    html: bool = False  # answer with an HTML error page instead of Slack's JSON


ERROR_PAGE = (
    "<html><head><title>{status} Internal Server Error</title></head><body><h1>"
    "Internal Server Error</h1><p>The server encountered an internal error.</p></body></html>"
)


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.response_posts: list[tuple[str, dict[str, Any]]] = []
        # time.perf_counter() at which each response_posts entry arrived (same order), and
        # a condition notified on each arrival: for latency benchmarks (slack_bench)
        self.response_times: list[float] = []
        self.response_arrived = threading.Condition(threading.RLock())
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, list[dict[str, Any]]] = {}  # views.publish, per user
        self.member_of: dict[str, list[str]] = {}  # users.conversations: user -> channels
        self.uploads: dict[str, dict[str, Any]] = {}  # files upload v2, per file id
        self._failures: dict[str, list[_Failure]] = {}
        self._delays: dict[str, float] = {}
        self._delays_after: dict[str, float] = {}
        self._hangs: dict[str, threading.Event] = {}
        self._lock = threading.RLock()
        self._ts = int(time.time())
        self._seq = 0
        self._server: ThreadingHTTPServer | None = None
        self.add_channel("C0GENERAL", "general")

    # --- lifecycle -------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

            do_GET = do_POST

        class Server(ThreadingHTTPServer):
            # listen() backlog: the default 5 drops connections (a 1 s SYN retry) when many
            # answers arrive at once
            request_queue_size = 128

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for method in list(self._hangs):
            self.release(method)
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.base_url}/response/{name}"

    # --- set-up and fault injection -------------------------------------------
    def add_channel(self, channel_id: str, name: str, **flags: Any) -> Channel:
        with self._lock:
            ch = Channel(channel_id, name, **flags)
            self.channels[channel_id] = ch
            self.messages.setdefault(channel_id, [])
            return ch

    def add_user(self, user_id: str, tz: str = "UTC", **profile: Any) -> None:
        self.users[user_id] = {"id": user_id, "tz": tz, "name": user_id.lower(), **profile}

    def fail(
        self, method: str, error: str, *, times: int = 1, channel: str | None = None
    ) -> None:
        """The next `times` calls (to `channel`, if given) answer {"ok": false, "error": error}."""
        with self._lock:
            self._failures.setdefault(method, []).append(_Failure(error, times, channel))

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        with self._lock:
            self._failures.setdefault(method, []).append(
                _Failure("ratelimited", times, None, status=429, retry_after=retry_after)
            )

    def fail_http(self, method: str, status: int = 500, *, times: int = 1) -> None:
        """The next `times` calls answer HTTP `status` with an HTML page (not JSON)."""
        with self._lock:
            self._failures.setdefault(method, []).append(
                _Failure("http_error", times, None, status=status, html=True)
            )

    def hang(self, method: str) -> None:
        """Calls to `method` get no answer until release(method) (a hanging Slack API)."""
        with self._lock:
            self._hangs[method] = threading.Event()

    def release(self, method: str) -> None:
        with self._lock:
            gate = self._hangs.pop(method, None)
        if gate is not None:
            gate.set()

    def delay(self, method: str, seconds: float) -> None:
        self._delays[method] = seconds

    def delay_after(self, method: str, seconds: float) -> None:
        """Answer `method` late, after it took effect (a message is stored, then the reply
        waits): the window where a client has posted but not yet heard back."""
        self._delays_after[method] = seconds

    # --- what happened ----------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages posted with chat.postMessage (optionally to one channel), oldest first."""
        with self._lock:
            chans = [channel] if channel else list(self.messages)
            return [m for c in chans for m in self.messages.get(c, [])]

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> Any:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"fake Slack: condition not met within {timeout}s")

    # --- HTTP -------------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        path = urlparse(req.path).path
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        if path.startswith("/upload/"):  # files_upload_v2 step 2: the bytes, to upload_url
            self._upload_bytes(req, path.rsplit("/", 1)[-1], raw)
            return
        params = self._parse(req, raw)
        headers = {k.lower(): v for k, v in req.headers.items()}
        if path.startswith("/response/"):
            arrived = time.perf_counter()
            if "response_url" in self._delays:  # delay("response_url", s): a slow Slack
                time.sleep(self._delays["response_url"])
            with self._lock:
                gate = self._hangs.get("response_url")  # hang("response_url"): held
            if gate is not None:
                gate.wait()
            with self._lock:
                self.response_posts.append((path.rsplit("/", 1)[-1], params))
                self.response_times.append(arrived)
            with self.response_arrived:
                self.response_arrived.notify_all()
            self._send(req, 200, {"ok": True})
            return
        if not path.startswith("/api/"):
            self._send(req, 404, {"ok": False, "error": "unknown_path"})
            return
        method = path[len("/api/"):]
        with self._lock:
            self.calls.append(Call(method, params, headers))
        if method in self._delays:
            time.sleep(self._delays[method])
        with self._lock:
            gate = self._hangs.get(method)
        if gate is not None:
            gate.wait()
        if not headers.get("authorization", "").startswith("Bearer "):
            self._send(req, 200, {"ok": False, "error": "not_authed"})
            return
        with self._lock:
            failure = self._take_failure(method, params)
            if failure is None:
                status, body = 200, self._dispatch(method, params)
        if failure is not None and failure.html:
            self._send_html(req, failure.status, ERROR_PAGE.format(status=failure.status))
            return
        if failure is not None:
            extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            self._send(req, failure.status, {"ok": False, "error": failure.error}, extra)
            return
        if method in self._delays_after:
            time.sleep(self._delays_after[method])
        self._send(req, status, body)

    @staticmethod
    def _parse(req: BaseHTTPRequestHandler, raw: bytes) -> dict[str, Any]:
        ctype = req.headers.get("Content-Type", "")
        query = {k: v[-1] for k, v in parse_qs(urlparse(req.path).query).items()}
        if not raw:
            return query
        if "json" in ctype:
            return {**query, **json.loads(raw)}
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        for key in ("blocks", "attachments", "metadata"):
            if isinstance(params.get(key), str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(params[key])
        return {**query, **params}

    @staticmethod
    def _send(
        req: BaseHTTPRequestHandler, status: int, body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(body).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json; charset=utf-8")
        req.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(data)

    @staticmethod
    def _send_html(req: BaseHTTPRequestHandler, status: int, page: str) -> None:
        data = page.encode()
        req.send_response(status)
        req.send_header("Content-Type", "text/html; charset=utf-8")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def _take_failure(self, method: str, params: dict[str, Any]) -> _Failure | None:
        for f in self._failures.get(method, []):
            if f.times > 0 and (f.channel is None or f.channel == params.get("channel")):
                f.times -= 1
                return f
        return None

    def _next_ts(self) -> str:
        self._seq += 1
        return f"{self._ts}.{self._seq:06d}"

    def _channel_error(self, channel_id: str | None, *, need_member: bool) -> str | None:
        ch = self.channels.get(channel_id or "")
        if ch is None or not ch.exists:
            return "channel_not_found"
        if ch.is_archived:
            return "is_archived"
        if need_member and not ch.is_member:
            return "not_in_channel"
        return None

    def _dispatch(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        return handler(p) if handler else {"ok": True}

    def _m_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
                "team": "Fake Lab", "user": "paperbot", "url": "https://fake.slack.com/"}

    def _m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = p.get("channel")
        err = self._channel_error(channel, need_member=True)
        if err:
            return {"ok": False, "error": err}
        if not p.get("text") and not p.get("blocks"):
            return {"ok": False, "error": "no_text"}
        msg = {
            "type": "message", "ts": self._next_ts(), "user": BOT_USER_ID, "bot_id": BOT_ID,
            "text": p.get("text", ""), "blocks": p.get("blocks") or [],
        }
        if p.get("thread_ts"):
            msg["thread_ts"] = str(p["thread_ts"])
        if p.get("metadata"):
            msg["metadata"] = p["metadata"]
        self.messages.setdefault(channel, []).append(msg)
        return {"ok": True, "channel": channel, "ts": msg["ts"], "message": msg}

    def _m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        err = self._channel_error(p.get("channel"), need_member=True)
        if err:
            return {"ok": False, "error": err}
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        err = self._channel_error(p.get("channel"), need_member=True)
        if err:
            return {"ok": False, "error": err}
        oldest = float(p.get("oldest") or 0)
        msgs = [
            self._public(m, p) for m in self.messages.get(p["channel"], [])
            if "thread_ts" not in m or m["thread_ts"] == m["ts"]
        ]
        msgs = [m for m in msgs if float(m["ts"]) > oldest]
        limit = int(p.get("limit") or 100)
        return {"ok": True, "messages": list(reversed(msgs))[:limit], "has_more": False}

    def _m_conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        err = self._channel_error(p.get("channel"), need_member=True)
        if err:
            return {"ok": False, "error": err}
        ts = str(p.get("ts"))
        msgs = [
            self._public(m, p) for m in self.messages.get(p["channel"], [])
            if m["ts"] == ts or m.get("thread_ts") == ts
        ]
        if not msgs:
            return {"ok": False, "error": "thread_not_found"}
        return {"ok": True, "messages": msgs, "has_more": False}

    @staticmethod
    def _public(m: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
        """Slack returns metadata only when include_all_metadata is set."""
        if str(p.get("include_all_metadata", "")).lower() in ("1", "true"):
            return dict(m)
        return {k: v for k, v in m.items() if k != "metadata"}

    def _m_conversations_join(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self.channels.get(p.get("channel") or "")
        if ch is None or not ch.exists:
            return {"ok": False, "error": "channel_not_found"}
        if ch.is_archived:
            return {"ok": False, "error": "is_archived"}
        if ch.is_private and not ch.is_member:
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        ch.is_member = True
        return {"ok": True, "channel": {"id": ch.id, "name": ch.name}}

    def _m_conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self.channels.get(p.get("channel") or "")
        if ch is None or not ch.exists:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": {
            "id": ch.id, "name": ch.name, "is_private": ch.is_private,
            "is_archived": ch.is_archived, "is_member": ch.is_member, "is_channel": True,
        }}

    def _m_conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        """A DM with one known user: channel "D" + the user id (the same on every call)."""
        user = str(p.get("users") or "")
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        dm = self.channels.get("D" + user) or self.add_channel("D" + user, user.lower())
        return {"ok": True, "channel": {"id": dm.id}}

    def _m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(p.get("user") or "")
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {**user, "tz_offset": 0}}

    # --- link unfurls (issue 11) --------------------------------------------------------
    def _m_chat_unfurl(self, p: dict[str, Any]) -> dict[str, Any]:
        """Slack's checks: a map of URL -> attachment, and a message to attach it to."""
        unfurls = p.get("unfurls")
        if isinstance(unfurls, str):
            unfurls = json.loads(unfurls)
        if not isinstance(unfurls, dict) or not unfurls:
            return {"ok": False, "error": "invalid_unfurls"}
        if not (p.get("unfurl_id") and p.get("source")) and not (p.get("channel") and p.get("ts")):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    def _m_chat_getPermalink(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(p.get("channel") or ""), str(p.get("message_ts") or "")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": channel,
                "permalink": f"https://fakelab.slack.com/archives/{channel}/p{ts.replace('.', '')}"}

    # --- Socket Mode (added for the Slack app's tests) ---------------------------------
    # Set `socket_mode_url` (e.g. a tests/listeners/socket_fake.FakeSocketMode's url) and
    # apps.connections.open hands it to the app, as Slack does with its wss:// URL.
    socket_mode_url: str | None = None

    def _m_apps_connections_open(self, p: dict[str, Any]) -> dict[str, Any]:
        if not self.socket_mode_url:
            return {"ok": False, "error": "socket_mode_not_enabled"}
        return {"ok": True, "url": self.socket_mode_url}

    # --- App Home (added for tests/home) ------------------------------------------------
    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The last view published to `user_id`'s Home tab."""
        with self._lock:
            views = self.home_views.get(user_id) or []
            return views[-1] if views else None

    def _m_views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        user = str(p.get("user_id") or "")
        view = p.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not user:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        if len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_blocks"}
        self.home_views.setdefault(user, []).append(view)
        return {"ok": True, "view": {"id": f"V{len(self.home_views[user]):08d}", **view}}

    def _m_users_conversations(self, p: dict[str, Any]) -> dict[str, Any]:
        """The channels set in `member_of[user]` (unknown users: none), one page of
        `limit` at a time with Slack's cursor."""
        ids = self.member_of.get(str(p.get("user") or ""), [])
        start = int(p.get("cursor") or 0)
        limit = int(p.get("limit") or 100)
        page = ids[start:start + limit]
        nxt = str(start + limit) if start + limit < len(ids) else ""
        chans = [{"id": c, "name": self.channels[c].name if c in self.channels else c.lower()}
                 for c in page]
        return {"ok": True, "channels": chans, "response_metadata": {"next_cursor": nxt}}

    # --- files upload v2 (added for tests/library) ---------------------------------------
    # files.getUploadURLExternal hands out an upload_url served by this fake; the bytes
    # POSTed there are kept; files.completeUploadExternal shares the file into channel_id.
    def shared_files(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Completed uploads (filename, title, data, channel, initial_comment)."""
        with self._lock:
            return [u for u in self.uploads.values() if u.get("channel")
                    and (channel is None or u["channel"] == channel)]

    def _m_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        filename, length = str(p.get("filename") or ""), str(p.get("length") or "")
        if not filename or not length.isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self.uploads) + 1:08d}"
        self.uploads[file_id] = {"id": file_id, "filename": filename, "length": int(length),
                                 "data": None, "channel": None}
        return {"ok": True, "file_id": file_id,
                "upload_url": f"{self.base_url}/upload/v1/{file_id}"}

    def _upload_bytes(self, req: BaseHTTPRequestHandler, file_id: str, raw: bytes) -> None:
        with self._lock:
            upload = self.uploads.get(file_id)
            if upload is not None:
                upload["data"] = raw
        if upload is None:
            self._send(req, 404, {"ok": False, "error": "file_not_found"})
            return
        self._send(req, 200, {"ok": True})

    def _m_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        files = p.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        channel = p.get("channel_id")
        if channel and (error := self._channel_error(str(channel), need_member=False)):
            return {"ok": False, "error": error}
        done = []
        for f in files:
            upload = self.uploads.get(str(f.get("id")))
            if upload is None or upload["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            if len(upload["data"]) != upload["length"]:
                return {"ok": False, "error": "file_upload_size_mismatch"}
            upload.update(channel=channel, title=f.get("title"),
                          initial_comment=p.get("initial_comment"))
            done.append({"id": upload["id"], "name": upload["filename"],
                         "title": f.get("title")})
        return {"ok": True, "files": done}
