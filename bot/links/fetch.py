"""A linked paper's metadata: from the library first, else the Hugging Face paper endpoint,
else the arXiv API; what is fetched is stored and made searchable at once.

arXiv asks API clients for at most one request every three seconds: a lookup takes its turn
from the pacer every PaperBot process shares (bot.sources.pacing: a row in the database's
`meta` table, the same turns as the feed and backfill commands, PAPERBOT_ARXIV_PACE apart),
so a server's lookups and a `paperbot backfill-arxiv` beside it are spaced too; the ids of
one message's links go in ONE request (`id_list=a,b,c`). Its answers are Atom XML, parsed
with defusedxml so a hostile document (entity expansion, external entities, a DTD) is
refused instead of expanded. Every fetch is bounded: DEADLINE seconds in all, the wait for
the paced turn and tries included (a watchdog shuts the connection, so a server dribbling
one byte every few seconds cannot hold it), and MAX_BODY bytes of DECODED body, inflated
while it streams (a small gzip bomb is refused before it inflates). A turn that would start
too late to leave MIN_REQUEST of the deadline is not booked: the lookup fails at once
(NoArxivTurn, "arXiv is paced: next request slot in N s"), as it does when the database
cannot hand out a turn. Timeouts, connection errors, 429 and 5xx are retried with backoff
within the deadline; a paper the source does not know (404, an empty feed) is not retried.
Ids that got no paper are remembered for MISS_TTL (MISSES): a bad link shared 50 times
costs one lookup; an id that only missed its turn is not remembered.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Protocol
from xml.etree.ElementTree import Element

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.importers.arxiv import arxiv_categories
from bot.importers.errors import RecordError
from bot.importers.hf import hf_entry_to_record
from bot.services import Services
from bot.sources.pacing import NoTurnInTime, arxiv_pacer
from storage.models import Paper
from storage.papers import PaperRecord, normalize_arxiv_id, upsert_papers

log = logging.getLogger(__name__)

USER_AGENT = "PaperBot/0.1 (+https://github.com/paperbot/paperbot)"
TIMEOUT = httpx.Timeout(8.0, connect=4.0)
TRIES = 2
BACKOFF = 0.5  # seconds before the 2nd try; doubles after each failure
MAX_BODY = 2_000_000  # bytes, decoded: one paper's answer is a few KB, a batch's some 100 KB
DEADLINE = 10.0  # seconds for one fetch, all tries included, however the server dribbles
MISS_TTL = 600.0  # seconds an id no source could give us is not looked up again
MISS_MAX = 4096  # ids remembered so
# A paced turn is only booked when it leaves this much of the deadline for the request (or
# half the deadline, if that is shorter): a turn spent on a request that cannot finish in
# time is a turn taken from the feeds for nothing.
MIN_REQUEST = 3.0

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV_NS = "{http://arxiv.org/schemas/atom}"


class LinkLookupError(RuntimeError):
    """A source could not give a usable answer (down, garbled, hostile); says what failed."""


class NoArxivTurn(LinkLookupError):
    """No arXiv request was made: the shared queue had no turn within the deadline, or the
    database could not hand one out. Not the source's answer, so not remembered as a miss."""


class ArxivPacer(Protocol):
    """bot.sources.pacing.SharedPacer's interface: sleep until this caller's turn, or raise
    NoTurnInTime at once when it starts later than `max_wait` seconds from now."""

    def wait(self, max_wait: float | None = None) -> None: ...


def _paced(pacer: ArxivPacer) -> Callable[[float], None]:
    """`_get`'s `before` for arXiv: a turn within the seconds given, else NoArxivTurn."""

    def take_turn(left: float) -> None:
        try:
            pacer.wait(max_wait=max(0.0, left))
        except NoTurnInTime as exc:
            raise NoArxivTurn(str(exc)) from None
        except SQLAlchemyError as exc:
            raise NoArxivTurn(
                f"no turn to ask arXiv: the database failed ({type(exc).__name__})"
            ) from None

    return take_turn


# --- the library ------------------------------------------------------------------------


def store_many(services: Services, records: Sequence[PaperRecord]) -> dict[str, Paper]:
    """Upsert fetched papers and refresh the search index, so they are found at once. Two
    messages sharing the same new paper at once both fetch it; the slower insert then hits
    the unique arXiv id, and each record is upserted on its own (taking the stored row)."""
    if not records:
        return {}
    try:
        with services.db.session() as s:
            upsert_papers(s, records)
    except IntegrityError:
        log.info("some of %d fetched papers were stored meanwhile; storing one by one",
                 len(records))
        for record in records:
            try:
                with services.db.session() as s:
                    upsert_papers(s, [record])
            except IntegrityError:
                pass  # stored by the other request: read back below
    services.search.refresh()
    ids = [r.arxiv_id for r in records if r.arxiv_id]
    with services.db.session() as s:
        stored = s.scalars(select(Paper).where(Paper.arxiv_id.in_(ids)))
        return {p.arxiv_id or "": p for p in stored}


