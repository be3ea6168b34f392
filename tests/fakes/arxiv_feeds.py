"""A fake arXiv over real HTTP on 127.0.0.1: the daily announcement RSS feeds and OAI-PMH.

Shapes follow the real documents: `GET /rss/cs.CL+cs.LG` answers an RSS 2.0 channel (title
"cs.CL updates on arXiv.org", pubDate = the announcement day, US Eastern midnight) whose
items carry title, link, description ("arXiv:2412.01234v1 Announce Type: new \\nAbstract:
..."), guid (oai:arXiv.org:ID vN), category elements, pubDate, arxiv:announce_type,
dc:rights and dc:creator (comma-separated). A weekend's feed is the same channel with no
items. `GET /oai?verb=ListRecords&metadataPrefix=arXiv&set=cs&from=...` answers OAI-PMH
pages of `page_size` records (metadataPrefix=arXiv shape), chained by resumptionToken; the
last page carries an empty token; an empty window answers the noRecordsMatch error.

Failures: `fail_next(n, status, retry_after)` makes the next n requests (queued)
answer `status` with that Retry-After; `garbage = True` makes feeds/pages malformed.
Every request is recorded with its arrival time (`requests`), for the pacing tests.
Point PaperBot at it with PAPERBOT_ARXIV_RSS_URL=fake.rss_url, PAPERBOT_ARXIV_OAI_URL=fake.oai_url.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse
from xml.sax.saxutils import escape

from tests.fakes.local_http import LocalGetServer

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc822(day: date) -> str:
    """Midnight US Eastern of `day`, as arXiv's feeds write it."""
    return f"{WEEKDAYS[day.weekday()]}, {day.day:02d} {MONTHS[day.month - 1]} {day.year} " \
        "00:00:00 -0500"


@dataclass
class FeedItem:
    arxiv_id: str
    title: str
    version: int = 1
    announce_type: str = "new"
    categories: tuple[str, ...] = ("cs.CL",)
    authors: tuple[str, ...] = ("Ada Lovelace", "Alan Turing")
    abstract: str = ""

    def xml(self, day: date) -> str:
        abstract = self.abstract or f"We study {self.title.lower()}. Results improve."
        cats = "".join(f"\n      <category>{escape(c)}</category>" for c in self.categories)
        return f"""
    <item>
      <title>{escape(self.title)}</title>
      <link>https://arxiv.org/abs/{self.arxiv_id}</link>
      <description>arXiv:{self.arxiv_id}v{self.version} Announce Type: {self.announce_type}{" "}
Abstract: {escape(abstract)}</description>
      <guid isPermaLink="false">oai:arXiv.org:{self.arxiv_id}v{self.version}</guid>{cats}
      <pubDate>{rfc822(day)}</pubDate>
      <arxiv:announce_type>{self.announce_type}</arxiv:announce_type>
      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
      <dc:creator>{escape(", ".join(self.authors))}</dc:creator>
    </item>"""


def rss_document(path_cats: str, day: date, items: list[FeedItem]) -> str:
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" \
xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/" \
version="2.0">
  <channel>
    <title>{escape(path_cats)} updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/{escape(path_cats)}</link>
    <description>{escape(path_cats)} updates on the arXiv.org e-print archive.</description>
    <atom:link href="http://rss.arxiv.org/rss/{escape(path_cats)}" rel="self" \
type="application/rss+xml"/>
    <docs>http://www.rssboard.org/rss-specification</docs>
    <language>en-us</language>
    <lastBuildDate>{rfc822(day).replace("00:00:00 -0500", "05:00:00 +0000")}</lastBuildDate>
    <managingEditor>rss-help@arxiv.org</managingEditor>
    <pubDate>{rfc822(day)}</pubDate>
    <skipDays>
      <day>Saturday</day>
      <day>Sunday</day>
    </skipDays>{"".join(i.xml(day) for i in items)}
  </channel>
</rss>
"""


@dataclass
class OaiRecord:
    arxiv_id: str
    title: str
    categories: str = "cs.CL"
    created: str = "2026-11-02"
    datestamp: str = "2026-11-03"
    authors: tuple[tuple[str, str], ...] = (("Lovelace", "Ada"), ("Turing", "Alan"))
    abstract: str = ""
    deleted: bool = False

    def xml(self) -> str:
        spec = self.categories.split()[0].split(".")[0]
        if self.deleted:
            return f"""<record><header status="deleted"><identifier>oai:arXiv.org:{self.arxiv_id}\
</identifier><datestamp>{self.datestamp}</datestamp><setSpec>{spec}</setSpec></header></record>"""
        authors = "".join(
            f"<author><keyname>{escape(k)}</keyname><forenames>{escape(f)}</forenames></author>"
            for k, f in self.authors
        )
        abstract = self.abstract or f"  We study {self.title.lower()}.\n  Results improve.\n"
        return f"""
<record>
<header>
 <identifier>oai:arXiv.org:{self.arxiv_id}</identifier>
 <datestamp>{self.datestamp}</datestamp>
 <setSpec>{spec}</setSpec>
