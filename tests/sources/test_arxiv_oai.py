"""`paperbot backfill-arxiv`: OAI-PMH pages chained by resumptionToken, filtered to the
category, stored by bare arXiv id; through the real CLI against a fake arXiv."""

from __future__ import annotations

from datetime import date

from storage.db import Database
from storage.models import Paper
from tests.fakes.arxiv_feeds import FakeArxivFeeds, OaiRecord
from tests.sources.conftest import run


def _papers(db_url: str) -> dict[str, tuple]:
    db = Database(db_url)
    try:
        with db.session() as s:
            return {
                p.arxiv_id or "": (p.title, p.authors, p.categories, p.published, p.source)
                for p in s.query(Paper).all()
            }
    finally:
        db.dispose()


def test_backfill_follows_resumption_tokens_and_filters_the_category(
    db_url: str, arxiv_env: dict[str, str], fake_arxiv: FakeArxivFeeds
) -> None:
    fake_arxiv.records = [
        OaiRecord("2611.00001", "Speech Tokenizers", categories="cs.CL cs.SD"),
        OaiRecord("2611.00002", "Robot Grasping", categories="cs.RO"),
        OaiRecord("2611.00003", "Long Context Retrieval", categories="cs.IR cs.CL"),
        OaiRecord("2611.00004", "Gone", categories="cs.CL", deleted=True),
        OaiRecord("2611.00005", "Parsing Revisited", categories="cs.CL",
                  created="2026-11-05", datestamp="2026-11-06"),
        OaiRecord("2610.09999", "Too Early", categories="cs.CL", datestamp="2026-10-01"),
        OaiRecord("2611.00006", "Not cs at all", categories="math.CO cs.CL"),
    ]
    fake_arxiv.page_size = 2
    out = run(arxiv_env, "backfill-arxiv", "--category", "cs.CL", "--from", "2026-11-01")
    assert out.returncode == 0, out.stderr
    # 5 cs records in the window (one deleted) -> 3 pages of 2, 2, 1.
    assert "3 new, 0 updated papers in cs.CL (2026-11-01..today; 3 pages" in out.stdout
    reqs = fake_arxiv.requests
    assert reqs[0].params == {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs",
                              "from": "2026-11-01"}
    assert [set(r.params) for r in reqs[1:]] == [{"verb", "resumptionToken"}] * 2
    papers = _papers(db_url)
    assert set(papers) == {"2611.00001", "2611.00003", "2611.00005"}
    assert papers["2611.00001"] == ("Speech Tokenizers", ["Ada Lovelace", "Alan Turing"],
                                    "cs.CL cs.SD", date(2026, 11, 2), "arxiv")
    assert papers["2611.00005"][3] == date(2026, 11, 5)
    # Rerunning changes nothing; the papers are searchable.
    again = run(arxiv_env, "backfill-arxiv", "--category", "cs.CL", "--from", "2026-11-01")
    assert "0 new, 0 updated papers" in again.stdout
    found = run(arxiv_env, "search", "speech tokenizers")
    assert "Speech Tokenizers" in found.stdout


def test_empty_window_and_503_retry_after(
    db_url: str, arxiv_env: dict[str, str], fake_arxiv: FakeArxivFeeds
) -> None:
    fake_arxiv.records = [OaiRecord("2611.00001", "A", datestamp="2026-11-03")]
    fake_arxiv.fail_next(1, 503, "1")
    out = run(arxiv_env, "backfill-arxiv", "--category", "cs.CL", "--from", "2026-11-10",
              "--until", "2026-11-20")
    assert out.returncode == 0, out.stderr
    assert "0 new, 0 updated papers in cs.CL (2026-11-10..2026-11-20; 1 page" in out.stdout
    assert len(fake_arxiv.requests) == 2
    assert fake_arxiv.requests[1].at - fake_arxiv.requests[0].at >= 0.9
    assert fake_arxiv.requests[1].params["until"] == "2026-11-20"


def test_malformed_page_is_a_clear_error(
    db_url: str, arxiv_env: dict[str, str], fake_arxiv: FakeArxivFeeds
) -> None:
    fake_arxiv.records = [OaiRecord(f"2611.0000{i}", f"Paper {i}") for i in range(1, 4)]
    fake_arxiv.garbage = True
    out = run(arxiv_env, "backfill-arxiv", "--category", "cs.CL", "--from", "2026-11-01")
    assert out.returncode == 1
    assert "not well-formed XML" in out.stderr and "Traceback" not in out.stderr
    assert _papers(db_url) == {}
    bad = run(arxiv_env, "backfill-arxiv", "--category", "cs.CL", "--from", "2026-11-10",
              "--until", "2026-11-01")
    assert bad.returncode == 2 and "before --from" in bad.stderr
