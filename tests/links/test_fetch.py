"""The fetchers on their own, against the fake Hub and arXiv over real HTTP: what counts as
"unknown" (no retry), what is an error, and the XML that is refused."""

from __future__ import annotations

import time
from datetime import date

import pytest

from bot.links.fetch import LinkLookupError, fetch_arxiv, fetch_hf, parse_atom
from tests.fakes.arxiv_api import BILLION_LAUGHS, ArxivPaper, FakeArxiv, atom_feed
from tests.fakes.hf_api import FakeHF, hf_entry
from tests.links.conftest import NoPacing

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2401.00001v1</id>
<title>&xxe;</title></entry></feed>"""

ARXIV_ERROR_FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_2401.0</id>
  <title>Error</title><summary>incorrect id format for 2401.0</summary></entry>
</feed>"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_hostile_xml_is_refused_not_expanded(doc: bytes) -> None:
    with pytest.raises(LinkLookupError, match="hostile XML"):
        parse_atom(doc, "2401.00001")


def test_not_xml_and_not_atom_are_errors() -> None:
    with pytest.raises(LinkLookupError, match="not XML"):
        parse_atom(b"<html><body>Rate exceeded", "2401.00001")
    with pytest.raises(LinkLookupError, match="not an Atom feed"):
        parse_atom(b"<rss><channel/></rss>", "2401.00001")


def test_empty_feed_and_arxiv_error_entries_mean_unknown() -> None:
    assert parse_atom(atom_feed([], "2401.00001"), "2401.00001") is None
    assert parse_atom(ARXIV_ERROR_FEED, "2401.00001") is None


def test_atom_entry_becomes_a_record() -> None:
    doc = atom_feed([ArxivPaper(
        "2401.00001", "  Long\n   Title  ", summary="Line one.\n  Line two.",
        authors=("A. Person",), published="2024-01-05T10:00:00Z", version=2,
        categories=("cs.CL", "cs.LG"),
    )], "2401.00001")
    rec = parse_atom(doc, "2401.00001")
    assert rec is not None
    assert (rec.title, rec.abstract, rec.authors) == ("Long Title", "Line one. Line two.",
                                                      ("A. Person",))
    assert rec.published == date(2024, 1, 5) and rec.categories == "cs.CL cs.LG"
    assert rec.url == "https://arxiv.org/abs/2401.00001"
    assert rec.pdf_url == "http://arxiv.org/pdf/2401.00001v2" and rec.source == "arxiv"


def test_hub_404_is_unknown_without_retry_and_500_is_retried_then_an_error() -> None:
    with FakeHF() as hub:
        assert fetch_hf(hub.api_url, "2401.00001") is None
        assert len(hub.requests) == 1
        hub.set_paper("2401.00001", hf_entry("2401.00001", "Known")["paper"])
        hub.fail_next(1)  # one 500, then the answer
        rec = fetch_hf(hub.api_url, "2401.00001")
        assert rec is not None and rec.title == "Known" and len(hub.requests) == 3
        hub.mode = "error"
        with pytest.raises(LinkLookupError, match="HTTP 500 after 2 tries"):
            fetch_hf(hub.api_url, "2401.00001")
        hub.mode = "ok"
        hub.set_paper("2401.00002", {"id": "2401.00002"})  # no title
        with pytest.raises(LinkLookupError, match="title"):
            fetch_hf(hub.api_url, "2401.00002")


def test_arxiv_timeout_is_an_error() -> None:
    with FakeArxiv() as arxiv:
        arxiv.mode = "hang"
        started = time.monotonic()
        with pytest.raises(LinkLookupError, match="timed out"):
            fetch_arxiv(arxiv.api_url, "2401.00001", timeout=0.2, tries=1,
                        pacer=NoPacing())
        assert time.monotonic() - started < 2
