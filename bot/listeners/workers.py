"""The executors that run the slow half of an answer, off Bolt's ack path.

Three lanes, so one slow dependency cannot starve the others: `answers` searches and posts
to response_urls (fast, local), `slack_calls` makes Web API calls (chat.postMessage,
chat.postEphemeral, conversations.join, users.info), which can take up to the client's
timeout when Slack hangs, and `lookups` unfurls paper links, which wait on arXiv's pacing
(one request per 3 s) and on outside servers: a burst of links must not hold up mentions,
buttons or App Home. Each lane has a bounded queue: past it, work is refused with one
(throttled) log line instead of piling up behind a dead dependency.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.listeners.failures import database_trouble, throttled

log = logging.getLogger(__name__)

ANSWER_WORKERS = 8
SLACK_CALL_WORKERS = 8
QUEUE_LIMIT = 256  # waiting tasks per lane, beyond the ones running
# Link unfurls: arXiv's pacing serializes them anyway, so more threads would only wait.
LOOKUP_WORKERS = 2
LOOKUP_QUEUE_LIMIT = 32


class Lane:
    """A thread pool with a bounded queue that logs what fails inside it."""

    def __init__(self, name: str, workers: int, queue_limit: int = QUEUE_LIMIT) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=f"paperbot-{name}")
        self._slots = threading.BoundedSemaphore(workers + queue_limit)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future | None:
        """Run `fn` soon; None (and a throttled log line) when the lane is full or stopped."""
        if not self._slots.acquire(blocking=False):
            throttled.warning(f"full:{self.name}", "%s queue is full; dropped %s",
                              self.name, fn.__name__)
            return None
        try:
            future = self._pool.submit(self._run, fn, args, kwargs)
        except RuntimeError:  # shut down
            self._slots.release()
            log.warning("%s stopped; dropped %s", self.name, fn.__name__)
            return None
        future.add_done_callback(lambda _: self._slots.release())
        return future

    @staticmethod
    def _run(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        try:
            return fn(*args, **kwargs)
        except SQLAlchemyError as exc:
            database_trouble(exc, f"running {fn.__name__}")
        except SlackApiError as exc:
            log.error("Slack API error in %s: %s", fn.__name__, exc.response.get("error"))
        except Exception:
            log.exception("answer failed in %s", fn.__name__)
        return None

    def shutdown(self, wait: bool = True, *, drop_queued: bool = False) -> None:
        """Stop; the tasks running finish, and the queued ones too unless `drop_queued`."""
        self._pool.shutdown(wait=wait, cancel_futures=drop_queued)


class Workers:
    """The app's three lanes; `shutdown` finishes the answers in flight (graceful stop)."""

    def __init__(
        self, answer_workers: int = ANSWER_WORKERS, slack_workers: int = SLACK_CALL_WORKERS
    ) -> None:
        self.answers = Lane("answers", answer_workers)
        self.slack_calls = Lane("slack-calls", slack_workers)
        self.lookups = Lane("lookups", LOOKUP_WORKERS, LOOKUP_QUEUE_LIMIT)
        self._on_shutdown: list[Callable[[], None]] = []

    def on_shutdown(self, fn: Callable[[], None]) -> None:
        """Run `fn` once the lanes have finished (e.g. give up this app's open claims)."""
        self._on_shutdown.append(fn)

    def __call__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future | None:
        """Old `context["background"](fn, …)` callers: the answers lane."""
        return self.answers.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True) -> None:
        # Answers hand Web API calls to the other lane, so they stop first.
        self.answers.shutdown(wait=wait)
        # A card is a nicety: queued lookups (each up to ~20 s when arXiv hangs) are dropped
        # rather than holding a graceful stop for minutes.
        self.lookups.shutdown(wait=wait, drop_queued=True)
        self.slack_calls.shutdown(wait=wait)
        for fn in self._on_shutdown:
            fn()
