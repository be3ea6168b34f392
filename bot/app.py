"""The Bolt app factory: one App per process (or per test), built around a Services.

Nothing is created at import time. Listeners are grouped by Slack surface in
bot/listeners/ and stay thin; they find the process's Services in `context["services"]`
and hand slow work (search, Slack calls) to `context["background"]`, so Bolt's own
threads only ever parse and ack, and the 3-second window holds whatever the corpus size.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Config
from bot.services import Services
from storage.events import claim_event

log = logging.getLogger(__name__)

ACK_WORKERS = 16  # Bolt's listener threads: parse + ack only
ANSWER_WORKERS = 8  # searches and Slack calls after the ack


def make_client(config: Config) -> WebClient:
    """The Web API client: honours Retry-After on 429s and retries dropped connections."""
    return WebClient(
        token=str(config.slack_bot_token) or None,
        base_url=config.slack_api_url,
        timeout=15,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


class Background:
    """Runs the slow half of an answer off Bolt's ack path and logs what fails there."""

    def __init__(self, workers: int = ANSWER_WORKERS) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="paperbot-answer")

    def __call__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        return self._pool.submit(self._run, fn, args, kwargs)

    @staticmethod
    def _run(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        try:
            return fn(*args, **kwargs)
        except SlackApiError as exc:
            log.error("Slack API error in %s: %s", fn.__name__, exc.response.get("error"))
        except Exception:
            log.exception("answer failed in %s", fn.__name__)
        return None

    def shutdown(self, wait: bool = True) -> None:
        """Finish the answers already started (graceful stop), drop nothing silently."""
        self._pool.shutdown(wait=wait)


def create_app(services: Services, *, client: WebClient | None = None) -> App:
    """A Bolt app answering /papers, @mentions and buttons from `services`' library."""
    from bot.listeners import register_all

    config = services.config
    app = App(
        client=client or make_client(config),
        signing_secret=str(config.slack_signing_secret) or None,
        process_before_response=False,
        request_verification_enabled=True,
        listener_executor=ThreadPoolExecutor(ACK_WORKERS, thread_name_prefix="paperbot-ack"),
        name="paperbot",
    )
    background = Background()
    app.paperbot_background = background  # type: ignore[attr-defined]  # for shutdown

    @app.middleware
    def attach_services(context: dict, next: Callable[[], None]) -> None:
        context["services"] = services
        context["background"] = background
        next()

    @app.middleware
    def answer_each_event_once(
        body: dict, request: Any, logger: logging.Logger, next: Callable[[], None]
    ) -> BoltResponse | None:
        """Slack retries events (X-Slack-Retry-Num); the first process to claim one answers."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id:
            retry = (request.headers.get("x-slack-retry-num") or [None])[0]
            try:
                first = claim_event(services.db, str(event_id))
            except SQLAlchemyError as exc:
                # Database busy or down: answer Slack's first delivery, skip its retries.
                first = retry is None
                logger.warning(
                    "could not record event %s (%s); %s", event_id, type(exc).__name__,
                    "answering" if first else "skipping the retry",
                )
            if not first:
                logger.info("event %s already answered; skipping (retry %s)", event_id, retry)
                return BoltResponse(status=200, body="")
        next()
        return None

    @app.error
    def log_listener_error(error: Exception, logger: logging.Logger) -> None:
        if isinstance(error, SlackApiError):
            logger.error("Slack API error: %s", error.response.get("error"))
        else:
            logger.error("listener failed: %s", type(error).__name__, exc_info=error)

    register_all(app)
    return app
