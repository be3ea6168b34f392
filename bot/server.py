"""Transport for the Slack app: HTTP under waitress, or Socket Mode with an app token.

HTTP: `POST /slack/events` is read (at most MAX_BODY_BYTES) and its Slack signature checked
here, on the raw bytes, before anything parses it; only signed requests reach Bolt's WSGI
adapter, so junk gets a short 401 and at most one rate-limited log line, never a 500, a
traceback or its body in the log. A signed body of a shape Slack never sends (a `payload`
that is not a JSON object, JSON that is not an object) gets a quiet 400 before Bolt could
choke on it (malformed_reason). `GET /health` answers `{"ok": true, "papers": N,
"database": "ok"}`, or 503 when a cheap `SELECT 1` (cached ~1 s) cannot reach the database.
`serve()` checks the credentials first (a missing one is a ConfigError naming the variable
and where Slack shows it), warms the search index, starts the digest scheduler when
configured, and stops gracefully on SIGTERM: in-flight requests and answers finish.
`HttpServer` is the same server, startable and stoppable in-process (tests use port 0).
In OAuth mode (bot/oauth.py) `GET /slack/install` and `GET /slack/oauth_redirect` go to
Bolt's OAuth flow too: a browser calls them, so the state (cookie + database) protects them,
not Slack's signature.
"""

from __future__ import annotations

import io
import json
import logging
import re
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from waitress import create_server, wasyncore

from bot.app import create_app
from bot.config import Config, ConfigError
from bot.oauth import INSTALL_PATH
from bot.services import Services
from bot.slack_api import Kind, describe, make_client
from storage.db import Database, explain

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/health"
HTTP_THREADS = 8
# Open connections waitress keeps (its default is 100). Clients keep idle connections alive,
# and past the limit waitress stops accepting until one closes (idle ones after
# channel_timeout, 120 s): a burst from a client holding 100 idle ones waited minutes for its
# ack. Kept well under select()'s 1024 descriptors, which waitress's loop uses.
HTTP_CONNECTION_LIMIT = 500
LOOP_TICK = 0.2  # seconds between checks for a stop request
DRAIN_SECONDS = 10.0  # how long requests in flight may take to finish on shutdown
MAX_BODY_BYTES = 1_048_576  # Slack payloads are a few KB
SIGNATURE_MAX_AGE = 5 * 60  # seconds; Slack's own replay window
REJECT_LOG_EVERY = 10.0  # seconds between "rejected request" log lines (a flood stays small)
HEALTH_CACHE_SECONDS = 1.0  # a load balancer polling /health hits the database once a second
HEALTH_TIMEOUT = 2.0  # seconds a health probe may take before the database counts as down

WHERE = {
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-…) on your Slack app's "
    "'OAuth & Permissions' page at https://api.slack.com/apps",
    "SLACK_SIGNING_SECRET": "the Signing Secret under 'Basic Information' → "
    "'App Credentials' at https://api.slack.com/apps",
}

StartResponse = Callable[..., Any]


def check_credentials(config: Config) -> None:
    """Raise ConfigError naming every missing setting and where to copy it from."""
    if config.oauth:
        _check_oauth(config)
        return
    needed = ["SLACK_BOT_TOKEN"]
    if not config.slack_app_token:  # Socket Mode needs no signing secret
        needed.append("SLACK_SIGNING_SECRET")
    values = {
        "SLACK_BOT_TOKEN": config.slack_bot_token,
        "SLACK_SIGNING_SECRET": config.slack_signing_secret,
    }
    missing = [name for name in needed if not values[name]]
    if missing:
        lines = [f"  {name}: {WHERE[name]}" for name in missing]
        raise ConfigError(
            f"`paperbot serve` needs {' and '.join(missing)} in the environment.\n"
            + "\n".join(lines)
            + "\n(Socket Mode instead of HTTP: also set SLACK_APP_TOKEN, an app-level token "
            "xapp-… with connections:write, under 'Basic Information' → 'App-Level Tokens'.)"
        )


