"""A fake arXiv API over real HTTP on 127.0.0.1: `GET /api/query?id_list=<id>[,<id>…]` answers
an Atom feed (arXiv's shape: opensearch counts, arxiv: namespace, pdf link) with the papers
set by set_paper(), at most `max_results` of them (arXiv's default: 10), or an empty feed.
Every request's time is recorded (pacing tests), and every answer's end (`answered`).
Modes: "ok", "error" (HTTP 500), "hostile" (a "billion laughs" entity-expansion document),
"hang" (answers after `hang_seconds`, or at release(): client timeouts, stuck lookups),
"gzip" (the feed gzip-encoded, as arXiv sends it),
"drip" (headers, then the body one byte every `drip_seconds`), "drip-headers" (the status
line and headers themselves one byte at a time), "bomb" (a gzip body of a few KB that
inflates to `BOMB_BYTES`, then the rest withheld until release() or `hang_seconds`).
Point the app at it with ARXIV_API_URL=fake.api_url.
"""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape, quoteattr

from tests.fakes.local_http import LocalGetServer

BOMB_BYTES = 16_000_000  # what the "bomb" answer inflates to (its gzip is ~16 KB)
DRIP_BYTES = 200  # the "drip" answers' length: 200 * drip_seconds to send it all

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE feed [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<feed xmlns="http://www.w3.org/2005/Atom">
  <entry><id>http://arxiv.org/abs/2401.00001v1</id><title>&lol9;</title>
  <summary>&lol9;</summary></entry>
</feed>
"""


_BOMB: list[bytes] = []


def _bomb() -> bytes:
    """BOMB_BYTES of zeros, gzipped (made once)."""
    if not _BOMB:
        _BOMB.append(gzip.compress(b"\0" * BOMB_BYTES, compresslevel=9))
    return _BOMB[0]


@dataclass(frozen=True)
class ArxivPaper:
    arxiv_id: str
    title: str
    summary: str = "We propose a method. It works well on benchmarks."
    authors: tuple[str, ...] = ("Grace Hopper", "Edsger Dijkstra")
    published: str = "2024-01-02T18:59:59Z"
    version: int = 1
    categories: tuple[str, ...] = ("cs.LG", "cs.AI")


def atom_feed(papers: list[ArxivPaper], query: str) -> bytes:
    """An arXiv API answer, as export.arxiv.org shapes it."""
    entries = []
    for p in papers:
        vid = f"{p.arxiv_id}v{p.version}"
        authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in p.authors)
        cats = "".join(
            f'<category term={quoteattr(c)} scheme="http://arxiv.org/schemas/atom"/>'
            for c in p.categories
        )
        entries.append(f"""
  <entry>
    <id>http://arxiv.org/abs/{vid}</id>
    <updated>{p.published}</updated>
    <published>{p.published}</published>
    <title>{escape(p.title)}</title>
    <summary>  {escape(p.summary)}
    </summary>
    {authors}
    <link href="http://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{vid}" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom"
      term={quoteattr(p.categories[0])} scheme="http://arxiv.org/schemas/atom"/>
    {cats}
  </entry>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?id_list={escape(query)}" rel="self"
    type="application/atom+xml"/>
  <title type="html">ArXiv Query: id_list={escape(query)}</title>
  <id>http://arxiv.org/api/fake</id>
  <updated>2024-01-03T00:00:00-05:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"
    >{len(papers)}</opensearch:totalResults>
  {"".join(entries)}
</feed>
""".encode()


@dataclass
class Request:
    path: str
    params: dict[str, str]
    at: float = field(default_factory=time.monotonic)


class FakeArxiv(LocalGetServer):
    def __init__(self) -> None:
        self.papers: dict[str, ArxivPaper] = {}
        self.requests: list[Request] = []
        self.answered: list[float] = []  # when each /api/query answer was sent in full
        self.mode = "ok"
        self.hang_seconds = 2.0
        self.drip_seconds = 0.25
        self._lock = threading.Lock()
        self._released = threading.Event()

    def release(self) -> None:
        """End every hang and withheld body now (and those to come)."""
        self._released.set()

    def set_paper(self, paper: ArxivPaper) -> None:
        with self._lock:
            self.papers[paper.arxiv_id] = paper

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        url = urlparse(req.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.requests.append(Request(url.path, params))
            mode = self.mode
            ids = [i for i in params.get("id_list", "").split(",") if i]
            found = [self.papers[i] for i in ids if i in self.papers]
        if url.path != "/api/query":
            return self._send(req, 404, b"not found", "text/plain")
        limit = params.get("max_results", "10")
        found = found[:int(limit)] if limit.isdigit() else found
        feed = atom_feed(found, params.get("id_list", ""))
        if mode == "error":
            return self._send(req, 500, b"<html>Internal Server Error</html>", "text/html")
        if mode == "hang":
            self._released.wait(self.hang_seconds)
        if mode == "hostile":
            return self._send(req, 200, BILLION_LAUGHS)
        if mode in ("drip", "drip-headers", "bomb"):
            return self._trickle(req, mode, feed)
        if mode == "gzip":
            self._send(req, 200, gzip.compress(feed), encoding="gzip")
        else:
            self._send(req, 200, feed)
        with self._lock:
            self.answered.append(time.monotonic())

    def _trickle(self, req: BaseHTTPRequestHandler, mode: str, feed: bytes) -> None:
        """The slow and the hostile answers, written by hand; until the client hangs up."""
        body = _bomb() if mode == "bomb" else (feed + b" " * DRIP_BYTES)[:DRIP_BYTES]
        encoding = "Content-Encoding: gzip\r\n" if mode == "bomb" else ""
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/atom+xml; charset=utf-8\r\n"
            f"{encoding}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        try:
            if mode == "drip-headers":
                for i in range(len(head)):
                    req.wfile.write(head[i:i + 1])
                    req.wfile.flush()
                    time.sleep(self.drip_seconds)
            else:
                req.wfile.write(head)
            if mode == "bomb":  # all but the last bytes, then nothing until released
                req.wfile.write(body[:-64])
                req.wfile.flush()
                self._released.wait(self.hang_seconds)
                req.wfile.write(body[-64:])
            else:
                for i in range(len(body)):
                    req.wfile.write(body[i:i + 1])
                    req.wfile.flush()
                    time.sleep(self.drip_seconds)
        except (BrokenPipeError, ConnectionResetError):
            return
        with self._lock:
            self.answered.append(time.monotonic())

    @staticmethod
    def _send(
        req: BaseHTTPRequestHandler, status: int, body: bytes,
        ctype: str = "application/atom+xml; charset=utf-8", encoding: str = "",
    ) -> None:
        try:
            req.send_response(status)
            req.send_header("Content-Type", ctype)
            if encoding:
                req.send_header("Content-Encoding", encoding)
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
