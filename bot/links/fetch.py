"""A linked paper's metadata: from the library first, else the Hugging Face paper endpoint,
else the arXiv API; what is fetched is stored and made searchable at once.

arXiv asks API clients for at most one request every three seconds: `ARXIV_PACER` spaces
this process's requests (thread-safe, shared by every lane). Its answers are Atom XML,
parsed with defusedxml so a hostile document (entity expansion, external entities, a DTD)
is refused instead of expanded. Every request has a timeout and retries timeouts,
connection errors, 429 and 5xx with backoff; a paper the source does not know (404, an
empty feed) is not retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any
from xml.etree.ElementTree import Element

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.importers.errors import RecordError
from bot.importers.hf import hf_entry_to_record
from bot.services import Services
from storage.models import Paper
from storage.papers import PaperRecord, normalize_arxiv_id, upsert_papers

log = logging.getLogger(__name__)

USER_AGENT = "PaperBot/0.1 (+https://github.com/paperbot/paperbot)"
TIMEOUT = httpx.Timeout(8.0, connect=4.0)
TRIES = 2
BACKOFF = 0.5  # seconds before the 2nd try; doubles after each failure
MAX_BODY = 2_000_000  # bytes: one paper's answer is a few KB
ARXIV_INTERVAL = 3.0  # seconds between arXiv API requests (arXiv's terms of use)
# Added to every wait, so jitter on the way (a slower connect for one request than for the
# next) never brings two requests closer than the interval at arXiv's end.
PACING_MARGIN = 0.05

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV_NS = "{http://arxiv.org/schemas/atom}"


class LinkLookupError(RuntimeError):
    """A source could not give a usable answer (down, garbled, hostile); says what failed."""


class Pacer:
    """At most one call per `interval` seconds across all threads of the process."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        """Block until this caller's turn; turns are handed out in arrival order."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval + PACING_MARGIN
        if start > now:
            time.sleep(start - now)


ARXIV_PACER = Pacer(ARXIV_INTERVAL)


# --- the library ------------------------------------------------------------------------


def from_library(services: Services, arxiv_id: str) -> Paper | None:
    with services.db.session() as s:
        return s.scalars(select(Paper).where(Paper.arxiv_id == arxiv_id)).first()


def store(services: Services, record: PaperRecord) -> Paper | None:
    """Upsert a fetched paper and refresh the search index, so it is found at once. Two
    messages sharing the same new paper at once both fetch it; the slower insert then hits
    the unique arXiv id and takes the stored row instead."""
    try:
        with services.db.session() as s:
            upsert_papers(s, [record])
    except IntegrityError:
        log.info("arXiv %s was stored meanwhile by another request", record.arxiv_id)
    services.search.refresh()
    return from_library(services, record.arxiv_id or "")


# --- HTTP -------------------------------------------------------------------------------


def _get(
    client: httpx.Client, url: str, params: dict[str, str] | None, what: str,
    *, before: Callable[[], None] = lambda: None, tries: int = TRIES, backoff: float = BACKOFF,
) -> httpx.Response | None:
    """The 200 answer; None for a 404 (the source does not know the paper); retries the
    transient failures; LinkLookupError for the rest."""
    last = ""
    for attempt in range(1, tries + 1):
        before()
        try:
            resp = client.get(url, params=params)
        except httpx.TimeoutException:
            last = "timed out"
        except httpx.TransportError as exc:
            last = f"connection failed ({type(exc).__name__})"
        else:
            if resp.status_code == 404:
                return None
            if resp.status_code >= 500 or resp.status_code == 429:
                last = f"HTTP {resp.status_code}"
            elif resp.status_code != 200:
                raise LinkLookupError(f"{what}: HTTP {resp.status_code}")
            elif len(resp.content) > MAX_BODY:
                raise LinkLookupError(f"{what}: answer of {len(resp.content):,} bytes")
            else:
                return resp
        if attempt < tries:
            time.sleep(backoff * 2 ** (attempt - 1))
    raise LinkLookupError(f"{what}: {last} after {tries} tries")


def _client(timeout: httpx.Timeout | float) -> httpx.Client:
    return httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})


# --- Hugging Face -----------------------------------------------------------------------


def fetch_hf(
    api_url: str, arxiv_id: str, *, timeout: httpx.Timeout | float = TIMEOUT, tries: int = TRIES
) -> PaperRecord | None:
    """`GET {api_url}/papers/{id}`: the same object as a daily-papers entry's `paper`."""
    what = f"Hugging Face paper {arxiv_id}"
    with _client(timeout) as client:
        resp = _get(client, f"{api_url.rstrip('/')}/papers/{arxiv_id}", None, what, tries=tries)
    if resp is None:
        return None
    try:
        body: Any = resp.json()
    except ValueError:
        raise LinkLookupError(f"{what}: the answer is not JSON") from None
    try:
        return hf_entry_to_record({"paper": body})
    except (RecordError, ValueError) as exc:
        raise LinkLookupError(f"{what}: {exc}") from None