</header>
<metadata>
 <arXiv xmlns="http://arxiv.org/OAI/arXiv/" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xsi:schemaLocation="http://arxiv.org/OAI/arXiv/ http://arxiv.org/OAI/arXiv.xsd">
 <id>{self.arxiv_id}</id><created>{self.created}</created><authors>{authors}</authors>\
<title>{escape(self.title)}</title><categories>{escape(self.categories)}</categories>\
<license>http://creativecommons.org/licenses/by/4.0/</license>\
<abstract>{escape(abstract)}</abstract></arXiv>
</metadata>
</record>"""


_OAI_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ \
http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">
<responseDate>2026-12-05T08:00:00Z</responseDate>
"""


@dataclass
class Request:
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    at: float = field(default_factory=time.time)


class FakeArxivFeeds(LocalGetServer):
    def __init__(self) -> None:
        self.day = date(2026, 12, 4)
        self.items: dict[str, list[FeedItem]] = {}  # category -> items (in feed order)
        self.records: list[OaiRecord] = []
        self.page_size = 2
        self.garbage = False
        self.requests: list[Request] = []
        self._fail: list[tuple[int, str | None]] = []
        self._lock = threading.Lock()

    # --- set-up -----------------------------------------------------------------------
    def set_feed(self, category: str, items: list[FeedItem], day: date | None = None) -> None:
        with self._lock:
            self.items[category] = list(items)
            if day is not None:
                self.day = day

    def fail_next(self, n: int, status: int = 503, retry_after: str | None = "1") -> None:
        with self._lock:
            self._fail.extend([(status, retry_after)] * n)

    @property
    def rss_url(self) -> str:
        return self.api_url.removesuffix("/api") + "/rss"

    @property
    def oai_url(self) -> str:
        return self.api_url.removesuffix("/api") + "/oai"

    # --- HTTP -------------------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        url = urlparse(req.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.requests.append(
                Request(url.path, params, {k.lower(): v for k, v in req.headers.items()})
            )
            fail = self._fail.pop(0) if self._fail else None
            garbage = self.garbage
        if fail is not None:
            status, after = fail
            headers = {"Retry-After": after} if after is not None else {}
            return self._send(req, status, b"<html>Too many requests</html>", "text/html",
                              headers)
        if url.path.startswith("/rss/"):
            body = self._feed(unquote(url.path.removeprefix("/rss/")))
            if garbage:
                body = body[: len(body) // 2]
            return self._send(req, 200, body.encode(), "application/rss+xml; charset=utf-8")
        if url.path == "/oai":
            body = self._oai(params)
            if garbage:
                body = body[: len(body) // 2]
            return self._send(req, 200, body.encode(), "text/xml; charset=utf-8")
        self._send(req, 404, b"not found", "text/plain")

    def _feed(self, path_cats: str) -> str:
        """The feed of "cs.CL+cs.LG": every item of each category, each paper once."""
        with self._lock:
            seen: dict[str, FeedItem] = {}
            for cat in path_cats.split("+"):
                for item in self.items.get(cat, []):
                    seen.setdefault(item.arxiv_id, item)
            return rss_document(path_cats, self.day, list(seen.values()))

    def _oai(self, params: dict[str, str]) -> str:
        with self._lock:
            if "resumptionToken" in params:
                token = params["resumptionToken"]
                try:
                    set_spec, since, until, start = token.split("|")
                    offset = int(start)
                except ValueError:
                    return _OAI_HEAD + '<error code="badResumptionToken">bad token</error>' \
                        "</OAI-PMH>"
            else:
                if params.get("verb") != "ListRecords" or params.get("metadataPrefix") != "arXiv":
                    return _OAI_HEAD + '<error code="badArgument">bad</error></OAI-PMH>'
                set_spec = params.get("set", "")
                since, until, offset = params.get("from", ""), params.get("until", ""), 0
            matching = [
                r for r in self.records
                if r.categories.split()[0].split(".")[0] == set_spec.removeprefix("physics:")
                and (not since or r.datestamp >= since) and (not until or r.datestamp <= until)
            ]
            size = self.page_size
        if not matching:
            return _OAI_HEAD + '<error code="noRecordsMatch">No records</error></OAI-PMH>'
        page = matching[offset : offset + size]
        nxt = offset + size
        if nxt < len(matching):
            token = (f'<resumptionToken cursor="{offset}" completeListSize="{len(matching)}">'
                     f"{set_spec}|{since}|{until}|{nxt}</resumptionToken>")
        else:
            token = f'<resumptionToken cursor="{offset}" completeListSize="{len(matching)}"/>'
        return (
            _OAI_HEAD
            + '<request verb="ListRecords">http://oaipmh.arxiv.org/oai</request>\n<ListRecords>'
            + "".join(r.xml() for r in page)
            + token
            + "</ListRecords>\n</OAI-PMH>\n"
        )

    @staticmethod
    def _send(
        req: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str,
        headers: dict[str, Any] | None = None,
    ) -> None:
        try:
            req.send_response(status)
            req.send_header("Content-Type", ctype)
            req.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                req.send_header(k, str(v))
            req.end_headers()
            req.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