# --- HTTP -------------------------------------------------------------------------------


class _Watchdog:
    """One fetch's deadline: past it, the connection is shut down wherever the fetch is
    blocked (connecting, reading a dribbled header or body), so no server can hold a
    lookup longer than DEADLINE (a per-read timeout never fires on one byte every 5 s)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._streams: list[Any] = []
        self._fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def expired(self) -> bool:
        return self._fired or time.monotonic() >= self.expires

    def left(self) -> float:
        return max(0.0, self.expires - time.monotonic())

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: note each connection's stream (TCP, then TLS over it)."""
        if event not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        stream = info.get("return_value")
        with self._lock:
            self._streams.append(stream)
            fired = self._fired
        if fired:
            self._cut(stream)

    def _fire(self) -> None:
        with self._lock:
            self._fired = True
            streams = list(self._streams)
        for stream in streams:
            self._cut(stream)

    @staticmethod
    def _cut(stream: Any) -> None:
        try:
            sock = stream.get_extra_info("socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked read in another thread
        except (OSError, AttributeError, ValueError):
            pass  # already closed


class _Decoder:
    """The body as the server meant it, at most `cap` bytes of it: gzip is inflated
    step by step (zlib's max_length), so a small bomb never inflates past the cap."""

    def __init__(self, encoding: str, cap: int, what: str) -> None:
        self.cap, self.what, self.size = cap, what, 0
        self.parts: list[bytes] = []
        encoding = encoding.strip().lower()
        self._zlib: Any
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        else:
            raise LinkLookupError(f"{what}: unsupported content encoding {encoding[:40]!r}")

    def feed(self, raw: bytes) -> None:
        if self._zlib is None:
            self._add(raw)
            return
        data = raw
        try:
            while data and not self._zlib.eof:
                self._add(self._zlib.decompress(data, self.cap - self.size + 1))
                data = self._zlib.unconsumed_tail
        except zlib.error:
            raise LinkLookupError(f"{self.what}: the answer's compression is broken") from None

    def finish(self) -> bytes:
        if self._zlib is not None:
            try:
                self._add(self._zlib.flush(self.cap - self.size + 1))
            except zlib.error:
                raise LinkLookupError(
                    f"{self.what}: the answer's compression is broken") from None
        return b"".join(self.parts)

    def _add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.cap:
            raise LinkLookupError(f"{self.what}: answer larger than {self.cap:,} bytes")
        self.parts.append(chunk)


def _read_body(resp: httpx.Response, what: str, watchdog: _Watchdog) -> bytes:
    """The decoded body, streamed: refused past MAX_BODY (decoded) or past the deadline."""
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise LinkLookupError(f"{what}: answer larger than {MAX_BODY:,} bytes")
    decoder = _Decoder(resp.headers.get("content-encoding", ""), MAX_BODY, what)
    for raw in resp.iter_raw():
        if watchdog.expired():
            raise _Expired
        decoder.feed(raw)
    return decoder.finish()


class _Expired(Exception):
    """The fetch's deadline passed (raised inside _get only)."""


def _get(
    client: httpx.Client, url: str, params: dict[str, str] | None, what: str,
    *, before: Callable[[float], None] | None = None, tries: int = TRIES,
    backoff: float = BACKOFF, deadline: float | None = None,
) -> bytes | None:
    """The 200 answer's body; None for a 404 (the source does not know the paper); retries
    the transient failures; LinkLookupError for the rest, and once `deadline` seconds
    (DEADLINE by default) have passed, whatever the server does. `before(seconds)` takes
    each request's paced turn, within the seconds given (leaving MIN_REQUEST for the request)
    or not at all (it raises): the deadline counts the wait for the turn too."""
    last = ""
    seconds = DEADLINE if deadline is None else deadline
    reserve = min(MIN_REQUEST, seconds / 2)
    with _Watchdog(seconds) as watchdog:
        for attempt in range(1, tries + 1):
            if before is not None:
                try:
                    before(watchdog.left() - reserve)
                except LinkLookupError as exc:
                    why = str(exc) if attempt == 1 else f"{last}; no retry: {exc}"
                    raise type(exc)(f"{what}: {why}") from None
            if watchdog.expired():
                break
            try:
                with client.stream(
                    "GET", url, params=params, extensions={"trace": watchdog.trace}
                ) as resp:
                    if resp.status_code == 404:
                        return None
                    if resp.status_code >= 500 or resp.status_code == 429:
                        last = f"HTTP {resp.status_code}"
                    elif resp.status_code != 200:
                        raise LinkLookupError(f"{what}: HTTP {resp.status_code}")
                    else:
                        return _read_body(resp, what, watchdog)
            except _Expired:
                break
            except httpx.TimeoutException:
                last = "timed out"
            except httpx.TransportError as exc:
                last = f"connection failed ({type(exc).__name__})"
            if watchdog.expired():
                break
            if attempt < tries:
                time.sleep(min(backoff * 2 ** (attempt - 1), watchdog.left()))
        else:
            raise LinkLookupError(f"{what}: {last} after {tries} tries")
    raise LinkLookupError(f"{what}: gave up after {seconds:g} s")


def _client(timeout: httpx.Timeout | float) -> httpx.Client:
    # Only the encodings _Decoder can inflate within its cap.
    return httpx.Client(
        timeout=timeout, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}
    )


