"""The digest when its database goes away mid-cycle.

Every channel's step would fail the same way, so the cycle stops at the first sign (no
traceback per channel: it says nothing about our code), the log gets one line per failure
kind (bot.listeners.failures.database_trouble, as the Slack edge does) and
`paperbot digest --once` one line for the person. Nothing is lost: a run's posts are
recorded "intent" before they are sent, and the next cycle resumes it (cycle.py, rule 4).
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.listeners.failures import database_trouble


class DatabaseGone(Exception):
    """The database stopped answering during a cycle; `cause` is what SQLAlchemy raised.
    Already logged (database_trouble) by whoever raised it."""

    def __init__(self, cause: SQLAlchemyError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def is_unreachable(exc: BaseException) -> bool:
    """A connection-level failure (refused, cut, pool exhausted) rather than a bad query."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | PoolTimeout)


def stop_if_unreachable(exc: BaseException, where: str) -> None:
    """Raise DatabaseGone, after one log line per failure kind, when `exc` says the database
    is unreachable; return (for the caller's own handling) otherwise."""
    if isinstance(exc, SQLAlchemyError) and is_unreachable(exc):
        database_trouble(exc, where)
        raise DatabaseGone(exc) from exc


def cause_of(exc: SQLAlchemyError | DatabaseGone) -> SQLAlchemyError:
    return exc.cause if isinstance(exc, DatabaseGone) else exc


def problem_line(exc: SQLAlchemyError, safe_url: str) -> str:
    """`paperbot digest --once`'s last line: what failed and that the next run resumes."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
    detail = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]
    if is_unreachable(exc):
        return (
            f"PaperBot can't reach its database at {safe_url} ({detail}); the digest "
            "stopped, and the next run resumes it where it stopped"
        )
    return f"digest: database error at {safe_url}: {detail}"