def _check_oauth(config: Config) -> None:
    """OAuth mode: HTTP only (the install pages are web pages) and a signing secret."""
    if config.slack_app_token:
        raise ConfigError(
            "SLACK_APP_TOKEN (Socket Mode) cannot go with OAuth installs: /slack/install and "
            "/slack/oauth_redirect are served over HTTP. Unset SLACK_APP_TOKEN to distribute "
            "PaperBot, or set SLACK_BOT_TOKEN to run it in one workspace."
        )
    if not config.slack_signing_secret:
        raise ConfigError(
            "`paperbot serve` needs SLACK_SIGNING_SECRET in the environment.\n"
            f"  SLACK_SIGNING_SECRET: {WHERE['SLACK_SIGNING_SECRET']}"
        )


def build_app(services: Services, client: WebClient) -> App:
    """create_app, with a failed start-up `auth.test` turned into an error the user can act on.

    Three different problems, three different fixes: Slack refused the token (copy a new
    one), Slack answered with an HTTP 5xx or a non-JSON page (wait, or fix SLACK_API_URL),
    or nothing answered at all (network). Saying "rejected SLACK_BOT_TOKEN" for the last two
    sends people rotating a token that was fine.
    """
    api = services.config.slack_api_url
    try:
        return create_app(services, client=client)
    except BoltError as exc:
        cause = exc.__context__  # Bolt raises BoltError while handling the SlackApiError
        if not isinstance(cause, SlackApiError):
            raise ConfigError(f"cannot start the Slack app: {exc}") from None
        raise ConfigError(_auth_test_failure(cause, api)) from None
    except (SlackApiError, OSError) as exc:  # URLError, refused, reset, timed out
        raise ConfigError(_auth_test_failure(exc, api)) from None


def _auth_test_failure(exc: BaseException, api: str) -> str:
    """One line saying which of the three start-up problems this is (no token, no body)."""
    failed = describe(exc)
    if failed.kind is Kind.WORKSPACE:
        return (
            f"Slack rejected SLACK_BOT_TOKEN (auth.test: {failed.code}). Copy "
            f"{WHERE['SLACK_BOT_TOKEN']} again."
        )
    if failed.code == "slack_unreachable":
        return (
            f"cannot reach the Slack API at {api} ({type(exc).__name__}); "
            "check the network or SLACK_API_URL. SLACK_BOT_TOKEN was not checked."
        )
    if failed.code == "slack_unavailable":
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return (
            f"the Slack API at {api} did not answer auth.test usably (HTTP {status}, "
            "or not a Slack JSON answer): Slack may be down (https://slack-status.com), or "
            "SLACK_API_URL points elsewhere. Try again shortly; SLACK_BOT_TOKEN was not checked."
        )
    return (
        f"Slack could not check SLACK_BOT_TOKEN right now (auth.test: {failed.code}); "
        "try again shortly."
    )


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class SignatureGate:
    """Slack's request signature, checked on the raw bytes before anything parses them.

    Bolt checks it too, but only after decoding the body as UTF-8 and with a timestamp it
    int()s unguarded (junk → 500 and a traceback), and it logs each failure with the whole
    body. Here every malformed input is just "not signed": a reason code, no exception.
    """

    def __init__(self, signing_secret: str, *, max_age: float = SIGNATURE_MAX_AGE) -> None:
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.max_age = max_age

    def reject_reason(
        self, body: bytes, timestamp: str | None, signature: str | None
    ) -> str | None:
        """None when Slack signed this body; else a short, fixed reason code (safe to log)."""
        if self._verifier is None:
            return "no_signing_secret"
        if not timestamp or not signature:
            return "missing_headers"
        if not _TIMESTAMP.fullmatch(timestamp):
            return "bad_timestamp"
        if abs(time.time() - int(timestamp)) > self.max_age:
            return "stale_timestamp"
        try:
            body.decode("utf-8")  # SignatureVerifier decodes it; Slack only sends UTF-8
        except UnicodeDecodeError:
            return "not_utf8"
        if not self._verifier.is_valid(body, timestamp, signature):
            return "bad_signature"
        return None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON Slack sends")