# --- Hugging Face -----------------------------------------------------------------------


def fetch_hf(
    api_url: str, arxiv_id: str, *, timeout: httpx.Timeout | float = TIMEOUT, tries: int = TRIES,
    deadline: float | None = None,
) -> PaperRecord | None:
    """`GET {api_url}/papers/{id}`: the same object as a daily-papers entry's `paper`."""
    what = f"Hugging Face paper {arxiv_id}"
    with _client(timeout) as client:
        body = _get(client, f"{api_url.rstrip('/')}/papers/{arxiv_id}", None, what,
                    tries=tries, deadline=deadline)
    if body is None:
        return None
    try:
        data: Any = json.loads(body)
    except ValueError:
        raise LinkLookupError(f"{what}: the answer is not JSON") from None
    try:
        return hf_entry_to_record({"paper": data})
    except (RecordError, ValueError) as exc:
        raise LinkLookupError(f"{what}: {exc}") from None


# --- arXiv ------------------------------------------------------------------------------


def fetch_arxiv(
    api_url: str, arxiv_id: str, *, pacer: ArxivPacer, timeout: httpx.Timeout | float = TIMEOUT,
    tries: int = TRIES, deadline: float | None = None,
) -> PaperRecord | None:
    """`GET {api_url}/query?id_list={id}`, paced; None when arXiv has no such paper."""
    found = fetch_arxiv_many(
        api_url, [arxiv_id], timeout=timeout, tries=tries, pacer=pacer, deadline=deadline
    )
    got = found.get(arxiv_id)
    if isinstance(got, LinkLookupError):
        raise got
    return got


def fetch_arxiv_many(
    api_url: str, arxiv_ids: Sequence[str], *, pacer: ArxivPacer,
    timeout: httpx.Timeout | float = TIMEOUT, tries: int = TRIES, deadline: float | None = None,
) -> dict[str, PaperRecord | LinkLookupError]:
    """`GET {api_url}/query?id_list=a,b,c`: ONE paced request for all the ids (arXiv allows
    one every 3 s, so a request per id made a message with 5 links take 15 s). An id
    missing from the answer is unknown to arXiv; a broken entry is that id's error. A
    failed request is LinkLookupError for them all (NoArxivTurn when none was made)."""
    ids = list(dict.fromkeys(arxiv_ids))
    if not ids:
        return {}
    what = _what(ids)
    params = {"id_list": ",".join(ids), "max_results": str(len(ids))}
    with _client(timeout) as client:
        body = _get(client, f"{api_url.rstrip('/')}/query", params, what,
                    before=_paced(pacer), tries=tries, deadline=deadline)
    if body is None:
        return {}
    return parse_atom_many(body, ids)


def _what(arxiv_ids: Sequence[str]) -> str:
    """How a log line names the papers of one arXiv request."""
    if len(arxiv_ids) == 1:
        return f"arXiv paper {arxiv_ids[0]}"
    return f"arXiv papers {arxiv_ids[0]} and {len(arxiv_ids) - 1} more"


def _text(el: Element | None) -> str:
    return " ".join((el.text or "").split()) if el is not None else ""


def parse_atom(data: bytes, arxiv_id: str) -> PaperRecord | None:
    """The entry for `arxiv_id` in an arXiv API Atom feed, or None when there is none.

    defusedxml refuses DTDs, entity declarations and external references (billion laughs,
    XXE) with an exception instead of expanding them: that is a LinkLookupError here."""
    got = parse_atom_many(data, [arxiv_id]).get(arxiv_id)
    if isinstance(got, LinkLookupError):
        raise got
    return got


