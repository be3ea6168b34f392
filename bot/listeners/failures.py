"""What the Slack edge says and logs when something it depends on fails.

An outage fails every request the same way, so the log gets one line per kind of failure
(the first occurrence, then a count at most every minute) instead of a traceback per
request, and the user gets a short sentence instead of silence.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger("bot.listeners")

DATABASE_DOWN = "PaperBot can't reach its database, try again shortly."
REPORT_EVERY_SECONDS = 60.0


@dataclass
class _Seen:
    reported_at: float
    since: int = 0  # occurrences not logged since reported_at


class ThrottledLog:
    """One log line per failure kind: the first occurrence, then "N more" every `every` s."""

    def __init__(
        self, logger: logging.Logger, every: float = REPORT_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log, self._every, self._clock = logger, every, clock
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()

    def warning(self, kind: str, msg: str, *args: object) -> bool:
        """Log `msg` unless `kind` was logged within the period; True when it was written."""
        now = self._clock()
        with self._lock:
            seen = self._seen.get(kind)
            if seen is not None and now - seen.reported_at < self._every:
                seen.since += 1
                return False
            more = seen.since if seen is not None else 0
            self._seen[kind] = _Seen(reported_at=now)
        if more:
            msg += f" ({more} more since the last report)"
        self._log.warning(msg, *args)
        return True


throttled = ThrottledLog(log)


def database_trouble(exc: SQLAlchemyError, where: str) -> None:
    """Log a database failure once per kind (a connection-level error gets no traceback:
    it says nothing about our code, and an outage would repeat it for every request)."""
    kind = type(exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc).__name__
    if (isinstance(exc, DBAPIError) and exc.connection_invalidated) or _unreachable(exc):
        throttled.warning(f"db:{kind}", "database unreachable (%s) while %s", kind, where)
    else:
        throttled.warning(f"db:{kind}", "database error (%s) while %s: %s", kind, where,
                          str(exc).splitlines()[0][:200])


def _unreachable(exc: SQLAlchemyError) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError | PoolTimeout)
