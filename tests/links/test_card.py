"""The link card as a pure Block Kit function: outside text defused, within Slack's limits."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from bot.blocks import first_discussed, paper_unfurl, validate_message


def _paper(**kw: object) -> SimpleNamespace:
    base = dict(
        id=7, title="T", abstract="", authors=[], published=None, url=None, pdf_url=None,
        code_url=None, upvotes=None, arxiv_id=None, link="https://arxiv.org/abs/2401.00001",
        project_page=None, ai_summary=None, num_comments=None,
    )
    return SimpleNamespace(**{**base, **kw})


def test_hostile_and_huge_paper_fits_and_pings_nobody() -> None:
    p = _paper(
        title="<!channel> *bold* " + "x" * 5000, abstract="<@U123> & " + "word " * 20_000,
        authors=["<!here>"] * 5000, code_url="javascript:alert(1)",
        pdf_url="https://arxiv.org/pdf/2401.00001|evil", project_page="https://x.org/>|<!here>",
    )
    card = paper_unfurl(p, first_share=first_discussed("C0GENERAL", "U0ALICE",
                                                       date(2025, 1, 2), None))
    assert validate_message({"text": "x", "blocks": card["blocks"]}) == []
    text = card["blocks"][0]["text"]["text"]
    assert "<!channel>" not in text and "<!here>" not in text and "<@U123>" not in text
    assert len(text) < 3000
    joined = str(card)
    assert "javascript:" not in joined and "|evil" not in joined
    assert "<!here>" not in joined  # the project page's link syntax is defused too
    assert "First discussed in <#C0GENERAL> by <@U0ALICE> on 2025-01-02" in joined


def test_first_discussed_only_names_real_ids() -> None:
    assert first_discussed("<!channel>", "<!here>", None, "javascript:x") is None
    assert first_discussed("C1X", "bogus", date(2025, 5, 1), "https://x.slack.com/p1") == (
        "First discussed in <#C1X> on 2025-05-01 · <https://x.slack.com/p1|view>"
    )
