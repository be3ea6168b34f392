"""Issue 17: a link fetch is bounded in time (one deadline for the whole fetch, however the
server dribbles) and in memory (the DECODED body is capped while it streams), and a paper
nobody could find is remembered for a while instead of being fetched again."""

from __future__ import annotations

import time

import pytest

from bot.links import fetch
from bot.links.fetch import (
    LinkLookupError,
    MissCache,
    fetch_arxiv,
    fetch_arxiv_many,
    parse_atom_many,
)
from tests.fakes.arxiv_api import DRIP_BYTES, ArxivPaper, FakeArxiv, atom_feed
from tests.links.conftest import NoPacing


@pytest.mark.parametrize("mode", ["drip", "drip-headers"])
def test_a_slow_drip_answer_is_abandoned_at_the_deadline(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One byte every 0.25 s: each read is quick, so only a deadline for the whole fetch
    (not a per-read timeout) ends it."""
    monkeypatch.setattr(fetch, "DEADLINE", 1.0, raising=False)
    with FakeArxiv() as arxiv:
        arxiv.mode = mode
        arxiv.drip_seconds = 0.25
        drip_total = DRIP_BYTES * arxiv.drip_seconds  # 50 s to send the whole answer
        started = time.monotonic()
        with pytest.raises(LinkLookupError, match="gave up after"):
            fetch_arxiv(arxiv.api_url, "2401.00001", pacer=NoPacing())
        elapsed = time.monotonic() - started
        assert arxiv.answered == []
    assert elapsed < drip_total / 3, elapsed  # a generous bound: the deadline is 1 s


def test_a_gzip_bomb_is_refused_once_its_decoded_size_passes_the_cap() -> None:
    """~16 KB of gzip that inflates to 16 MB, the rest of the body withheld: the fetch is
    refused for its size while the body is still streaming."""
    with FakeArxiv() as arxiv:
        arxiv.mode = "bomb"
        arxiv.hang_seconds = 60
        try:
            with pytest.raises(LinkLookupError, match="larger than"):
                fetch_arxiv(arxiv.api_url, "2401.00001", pacer=NoPacing())
        finally:
            arxiv.release()
        assert arxiv.answered == []  # refused before the body's end


def test_a_gzipped_batch_answer_is_read_with_more_than_ten_ids() -> None:
    """arXiv gzips its answers and pages them (10 by default): the batch asks for them all."""
    ids = [f"2401.{n:05d}" for n in range(1, 13)]
    with FakeArxiv() as arxiv:
        arxiv.mode = "gzip"
        for i in ids[1:]:
            arxiv.set_paper(ArxivPaper(i, f"Quoll {i}"))
        found = fetch_arxiv_many(arxiv.api_url, ids, pacer=NoPacing())
        [request] = arxiv.requests
    assert request.params == {"id_list": ",".join(ids), "max_results": "12"}
    assert sorted(found) == ids[1:]  # the first is unknown to arXiv
    assert all(getattr(r, "title", "") == f"Quoll {i}" for i, r in found.items())


def test_a_broken_entry_is_that_papers_error_only() -> None:
    feed = atom_feed([ArxivPaper("2401.00001", ""), ArxivPaper("2401.00002", "Bandicoot")],
                     "2401.00001,2401.00002")
    found = parse_atom_many(feed, ["2401.00001", "2401.00002"])
    assert isinstance(found["2401.00001"], LinkLookupError)
    assert getattr(found["2401.00002"], "title", "") == "Bandicoot"


def test_remembered_misses_expire_and_stay_bounded() -> None:
    now = [1000.0]
    misses = MissCache(ttl=600, max_entries=3, clock=lambda: now[0])
    misses.remember("2401.00001", "no source knows arXiv 2401.00001")
    assert misses.get("2401.00001") == "no source knows arXiv 2401.00001"
    now[0] += 599
    assert misses.get("2401.00001") is not None
    now[0] += 2
    assert misses.get("2401.00001") is None  # expired: looked up again
    for n in range(2, 7):
        misses.remember(f"2401.0000{n}", "HTTP 500")
    assert len(misses) == 3  # the oldest made room
    assert misses.get("2401.00002") is None and misses.get("2401.00006") == "HTTP 500"