def _json_object(text: str) -> dict[str, Any] | None:
    """`text` as a JSON object (NaN/Infinity refused: Slack never sends them), else None."""
    try:
        data = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def malformed_reason(body: bytes, content_type: str | None) -> str | None:
    """None when a signed body has a shape Slack sends; else a short, fixed reason code.

    Mirrors how Bolt reads a body (slack_bolt.request.internals.parse_body: JSON when the
    type says so or it starts with "{", else a form whose `payload` field is JSON), so that
    what Bolt would choke on (a 500 and a traceback) or find no listener for (a 404) gets a
    quiet 400 here instead. Signed junk means a leaked secret or a broken proxy: worth a
    log line, never a traceback."""
    text = body.decode("utf-8")  # the gate checked it is UTF-8
    if not text.strip():
        return "empty_body"
    if content_type == "application/json" or text.startswith("{"):
        data = _json_object(text)
        if data is None:
            return "bad_json"
        return None if isinstance(data.get("type"), str) else "no_type"
    fields = parse_qs(text, keep_blank_values=True)
    if "payload" in text:
        payloads = fields.get("payload") or []
        if len(payloads) != 1:
            return "bad_payload_field"
        data = _json_object(payloads[0])
        if data is None:
            return "bad_payload_json"
        return None if isinstance(data.get("type"), str) else "no_type"
    if "command" in fields or "ssl_check" in fields:
        return None
    return "unknown_form"


class RateLimitedWarning:
    """At most one log line per `every` seconds, counting the ones it held back.

    A flood of junk requests must not become a flood of log lines (disk, log bills, and
    the real errors scrolled away)."""

    def __init__(self, logger: logging.Logger, every: float = REJECT_LOG_EVERY) -> None:
        self.logger = logger
        self.every = every
        self._lock = threading.Lock()
        self._last = -float("inf")
        self._held = 0

    def __call__(self, msg: str, *args: object) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.every:
                self._held += 1
                return
            held, self._held, self._last = self._held, 0, now
        suffix = f" ({held} more like it since the previous such line)" if held else ""
        self.logger.warning(msg + suffix, *args)


