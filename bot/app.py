"""The Bolt app factory: one App per process (or per test), built around a Services.

Nothing is created at import time. Listeners are grouped by Slack surface in
bot/listeners/ and stay thin; they find the process's Services in `context["services"]`,
the worker lanes in `context["workers"]` and the request's receipt in `context["receipt"]`.
A listener runs on the HTTP request's own thread (`process_before_response=True`) and only
parses, claims, acks and hands off: the slow half of every answer runs on a lane
(bot/listeners/workers.py), so the 3-second window holds whatever the corpus size. Bolt's
other mode runs listeners on a second pool and has the request thread poll for the ack
every 10 ms: 10 of the 13 ms of a quiet ack were that sleep, and under a burst the pool
queued acks past Slack's window (Bolt then answers 404 and the answer arrives anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import oauth, slack_api
from bot.config import Config
from bot.listeners.receipts import AnswerOnce
from bot.listeners.workers import Workers
from bot.oauth import Installations
from bot.services import Services

log = logging.getLogger(__name__)

# slack_sdk logs every failed attempt itself ("Failed to send a request…", "Failed to decode
# Slack API response: <html>…"); our callers log one line per failed request with the code
# from bot.slack_api.describe, so these duplicates are dropped.
_SDK_NOISE = ("Failed to send a request to Slack API server", "Failed to decode Slack API")


class _DropSdkFailureLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_SDK_NOISE)


def quiet_slack_sdk() -> None:
    """Install the filter once on slack_sdk's Web API and webhook (response_url) loggers."""
    for name in ("slack_sdk.web.base_client", "slack_sdk.webhook.client"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropSdkFailureLines) for f in logger.filters):
            logger.addFilter(_DropSdkFailureLines())


def make_client(config: Config) -> WebClient:
    """The app's Web API client, from the one factory (bot.slack_api.make_client).

    Kept here for callers that import it from bot.app (bot/server.py, digest tests). In
    OAuth mode it carries no token: Bolt sets each request's workspace token on its copy.
    """
    token = None if config.oauth else str(config.slack_bot_token)
    return slack_api.make_client(token, config.slack_api_url)


def create_app(services: Services, *, client: WebClient | None = None) -> App:
    """A Bolt app answering /papers, @mentions and buttons from `services`' library."""
    from bot.listeners import register_all

    quiet_slack_sdk()
    config = services.config
    installations: Installations | None = None
    multi: dict[str, Any] = {}
    if config.oauth:
        # Any workspace installs it; each request runs with its own workspace's token.
        installations = Installations(config, services.db)
        multi = {
            "installation_store": installations,
            "authorize": oauth.authorize(config, installations),
            "oauth_settings": oauth.oauth_settings(config, installations, services.db),
            "before_authorize": oauth.installed_only(installations),
        }
    app = App(
        client=client or make_client(config),
        signing_secret=str(config.slack_signing_secret) or None,
        process_before_response=True,  # see the module docstring
        request_verification_enabled=True,
        name="paperbot",
        **multi,
    )
    app.paperbot_installations = installations  # type: ignore[attr-defined]  # None: one workspace
    workers = Workers()
    app.paperbot_background = workers  # type: ignore[attr-defined]  # for shutdown
    answer_once = AnswerOnce(services.db)
    workers.on_shutdown(answer_once.retire)

    @app.middleware
    def attach_services(context: dict, next: Callable[[], None]) -> None:
        context["services"] = services
        context["workers"] = workers
        context["background"] = workers  # the answers lane, for older callers
        next()

    if installations is not None:
        app.middleware(oauth.forget_uninstalled(installations))

    @app.middleware
    def answer_each_request_once(
        body: dict, request: Any, context: dict, next: Callable[[], None]
    ) -> BoltResponse | None:
        """Events, commands and clicks each carry a unique id; copies are skipped."""
        return answer_once(body, request, context, next)

    @app.error
    def log_listener_error(error: Exception, logger: logging.Logger) -> None:
        if isinstance(error, SlackApiError):
            logger.error("Slack API error: %s", slack_api.describe(error).code)
        else:
            logger.error("listener failed: %s", type(error).__name__, exc_info=error)

    register_all(app)
    return app
