"""Fetching the daily papers: validation, retries, and clear failures."""

from __future__ import annotations

from datetime import date

import pytest

from bot.digest.source import USER_AGENT, FetchError, fetch_daily
from tests.digest.conftest import day_entries
from tests.fakes.hf_api import FakeHF, hf_entry

DAY = date(2025, 8, 19)


def test_fetch_parses_entries_and_skips_malformed(fake_hf: FakeHF) -> None:
    good = day_entries(3)
    bad = [
        {"paper": {"id": 2508.1, "title": "numeric id"}},
        {"paper": {"id": "not-an-id", "title": "x"}},
        {"title": "no paper object"},
        "a string",
        hf_entry("2508.99999", "   "),  # blank title
        {
            **hf_entry("2508.99998", "bad votes"),
            "paper": {**hf_entry("2508.99998", "bad votes")["paper"], "upvotes": "many"},
        },
    ]
    fake_hf.set_day(
        DAY, [bad[0], good[0], bad[1], bad[2], good[1], bad[3], bad[4], good[2], bad[5]]
    )
    fetched = fetch_daily(fake_hf.api_url, [DAY], backoff=0)
    assert fetched.skipped == 6
    recs = {r.arxiv_id: r for r in fetched.records}
    assert set(recs) == {"2508.10000", "2508.10001", "2508.10002"}
    r = recs["2508.10000"]
    assert r.source == "hf" and r.upvotes == 100 and r.authors == ("Ada Lovelace", "Alan Turing")
    assert r.published == date(2025, 8, 19) and r.abstract.startswith("We present")
    req = fake_hf.requests[0]
    assert req.path == "/api/daily_papers"
    assert req.params == {"date": "2025-08-19", "limit": "100", "p": "0"}
    assert req.headers["user-agent"] == USER_AGENT


def test_same_paper_on_two_days_keeps_the_higher_upvotes(fake_hf: FakeHF) -> None:
    fake_hf.set_day(DAY, [hf_entry("2508.00001", "Shared", upvotes=5)])
    fake_hf.set_day(date(2025, 8, 18), [hf_entry("2508.00001", "Shared", upvotes=9)])
    fetched = fetch_daily(fake_hf.api_url, [DAY, date(2025, 8, 18)], backoff=0)
    assert [(r.arxiv_id, r.upvotes) for r in fetched.records] == [("2508.00001", 9)]


def test_retries_server_errors_then_succeeds(fake_hf: FakeHF) -> None:
    fake_hf.set_day(DAY, day_entries(2))
    fake_hf.fail_next(2)
    fetched = fetch_daily(fake_hf.api_url, [DAY], backoff=0.01)
    assert len(fetched.records) == 2
    assert len(fake_hf.requests) == 3


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("error", "HTTP 500 after 3 tries"),
        ("garbage", "not JSON"),
        ("shape", "expected a list of entries, got dict"),
        ("slow", "timed out after 2 tries"),
    ],
)
def test_unusable_api_raises_a_clear_fetch_error(fake_hf: FakeHF, mode: str, message: str) -> None:
    fake_hf.set_day(DAY, day_entries(2))
    fake_hf.mode = mode
    fake_hf.slow_seconds = 1.0
    tries = 2 if mode == "slow" else 3
    with pytest.raises(FetchError, match=message):
        fetch_daily(fake_hf.api_url, [DAY], timeout=0.3, tries=tries, backoff=0.01)


def test_only_malformed_entries_is_a_fetch_error(fake_hf: FakeHF) -> None:
    fake_hf.set_day(DAY, [{"paper": None}, {"paper": {"id": "x"}}])
    with pytest.raises(FetchError, match="none of the 2 entries is usable"):
        fetch_daily(fake_hf.api_url, [DAY], backoff=0)


def test_unreachable_api_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="connection failed"):
        fetch_daily("http://127.0.0.1:9/api", [DAY], tries=2, backoff=0.01)


def test_empty_day_is_fine(fake_hf: FakeHF) -> None:
    assert fetch_daily(fake_hf.api_url, [DAY], backoff=0).records == []


def test_a_day_over_the_default_limit_is_fetched_whole_in_pages(fake_hf: FakeHF) -> None:
    """The API cuts `?date=` at 50 entries: 130 papers come as pages of 100 and 30."""
    fake_hf.set_day(DAY, [hf_entry(f"2508.{i:05d}", f"Paper {i}") for i in range(130)])
    fetched = fetch_daily(fake_hf.api_url, [DAY], backoff=0)
    assert len(fetched.records) == 130
    assert [(r.params["limit"], r.params["p"]) for r in fake_hf.requests] == [
        ("100", "0"), ("100", "1")
    ]


def test_a_day_of_exactly_a_page_asks_once_more(fake_hf: FakeHF) -> None:
    fake_hf.set_day(DAY, [hf_entry(f"2508.{i:05d}", f"Paper {i}") for i in range(100)])
    fetched = fetch_daily(fake_hf.api_url, [DAY], backoff=0)
    assert len(fetched.records) == 100
    assert [r.params["p"] for r in fake_hf.requests] == ["0", "1"]  # the 2nd page is empty


@pytest.mark.parametrize("paging", ["ignore_p", "ignore_all"])
def test_an_api_that_ignores_paging_does_not_loop(fake_hf: FakeHF, paging: str) -> None:
    fake_hf.paging = paging
    fake_hf.set_day(DAY, [hf_entry(f"2508.{i:05d}", f"Paper {i}") for i in range(230)])
    fetched = fetch_daily(fake_hf.api_url, [DAY], backoff=0)
    assert len(fetched.records) == (100 if paging == "ignore_p" else 230)
    assert len(fake_hf.requests) <= 2


def test_hub_fields_are_kept(fake_hf: FakeHF) -> None:
    fake_hf.set_day(DAY, [
        hf_entry("2508.00001", "With Everything", github="https://github.com/a/b",
                 project_page="https://a.github.io/b", ai_summary="The Hub's summary.",
                 ai_keywords=("speculative decoding", "LLM"), comments=7),
        {**hf_entry("2508.00002", "Bare"), "numComments": None},
    ])
    recs = {r.arxiv_id: r for r in fetch_daily(fake_hf.api_url, [DAY], backoff=0).records}
    full = recs["2508.00001"]
    assert full.code_url == "https://github.com/a/b"
    assert full.project_page == "https://a.github.io/b"
    assert full.ai_summary == "The Hub's summary."
    assert full.ai_keywords == ("speculative decoding", "LLM")
    assert full.num_comments == 7
    bare = recs["2508.00002"]
    assert (bare.project_page, bare.num_comments, bare.ai_keywords) == (None, None, None)


def test_a_malformed_hub_extra_is_dropped_not_the_paper(fake_hf: FakeHF) -> None:
    entry = hf_entry("2508.00003", "Odd Extras")
    entry["numComments"] = "many"
    entry["paper"] = {**entry["paper"], "projectPage": 7, "ai_keywords": ["ok", 3, "\x00"]}
    fake_hf.set_day(DAY, [entry])
    fetched = fetch_daily(fake_hf.api_url, [DAY], backoff=0)
    (rec,) = fetched.records
    assert (rec.num_comments, rec.project_page, rec.ai_keywords) == (None, None, ("ok",))
    assert fetched.skipped == 0
