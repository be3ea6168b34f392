"""The Hub's extra fields are stored, and HF and the arXiv feed make ONE row per paper:
`paperbot fetch-arxiv` then `paperbot import` of a daily-papers file, on both backends."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from storage.db import Database
from storage.models import Paper
from tests.fakes.arxiv_feeds import FakeArxivFeeds, FeedItem
from tests.fakes.hf_api import hf_entry
from tests.sources.conftest import run


def test_hub_fields_join_the_feed_row(
    db_url: str, tmp_path: Path, arxiv_env: dict[str, str], fake_arxiv: FakeArxivFeeds
) -> None:
    fake_arxiv.set_feed("cs.CL", [FeedItem("2612.01001", "Speculative Decoding for Speech",
                                           version=2, announce_type="replace")],
                        date(2026, 12, 4))
    assert run(arxiv_env, "fetch-arxiv", "--category", "cs.CL").returncode == 0
    day = tmp_path / "daily.json"
    day.write_text(json.dumps([
        hf_entry("2612.01001v2", "Speculative Decoding for Speech", upvotes=12,
                 github="https://github.com/a/b", project_page="https://a.github.io/b",
                 ai_summary="The Hub's one-line summary.", ai_keywords=("speculative decoding",),
                 comments=4),
    ]))
    out = run(arxiv_env, "import", str(day), "--format", "hf")
    assert out.returncode == 0, out.stderr
    db = Database(db_url)
    try:
        with db.session() as s:
            rows = s.query(Paper).all()
            assert len(rows) == 1
            p = rows[0]
            assert (p.arxiv_id, p.source, p.version, p.announce_type) == (
                "2612.01001", "arxiv", 2, "replace")
            assert (p.upvotes, p.code_url, p.project_page) == (
                12, "https://github.com/a/b", "https://a.github.io/b")
            assert p.ai_summary == "The Hub's one-line summary."
            assert p.ai_keywords == ["speculative decoding"] and p.num_comments == 4
    finally:
        db.dispose()
