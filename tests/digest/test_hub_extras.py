"""The Hub's extra fields reach the digest's thread: `paperbot digest --once --now` against
the fake daily-papers API, and each paper's reply shows its code and project links, the
Hub's discussion and its AI summary, labelled as the Hub's (issue 18)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from bot.cli import main
from bot.digest.poster import SlackPoster
from bot.services import Services
from tests.digest.conftest import digest_of, env_for, subscribe
from tests.fakes.hf_api import FakeHF, hf_entry
from tests.fakes.slack_api import FakeSlack

NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


def _texts(blocks: list[dict]) -> list[str]:
    out = []
    for b in blocks:
        if b["type"] == "section":
            out.append(b["text"]["text"])
        elif b["type"] == "context":
            out += [e["text"] for e in b["elements"]]
    return out


def test_digest_replies_show_code_project_comments_and_the_hubs_summary(
    monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path, services: Services,
    poster: SlackPoster, fake_slack: FakeSlack, fake_hf: FakeHF,
) -> None:
    for key, value in env_for(db_url, tmp_path / "home", fake_slack, fake_hf).items():
        monkeypatch.setenv(key, value)
    fake_slack.add_channel("C123", "papers")
    rich = hf_entry("2611.00001", "Cached Diffusion Transformers", upvotes=50,
                    github="https://github.com/lab/cache-dit",
                    project_page="https://lab.github.io/cache-dit",
                    ai_summary="Reusing features across steps speeds up diffusion 2x.",
                    comments=7)
    bare = hf_entry("2611.00002", "Plain Paper Without Extras", upvotes=40, ai_summary="",
                    comments=0)
    fake_hf.set_day(NOW.date(), [rich, bare])
    with time_machine.travel(NOW):
        subscribe(services, poster, "C123", "subscribe", "U1")
        assert main(["digest", "--once", "--now"]) == 0
    [(_parent, replies)] = digest_of(fake_slack, "C123")
    [rich_reply] = [r for r in replies if "Cached Diffusion" in _texts(r["blocks"])[0]]
    [bare_reply] = [r for r in replies if "Plain Paper" in _texts(r["blocks"])[0]]
    notes = " ".join(_texts(rich_reply["blocks"]))
    assert "<https://github.com/lab/cache-dit|code>" in notes
    assert "<https://lab.github.io/cache-dit|project page>" in notes
    assert "<https://huggingface.co/papers/2611.00001|7 comments on Hugging Face>" in notes
    assert ("*AI summary (Hugging Face):* Reusing features across steps speeds up "
            "diffusion 2x.") in notes
    bare_text = " ".join(_texts(bare_reply["blocks"]))
    assert "AI summary" not in bare_text and "comment" not in bare_text
    assert "project page" not in bare_text