class DatabaseHealth:
    """Whether the database answers a trivial query now, for /health.

    A dedicated one-connection engine (the app's pool may be busy or stuck; a health check
    must not queue behind it) probed on a worker thread and waited for at most `timeout`,
    so a black-holed server can't hang /health. The verdict is cached for `ttl` seconds and
    only changes of state are logged. SQLite gets a fresh read-write (never create)
    connection per probe: a pooled one would keep answering from a deleted file.
    """

    def __init__(
        self, db: Database, *, ttl: float = HEALTH_CACHE_SECONDS, timeout: float = HEALTH_TIMEOUT
    ) -> None:
        self.ttl, self.timeout = ttl, timeout
        self._engine, self._query = _probe_engine(db, timeout)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="paperbot-health")
        self._lock = threading.Lock()
        self._ok = True
        self._checked = -float("inf")
        self._probe: Future[None] | None = None

    def ok(self) -> bool:
        if time.monotonic() - self._checked < self.ttl:
            return self._ok
        # One probe at a time; /health requests arriving meanwhile get the last verdict
        # instead of each holding one of waitress's threads for up to `timeout`.
        if not self._lock.acquire(blocking=False):
            return self._ok
        try:
            if time.monotonic() - self._checked < self.ttl:
                return self._ok
            ok, why = self._run_probe()
            self._checked = time.monotonic()
            if ok != self._ok:
                if ok:
                    log.warning("database reachable again; /health answers 200")
                else:
                    log.error("database unreachable (%s); /health answers 503", why)
            self._ok = ok
            return ok
        finally:
            self._lock.release()

    def _run_probe(self) -> tuple[bool, str]:
        if self._probe is not None and not self._probe.done():
            return False, "the previous check has not returned"
        self._probe = self._pool.submit(self._select_one)
        try:
            self._probe.result(timeout=self.timeout)
        except FutureTimeout:
            return False, f"no answer within {self.timeout:g} s"
        except OperationalError as exc:
            return False, explain(exc)
        except Exception as exc:
            return False, type(exc).__name__
        return True, ""

    def _select_one(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(text(self._query))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._engine.dispose()


def _probe_engine(db: Database, timeout: float) -> tuple[Engine, str]:
    """An engine for health probes on `db`'s database, and the query to run on it."""
    url = make_url(db.url)
    if url.get_backend_name() == "sqlite":
        path = url.database or ":memory:"
        if path == ":memory:":
            return db.engine, "SELECT 1"

        uri = Path(path).expanduser().resolve().as_uri() + "?mode=rw"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, timeout=timeout)

        # Reads the file's first page: a missing, unreadable or corrupt file fails.
        return create_engine("sqlite://", creator=connect, poolclass=NullPool), (
            "SELECT count(*) FROM sqlite_master"
        )
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(1, round(timeout))
    engine = create_engine(
        db.url, pool_size=1, max_overflow=0, pool_timeout=timeout, pool_pre_ping=False,
        pool_recycle=300, connect_args=connect_args,
    )
    return engine, "SELECT 1"


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The request body, or None when it is larger than MAX_BODY_BYTES."""
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return None
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    # waitress has already buffered the whole body (and refused one over its own limit);
    # read one byte more than allowed so a server that did not can't slip a bigger one by.
    body: bytes = stream.read(min(declared, MAX_BODY_BYTES + 1) if declared else MAX_BODY_BYTES + 1)
    return None if len(body) > MAX_BODY_BYTES else body


class PaperBotWSGI:
    """The WSGI application: Slack's endpoint and a health check, nothing else."""

    def __init__(self, services: Services, app: App) -> None:
        self.services = services
        self.slack = SlackRequestHandler(app, path=EVENTS_PATH)
        flow = app.oauth_flow
        self.oauth_paths = (flow.install_path, flow.redirect_uri_path) if flow else ()
        self.gate = SignatureGate(str(services.config.slack_signing_secret))
        self.health = DatabaseHealth(services.db)
        self.warn_rejected = RateLimitedWarning(log)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            return self._health(start_response)
        if path == EVENTS_PATH:
            if method != "POST":
                return _json(start_response, "405 Method Not Allowed", {"ok": False})
            return self._slack(environ, start_response)
        if path in self.oauth_paths:
            # A browser, not Slack: Bolt checks the state (cookie + database), not a signature.
            if method != "GET":
                return _json(start_response, "405 Method Not Allowed", {"ok": False})
            environ["CONTENT_LENGTH"] = "0"
            environ["wsgi.input"] = io.BytesIO(b"")
            return self.slack(environ, start_response)
        return _json(start_response, "404 Not Found", {"ok": False, "error": "not_found"})

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        if not self.health.ok():
            return _json(
                start_response, "503 Service Unavailable", {"ok": False, "database": "unreachable"}
            )
        try:
            papers = self.services.search.size  # the warm index: no database round trip
        except Exception as exc:
            log.warning("health check failed: %s", type(exc).__name__)
            return _json(start_response, "503 Service Unavailable", {"ok": False})
        return _json(start_response, "200 OK", {"ok": True, "papers": papers, "database": "ok"})

    def _slack(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = _read_body(environ)
        if body is None:
            self.warn_rejected("refused a request over %d bytes on %s", MAX_BODY_BYTES, EVENTS_PATH)
            return _json(start_response, "413 Request Entity Too Large",
                         {"ok": False, "error": "too_large"})
        reason = self.gate.reject_reason(
            body,
            environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
            environ.get("HTTP_X_SLACK_SIGNATURE"),
        )
        if reason is not None:
            # The reason is one of our fixed codes; the body and headers are never logged.
            self.warn_rejected(
                "refused a request on %s not signed by Slack (%s, %d bytes)",
                EVENTS_PATH, reason, len(body),
            )
            return _json(start_response, "401 Unauthorized",
                         {"ok": False, "error": "invalid_signature"})
        malformed = malformed_reason(body, environ.get("CONTENT_TYPE"))
        if malformed is not None:
            self.warn_rejected(
                "refused a signed request on %s that Slack would not send (%s, %d bytes)",
                EVENTS_PATH, malformed, len(body),
            )
            return _json(start_response, "400 Bad Request", {"ok": False, "error": "malformed"})
        environ["wsgi.input"] = io.BytesIO(body)  # Bolt reads the bytes we already consumed
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.slack(environ, start_response)

    def close(self) -> None:
        self.health.close()


def make_wsgi_app(services: Services, app: App) -> PaperBotWSGI:
    """The WSGI application served by HttpServer (see PaperBotWSGI)."""
    return PaperBotWSGI(services, app)


class HttpServer:
    """waitress serving make_wsgi_app; run() blocks, stop() may be called from any thread."""

    def __init__(
        self,
        services: Services,
        app: App,
        *,
        host: str = "0.0.0.0",
        port: int = 3000,
        threads: int = HTTP_THREADS,
    ) -> None:
        self.app = app
        self.wsgi = make_wsgi_app(services, app)
        self._server = create_server(
            self.wsgi,
            host=host,
            port=port,
            threads=threads,
            connection_limit=HTTP_CONNECTION_LIMIT,
            ident="paperbot",
            max_request_body_size=MAX_BODY_BYTES,
            clear_untrusted_proxy_headers=True,
        )
        self._stopped = threading.Event()
        self._stop_requested = False
        self._run_thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.effective_port)  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self) -> None:
        """Serve until stop(); then drain: no new connections, requests in flight finish."""
        server = self._server
        self._run_thread = threading.current_thread()
        try:
            while not self._stop_requested:
                wasyncore.loop(timeout=LOOP_TICK, map=server._map, count=1)
            server.accepting = False  # the listening socket leaves the select set
            deadline = time.monotonic() + DRAIN_SECONDS
            while self._busy() and time.monotonic() < deadline:
                wasyncore.loop(timeout=LOOP_TICK, map=server._map, count=1)
        finally:
            # Everything closes from this thread, the loop's own (no cross-thread fd use).
            wasyncore.close_all(server._map)
            server.task_dispatcher.shutdown(timeout=5)
            self.wsgi.close()
            self._stopped.set()

    def _busy(self) -> bool:
        channels = list(self._server.active_channels.values())
        return any(ch.requests or ch.total_outbufs_len for ch in channels)

    def stop(self, timeout: float = DRAIN_SECONDS + 5) -> None:
        """Ask run() to finish (safe from any thread or a signal handler) and wait for it."""
        self._stop_requested = True
        if threading.current_thread() is not self._run_thread:  # else: a signal handler
            self._stopped.wait(timeout)


