"""Backfill through arXiv's OAI-PMH interface (ListRecords, metadataPrefix=arXiv).

`https://oaipmh.arxiv.org/oai?verb=ListRecords&metadataPrefix=arXiv&set=cs&from=...` answers
the records of an archive changed in the window, a page at a time: each page but the last
ends in a resumptionToken, and the next page is asked with that token alone. A set is an
archive (cs, math, physics:hep-th), so records are filtered to the category asked. Pages are
parsed with defusedxml (a hostile document is refused, never expanded) and handed to the
caller one by one, so a long backfill stores as it goes. "noRecordsMatch" is an empty
window, not an error; any other OAI error, or a page that is not OAI-PMH XML, raises
SourceError.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from xml.etree.ElementTree import Element

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from bot.importers.arxiv import arxiv_categories
from bot.sources import http
from bot.sources.http import Pacer, SourceError
from storage.papers import PaperRecord, normalize_arxiv_id

log = logging.getLogger(__name__)

SOURCE = "arxiv"
OAI = "{http://www.openarchives.org/OAI/2.0/}"
ARXIV = "{http://arxiv.org/OAI/arXiv/}"
MAX_PAGES = 100_000  # a guard against a server that hands out tokens forever
# The physics archives' OAI sets are physics:<archive>; the others are the archive itself.
_PHYSICS = frozenset({
    "astro-ph", "cond-mat", "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph",
    "nlin", "nucl-ex", "nucl-th", "physics", "quant-ph",
})


@dataclass(frozen=True)
class Page:
    records: list[PaperRecord]
    seen: int  # records on the page, before the category filter
    skipped: int


def oai_set(category: str) -> str:
    archive = category.split(".", 1)[0]
    return f"physics:{archive}" if archive in _PHYSICS else archive


def fetch_pages(
    base_url: str,
    category: str,
    since: date,
    until: date | None = None,
    *,
    pacer: Pacer,
    timeout: httpx.Timeout | float = http.TIMEOUT,
    tries: int = http.TRIES,
    backoff: float = http.BACKOFF,
) -> Iterator[Page]:
    """Each page of the window's records in `category`, following resumption tokens."""
    params: dict[str, str] = {
        "verb": "ListRecords", "metadataPrefix": "arXiv", "set": oai_set(category),
        "from": since.isoformat(),
    }
    if until is not None:
        params["until"] = until.isoformat()
    seen_tokens: set[str] = set()
    with httpx.Client(timeout=timeout, headers={"User-Agent": http.USER_AGENT}) as client:
        for n in range(1, MAX_PAGES + 1):
            what = f"arXiv OAI-PMH {base_url} page {n}"
            body = http.get(client, base_url, params, pacer=pacer, what=what,
                            tries=tries, backoff=backoff)
            page, token = parse_page(body, category, where=what)
            yield page
            if not token:
                return
            if token in seen_tokens:
                raise SourceError(f"{what}: the resumption token repeats ({token[:40]!r})")
            seen_tokens.add(token)
            params = {"verb": "ListRecords", "resumptionToken": token}
    raise SourceError(f"arXiv OAI-PMH {base_url}: more than {MAX_PAGES:,} pages")


def parse_page(body: bytes, category: str, *, where: str = "page") -> tuple[Page, str | None]:
    """(the page's records in `category`, the resumption token or None on the last page)."""
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException) as exc:
        raise SourceError(f"{where} is not well-formed XML ({exc})") from None
    if root.tag != f"{OAI}OAI-PMH":
        raise SourceError(f"{where} is not an OAI-PMH answer (root <{root.tag}>)")
    err = root.find(f"{OAI}error")
    if err is not None:
        code = err.get("code", "")
        if code == "noRecordsMatch":
            return Page([], 0, 0), None
        raise SourceError(f"{where}: OAI-PMH error {code}: {(err.text or '').strip()[:200]}")
    listing = root.find(f"{OAI}ListRecords")
    if listing is None:
        raise SourceError(f"{where}: no ListRecords in the answer")
    records: list[PaperRecord] = []
    seen = skipped = 0
    for rec_el in listing.findall(f"{OAI}record"):
        header = rec_el.find(f"{OAI}header")
        if header is not None and header.get("status") == "deleted":
            continue
        meta = rec_el.find(f"{OAI}metadata/{ARXIV}arXiv")
        if meta is None:
            continue
        seen += 1
        cats = arxiv_categories(_text(meta, "categories"))
        if category not in (cats or "").split():
            continue
        try:
            records.append(_record(meta, cats))
        except ValueError as exc:
            skipped += 1
            log.warning("%s: record %r skipped: %s", where, _text(meta, "id")[:40], exc)
    token_el = listing.find(f"{OAI}resumptionToken")
    token = (token_el.text or "").strip() if token_el is not None else ""
    return Page(records, seen, skipped), token or None


def _text(el: Element, name: str) -> str:
    found = el.find(f"{ARXIV}{name}")
    return (found.text or "") if found is not None else ""


def _record(meta: Element, categories: str | None) -> PaperRecord:
    raw_id = _text(meta, "id").strip()
    arxiv_id = normalize_arxiv_id(raw_id)
    if arxiv_id is None:
        raise ValueError(f"not an arXiv id: {raw_id!r:.40}")
    authors = []
    for a in meta.findall(f"{ARXIV}authors/{ARXIV}author"):
        parts = [_text(a, "forenames"), _text(a, "keyname"), _text(a, "suffix")]
        name = " ".join(" ".join(p.split()) for p in parts if p.strip())
        if name:
            authors.append(name)
    created = _text(meta, "created").strip()
    try:
        published = date.fromisoformat(created) if created else None
    except ValueError:
        raise ValueError(f"created is not a date: {created!r:.40}") from None
    return PaperRecord(
        title=_text(meta, "title"),
        abstract=_text(meta, "abstract"),
        source=SOURCE,
        authors=tuple(authors),
        arxiv_id=arxiv_id,
        published=published,
        url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        categories=categories,
    )
