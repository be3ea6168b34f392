"""Step 2, fetch: the Hugging Face daily-papers lists, validated into paper records.

`?date=` alone is cut at the API's default limit of 50 entries, so a day is asked for in
pages of PAGE_SIZE (`limit=100&p=0,1,..`) until a short page. An API that ignores the paging
(answers the same page again, or everything at once) is stopped by the first page that
brings no new paper, and MAX_PAGES bounds a day in any case.

A bad entry is skipped and logged; a down, slow or garbled API raises FetchError, so the
cycle reports a failure and plans nothing (never half a digest) and the next cycle retries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from bot.importers.errors import RecordError
from bot.importers.hf import hf_entry_to_record
from bot.sources import http
from storage.papers import PaperRecord

log = logging.getLogger(__name__)

USER_AGENT = "PaperBot/0.1 (+https://github.com/paperbot/paperbot)"
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
TRIES = 3
BACKOFF = 1.0  # seconds before the 2nd try; doubles after each failure
PAGE_SIZE = 100  # the API's largest `limit`
MAX_PAGES = 20  # 2,000 papers a day; HF's busiest days list ~150


class FetchError(RuntimeError):
    """The daily-papers API could not give a usable answer; the message says what failed."""


@dataclass(frozen=True)
class Fetched:
    records: list[PaperRecord]
    skipped: int


def _get_json(
    client: httpx.Client, url: str, params: dict[str, str], tries: int, backoff: float
) -> Any:
    """The JSON body, retrying timeouts, connection errors, 429 and 5xx with backoff (and
    the Retry-After the API asks for), through the sources' one retry loop."""
    where = f"{url}?" + "&".join(f"{k}={v}" for k, v in params.items())
    try:
        raw = http.get(client, url, params, pacer=http.Unpaced(), what=f"daily papers {where}",
                       tries=tries, backoff=backoff)
    except http.SourceError as exc:
        raise FetchError(str(exc)) from None
    try:
        return json.loads(raw)
    except ValueError:
        raise FetchError(
            f"daily papers {where}: the answer is not JSON ({raw[:40]!r})"
        ) from None


def fetch_daily(
    api_url: str,
    days: Sequence[date],
    *,
    timeout: httpx.Timeout | float = TIMEOUT,
    tries: int = TRIES,
    backoff: float = BACKOFF,
) -> Fetched:
    """The daily-papers lists of `days`, merged by paper (highest upvotes kept)."""
    url = f"{api_url.rstrip('/')}/daily_papers"
    by_key: dict[str, PaperRecord] = {}
    skipped = 0
    with httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}) as client:
        for day in days:
            day_keys: set[str] = set()
            for page in range(MAX_PAGES):
                params = {"date": day.isoformat(), "limit": str(PAGE_SIZE), "p": str(page)}
                body = _get_json(client, url, params, tries, backoff)
                where = f"{url}?date={day}&p={page}"
                if not isinstance(body, list):
                    raise FetchError(
                        f"daily papers {where}: expected a list of entries, "
                        f"got {type(body).__name__}"
                    )
                good, bad, fresh = _take(body, day, page, by_key, day_keys)
                skipped += bad
                if body and not good:
                    raise FetchError(
                        f"daily papers {where}: none of the {len(body)} entries is usable"
                    )
                if len(body) < PAGE_SIZE or not fresh:
                    break
            else:
                log.warning("daily papers %s: stopped after %d pages", day, MAX_PAGES)
    return Fetched(records=list(by_key.values()), skipped=skipped)


def _take(
    body: list[Any], day: date, page: int, by_key: dict[str, PaperRecord], day_keys: set[str]
) -> tuple[int, int, int]:
    """Merge one page's entries into `by_key` (highest upvotes kept): (usable, skipped,
    new to this day) counts; no new paper on a page means the API ignores the paging."""
    good = bad = fresh = 0
    for i, entry in enumerate(body):
        try:
            rec = hf_entry_to_record(entry)
        except RecordError as exc:
            bad += 1
            log.warning("daily papers %s page %d entry %d skipped: %s", day, page, i, exc)
            continue
        good += 1
        if rec.key not in day_keys:
            day_keys.add(rec.key)
            fresh += 1
        old = by_key.get(rec.key)
        if old is None or (rec.upvotes or 0) > (old.upvotes or 0):
            by_key[rec.key] = rec
    return good, bad, fresh