def start_digest_scheduler(services: Services, client: WebClient) -> Any:
    """The digest scheduler in this process, when configured and installed."""
    if not services.config.run_scheduler:
        return None
    try:
        from bot.digest.scheduler import start_scheduler
    except ImportError:
        log.warning("digest scheduler not installed (bot.digest.scheduler); no digests here")
        return None
    if services.config.oauth:  # each subscription posts with its own workspace's token
        from bot.digest.poster import team_posters

        return start_scheduler(services, client, team_posters(services.config, services.db))
    return start_scheduler(services, client)


def _on_sigterm(stop: Callable[[], None]) -> None:
    """SIGTERM (platforms stopping a dyno/pod) → graceful stop. `stop` only sets a flag:
    the handler runs on the main thread between bytecodes, so it must not take locks."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, frame: Any) -> None:
        log.info("SIGTERM: finishing requests in flight, then stopping")
        stop()

    signal.signal(signal.SIGTERM, handler)


def serve(services: Services) -> None:
    """Run the Slack app until SIGTERM/Ctrl-C (HTTP on $PORT, or Socket Mode)."""
    config = services.config
    check_credentials(config)
    log.info("warming the search index")
    services.search.warm()
    token = None if config.oauth else config.slack_bot_token
    client = make_client(token, config.slack_api_url, retry_connections=True)
    app = build_app(services, client)
    scheduler = start_digest_scheduler(services, client)
    if config.oauth:
        log.info("OAuth mode: workspaces install PaperBot at GET %s", INSTALL_PATH)
    elif config.slack_client_id:
        log.info("SLACK_BOT_TOKEN is set: one workspace; SLACK_CLIENT_ID/SECRET are not used")
    try:
        if config.slack_app_token:
            _serve_socket_mode(app, config)
        else:
            try:
                server = HttpServer(services, app, port=config.port)
            except OSError as exc:
                raise ConfigError(
                    f"cannot listen on port {config.port} ({exc.strerror or exc}); "
                    "set PORT to a free port"
                ) from None
            _on_sigterm(server.stop)
            log.info(
                "PaperBot listening on port %d (POST %s, GET %s)",
                server.port, EVENTS_PATH, HEALTH_PATH,
            )
            server.run()
    finally:
        if scheduler is not None:
            scheduler.shutdown()
        app.paperbot_background.shutdown(wait=True)  # type: ignore[attr-defined]
        log.info("PaperBot stopped")


def _serve_socket_mode(app: App, config: Config) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    # Only apps.connections.open (with the app-level token) goes through this client.
    web_client = make_client(None, config.slack_api_url, retry_connections=True)
    handler = SocketModeHandler(app, app_token=str(config.slack_app_token), web_client=web_client)
    stopping: list[bool] = []
    _on_sigterm(lambda: stopping.append(True))
    handler.connect()
    log.info("PaperBot connected to Slack over Socket Mode")
    try:
        while not stopping:
            time.sleep(LOOP_TICK)
    finally:
        handler.close()
