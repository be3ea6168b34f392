"""Transport for the Slack app: HTTP under waitress, or Socket Mode with an app token.

HTTP: `POST /slack/events` goes to Bolt's WSGI adapter (signature checked there),
`GET /health` answers `{"ok": true, "papers": N}` from the warm in-memory index (cheap).
`serve()` checks the credentials first (a missing one is a ConfigError naming the variable
and where Slack shows it), warms the search index, starts the digest scheduler when
configured, and stops gracefully on SIGTERM: in-flight requests and answers finish.
`HttpServer` is the same server, startable and stoppable in-process (tests use port 0).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.error import URLError

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from waitress import create_server, wasyncore

from bot.app import create_app, make_client
from bot.config import Config, ConfigError
from bot.services import Services

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/health"
HTTP_THREADS = 8
LOOP_TICK = 0.2  # seconds between checks for a stop request
DRAIN_SECONDS = 10.0  # how long requests in flight may take to finish on shutdown
MAX_BODY_BYTES = 1_048_576  # Slack payloads are a few KB

WHERE = {
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-…) on your Slack app's "
    "'OAuth & Permissions' page at https://api.slack.com/apps",
    "SLACK_SIGNING_SECRET": "the Signing Secret under 'Basic Information' → "
    "'App Credentials' at https://api.slack.com/apps",
}

StartResponse = Callable[..., Any]


def check_credentials(config: Config) -> None:
    """Raise ConfigError naming every missing setting and where to copy it from."""
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


def build_app(services: Services, client: WebClient) -> App:
    """create_app, with Slack's verdict on the token turned into a user-fixable error."""
    try:
        return create_app(services, client=client)
    except BoltError:
        raise ConfigError(
            "Slack rejected SLACK_BOT_TOKEN (auth.test failed). Copy the current "
            f"{WHERE['SLACK_BOT_TOKEN']}."
        ) from None
    except (URLError, OSError) as exc:
        raise ConfigError(
            f"cannot reach the Slack API at {services.config.slack_api_url} "
            f"({type(exc).__name__}); check the network or SLACK_API_URL."
        ) from None


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


def make_wsgi_app(services: Services, app: App) -> Callable[..., Iterable[bytes]]:
    """The WSGI application: Slack's endpoint and a health check, nothing else."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            try:
                papers = services.search.size  # the warm index: no database round trip
            except Exception as exc:
                log.warning("health check failed: %s", type(exc).__name__)
                return _json(start_response, "503 Service Unavailable", {"ok": False})
            return _json(start_response, "200 OK", {"ok": True, "papers": papers})
        if path == EVENTS_PATH:
            if method != "POST":
                return _json(start_response, "405 Method Not Allowed", {"ok": False})
            return slack(environ, start_response)
        return _json(start_response, "404 Not Found", {"ok": False, "error": "not_found"})

    return wsgi


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
        self._server = create_server(
            make_wsgi_app(services, app),
            host=host,
            port=port,
            threads=threads,
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
    client = make_client(config)
    app = build_app(services, client)
    scheduler = start_digest_scheduler(services, client)
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

    web_client = WebClient(base_url=config.slack_api_url, retry_handlers=app.client.retry_handlers)
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