# --- arXiv ------------------------------------------------------------------------------


def fetch_arxiv(
    api_url: str, arxiv_id: str, *, timeout: httpx.Timeout | float = TIMEOUT,
    tries: int = TRIES, pacer: Pacer | None = None,
) -> PaperRecord | None:
    """`GET {api_url}/query?id_list={id}`, paced; None when arXiv has no such paper."""
    what = f"arXiv paper {arxiv_id}"
    pace = pacer or ARXIV_PACER
    with _client(timeout) as client:
        resp = _get(
            client, f"{api_url.rstrip('/')}/query", {"id_list": arxiv_id}, what,
            before=pace.wait, tries=tries,
        )
    if resp is None:
        return None
    return parse_atom(resp.content, arxiv_id)


def _text(el: Element | None) -> str:
    return " ".join((el.text or "").split()) if el is not None else ""


def parse_atom(data: bytes, arxiv_id: str) -> PaperRecord | None:
    """The entry for `arxiv_id` in an arXiv API Atom feed, or None when there is none.

    defusedxml refuses DTDs, entity declarations and external references (billion laughs,
    XXE) with an exception instead of expanding them: that is a LinkLookupError here."""
    what = f"arXiv paper {arxiv_id}"
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        kind = type(exc).__name__
        raise LinkLookupError(f"{what}: refused a hostile XML answer ({kind})") from None
    except ParseError as exc:
        raise LinkLookupError(f"{what}: the answer is not XML ({exc})") from None
    if root.tag != f"{ATOM}feed":
        raise LinkLookupError(f"{what}: the answer is not an Atom feed")
    for entry in root.iter(f"{ATOM}entry"):
        entry_id = _text(entry.find(f"{ATOM}id"))
        found = normalize_arxiv_id(entry_id.rsplit("/abs/", 1)[-1]) if "/abs/" in entry_id else None
        if found != arxiv_id:
            continue  # arXiv's error entries (id .../api/errors#…) and other papers
        try:
            return _record(entry, arxiv_id)
        except (ValueError, RecordError) as exc:
            raise LinkLookupError(f"{what}: {exc}") from None
    return None


def _record(entry: Element, arxiv_id: str) -> PaperRecord:
    published_raw = _text(entry.find(f"{ATOM}published"))
    try:
        published = date.fromisoformat(published_raw[:10]) if published_raw else None
    except ValueError:
        published = None
    authors = tuple(
        _text(a.find(f"{ATOM}name")) for a in entry.findall(f"{ATOM}author")
    )
    pdf = next(
        (ln.get("href") for ln in entry.findall(f"{ATOM}link") if ln.get("title") == "pdf"),
        None,
    )
    categories = [c.get("term", "") for c in entry.findall(f"{ATOM}category")]
    primary = entry.find(f"{ARXIV_NS}primary_category")
    if primary is not None and primary.get("term") in categories:
        categories.remove(primary.get("term", ""))
        categories.insert(0, primary.get("term", ""))
    return PaperRecord(
        title=_text(entry.find(f"{ATOM}title")),
        abstract=_text(entry.find(f"{ATOM}summary")),
        source="arxiv",
        authors=tuple(a for a in authors if a),
        arxiv_id=arxiv_id,
        published=published,
        url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=pdf if pdf and pdf.startswith(("http://", "https://")) else (
            f"https://arxiv.org/pdf/{arxiv_id}"
        ),
        categories=" ".join(c for c in categories if c) or None,
    )


# --- all together -----------------------------------------------------------------------


def lookup(services: Services, arxiv_id: str) -> Paper | None:
    """The library's paper, else one fetched (Hub, then arXiv) and stored; None when no
    source knows it. A source that fails is logged and the next one tried; if every
    source failed, LinkLookupError says why."""
    paper = from_library(services, arxiv_id)
    if paper is not None:
        return paper
    config = services.config
    errors: list[str] = []
    for fetch in (
        lambda: fetch_hf(config.hf_api_url, arxiv_id),
        lambda: fetch_arxiv(config.arxiv_api_url, arxiv_id),
    ):
        try:
            record = fetch()
        except LinkLookupError as exc:
            errors.append(str(exc))
            continue
        if record is not None:
            return store(services, record)
    if errors:
        raise LinkLookupError("; ".join(errors))
    return None