def parse_atom_many(
    data: bytes, arxiv_ids: Sequence[str]
) -> dict[str, PaperRecord | LinkLookupError]:
    """The entries for `arxiv_ids` in an arXiv API Atom feed (ids without one are left
    out); a feed that is hostile, not XML or not Atom is LinkLookupError."""
    what = _what(arxiv_ids)
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        kind = type(exc).__name__
        raise LinkLookupError(f"{what}: refused a hostile XML answer ({kind})") from None
    except ParseError as exc:
        raise LinkLookupError(f"{what}: the answer is not XML ({exc})") from None
    if root.tag != f"{ATOM}feed":
        raise LinkLookupError(f"{what}: the answer is not an Atom feed")
    wanted = set(arxiv_ids)
    out: dict[str, PaperRecord | LinkLookupError] = {}
    for entry in root.iter(f"{ATOM}entry"):
        entry_id = _text(entry.find(f"{ATOM}id"))
        found = normalize_arxiv_id(entry_id.rsplit("/abs/", 1)[-1]) if "/abs/" in entry_id else None
        if found is None or found not in wanted or found in out:
            continue  # arXiv's error entries (id .../api/errors#…) and other papers
        try:
            out[found] = _record(entry, found)
        except (ValueError, RecordError) as exc:
            out[found] = LinkLookupError(f"arXiv paper {found}: {exc}")
    return out


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
        categories=arxiv_categories(categories),  # drops MSC/ACM terms
    )


# --- all together -----------------------------------------------------------------------


class MissCache:
    """The ids no source could give us lately, each with why (unknown to every source, or
    a source failed), so the same bad link shared 50 times costs one lookup, not 50.
    Entries expire after `ttl` seconds (a paper announced later, a source back up) and
    the oldest make room past `max_entries`; thread-safe, one per process."""

    def __init__(
        self, ttl: float = MISS_TTL, max_entries: int = MISS_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl, self.max_entries, self._clock = ttl, max_entries, clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def get(self, arxiv_id: str) -> str | None:
        """Why `arxiv_id` had no paper, if that was less than `ttl` seconds ago."""
        with self._lock:
            hit = self._entries.get(arxiv_id)
            if hit is None:
                return None
            if hit[0] <= self._clock():
                del self._entries[arxiv_id]
                return None
            return hit[1]

    def remember(self, arxiv_id: str, why: str) -> None:
        with self._lock:
            self._entries.pop(arxiv_id, None)
            self._entries[arxiv_id] = (self._clock() + self.ttl, why)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


MISSES = MissCache()


def lookup_many(services: Services, arxiv_ids: Sequence[str]) -> dict[str, Paper | str]:
    """Each id's paper: the library's, else fetched (the Hub per id, then ONE arXiv
    request for the rest) and stored; for an id with no paper, why (unknown everywhere,
    or what failed), remembered in MISSES for a while (unless arXiv was not asked for want
    of a turn). The Hub gets DEADLINE seconds for the whole batch, arXiv one paced request
    within DEADLINE, its turn included: a batch is bounded however the sources do."""
    ids = list(dict.fromkeys(arxiv_ids))
    out: dict[str, Paper | str] = {}
    if not ids:
        return out
    with services.db.session() as s:
        for paper in s.scalars(select(Paper).where(Paper.arxiv_id.in_(ids))):
            out.setdefault(paper.arxiv_id or "", paper)
    missing: list[str] = []
    for arxiv_id in ids:
        if arxiv_id in out:
            continue
        why = MISSES.get(arxiv_id)
        if why is None:
            missing.append(arxiv_id)
        else:
            out[arxiv_id] = f"{why} (remembered)"
    if not missing:
        return out
    config = services.config
    errors: dict[str, list[str]] = {i: [] for i in missing}
    records: list[PaperRecord] = []
    not_tried: set[str] = set()  # no arXiv turn: not remembered as a miss
    hub_until = time.monotonic() + DEADLINE
    for arxiv_id in missing:
        left = hub_until - time.monotonic()
        if left <= 0:
            break  # the Hub has had its time: the rest go to arXiv
        try:
            record = fetch_hf(config.hf_api_url, arxiv_id, deadline=left)
        except LinkLookupError as exc:
            errors[arxiv_id].append(str(exc))
        else:
            if record is not None:
                records.append(record)
    from_hub = {r.arxiv_id for r in records}
    rest = [i for i in missing if i not in from_hub]
    if rest:
        try:
            found = fetch_arxiv_many(config.arxiv_api_url, rest, pacer=arxiv_pacer(services))
        except LinkLookupError as exc:
            found = {}
            if isinstance(exc, NoArxivTurn):
                not_tried.update(rest)
            for arxiv_id in rest:
                errors[arxiv_id].append(str(exc))
        for arxiv_id, got in found.items():
            if isinstance(got, LinkLookupError):
                errors[arxiv_id].append(str(got))
            else:
                records.append(got)
    out.update(store_many(services, records))
    for arxiv_id in missing:
        if arxiv_id not in out:
            why = "; ".join(errors[arxiv_id]) or f"no source knows arXiv {arxiv_id}"
            if arxiv_id not in not_tried:
                MISSES.remember(arxiv_id, why)
            out[arxiv_id] = why
    return out
