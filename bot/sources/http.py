"""GETs to paper sources (arXiv, the Hub's daily papers): paced, bounded, polite about 429/503.

arXiv answers a burst with 429, and its OAI-PMH interface answers 503 with Retry-After
while it prepares a large answer: both are waited out (seconds or an HTTP date), up to
MAX_RETRY_AFTER per wait and `tries` requests in all; a longer wait is refused with a clear
message rather than hanging a CLI for an hour. Other failures raise SourceError.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

log = logging.getLogger(__name__)

USER_AGENT = "PaperBot/0.1 (+https://github.com/paperbot/paperbot)"
TIMEOUT = httpx.Timeout(60.0, connect=10.0)  # a day of cs.* is a few MB
TRIES = 5
BACKOFF = 2.0  # seconds before a retry that came without Retry-After; doubles each time
MAX_RETRY_AFTER = 300.0
MAX_BODY = 64_000_000  # bytes: a day's feed of all cs.* is ~3 MB, an OAI page ~2 MB


class SourceError(RuntimeError):
    """arXiv could not give a usable answer; the message says what failed (nothing stored)."""


class Pacer(Protocol):
    def wait(self) -> None: ...


class Unpaced:
    """For sources with no pacing terms (the Hub's daily papers)."""

    def wait(self) -> None:
        return None


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def get(
    client: httpx.Client,
    url: str,
    params: dict[str, str] | None,
    *,
    pacer: Pacer,
    what: str,
    tries: int = TRIES,
    backoff: float = BACKOFF,
    max_retry_after: float = MAX_RETRY_AFTER,
) -> bytes:
    """The body of a 200 answer; every request (retries too) waits for its paced turn."""
    last = ""
    for attempt in range(1, tries + 1):
        pacer.wait()
        wait = backoff * 2 ** (attempt - 1)
        try:
            resp = client.get(url, params=params)
        except httpx.TimeoutException:
            last = "timed out"
        except httpx.TransportError as exc:
            last = f"connection failed ({type(exc).__name__})"
        else:
            status = resp.status_code
            if status == 200:
                if len(resp.content) > MAX_BODY:
                    raise SourceError(f"{what}: the answer is over {MAX_BODY:,} bytes")
                return resp.content
            if status != 429 and status < 500:
                raise SourceError(f"{what}: HTTP {status}")
            last = f"HTTP {status}"
            asked = retry_after(resp.headers.get("Retry-After"))
            if asked is not None:
                if asked > max_retry_after:
                    raise SourceError(
                        f"{what}: HTTP {status}, the server asks to retry after {asked:.0f} s; "
                        "try again later"
                    )
                wait = asked
        if attempt < tries:
            log.warning("%s: %s; retrying in %.1f s (%d/%d)", what, last, wait, attempt, tries)
            time.sleep(wait)
    raise SourceError(f"{what}: {last} after {tries} tries")
