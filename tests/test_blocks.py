"""bot/blocks.py: escaping, splitting, snippets and Block Kit limits (pure functions)."""

from __future__ import annotations

import html
from datetime import date

import pytest

from bot.blocks import (
    MAX_ACTION_VALUE,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    ZWSP,
    Paging,
    abstract_message,
    clip,
    error_message,
    help_message,
    link_url,
    no_results_message,
    page_value,
    parse_page_value,
    results_message,
    safe,
    safe_clip,
    short_authors,
    snippet,
    split_text,
    title_link,
    validate_message,
)
from storage.models import Paper


def paper(**kw: object) -> Paper:
    values: dict[str, object] = {
        "id": 1, "title": "Fast Diffusion Caching", "abstract": "We cache diffusion features.",
        "authors": ["Ada Lovelace", "Alan Turing"], "published": date(2025, 3, 1),
        "url": "https://arxiv.org/abs/2503.00001", "pdf_url": "https://arxiv.org/pdf/2503.00001",
        "code_url": None, "upvotes": 42, "arxiv_id": "2503.00001",
    }
    values.update(kw)
    return Paper(**values)


def unrender(text: str) -> str:
    return html.unescape(text.replace(ZWSP, ""))


def test_safe_escapes_and_defuses_formatting() -> None:
    out = safe("<!channel> <@U123> *bold* _it_ ~s~ `c` & more")
    assert "<" not in out and ">" not in out
    assert "&lt;!channel&gt;" in out and "&amp; more" in out
    assert "*bold*" not in out and "_it_" not in out and "~s~" not in out
    assert unrender(out) == "<!channel> <@U123> *bold* _it_ ~s~ `c` & more"
    assert safe("plain words") == "plain words"


def test_clip_and_safe_clip_respect_rendered_length() -> None:
    assert clip("one two three four", 12) == "one two…"
    assert len(clip("x" * 100, 10)) == 10
    hostile = "<&> " * 500
    clipped = safe_clip(hostile, 300)
    assert len(clipped) <= 300 and clipped.endswith("…")
    assert "&am…" not in clipped and clipped.count("&") == clipped.count(";")


def test_split_text_keeps_every_word_and_cuts_between_sentences() -> None:
    text = " ".join(f"Sentence number {i} says <this> & that." for i in range(400))
    pieces = split_text(text, MAX_SECTION_TEXT)
    assert len(pieces) > 1
    assert all(len(p) <= MAX_SECTION_TEXT for p in pieces)
    assert all(p.endswith(".") for p in pieces)
    assert unrender(" ".join(pieces)) == text


def test_split_text_falls_back_to_words_then_characters() -> None:
    words = " ".join(["word"] * 2000)  # one "sentence" of 9,999 chars
    pieces = split_text(words, 1000)
    assert all(len(p) <= 1000 for p in pieces) and " ".join(pieces) == words
    blob = "&" * 2500  # a single word that escapes to 12,500 chars
    pieces = split_text(blob, 3000)
    assert all(len(p) <= 3000 for p in pieces)
    assert unrender("".join(pieces)) == blob


def test_short_authors() -> None:
    assert short_authors(["A", "B", "C", "D"]) == "A, B, C et al."
    assert short_authors(["A", "B"]) == "A, B"
    assert short_authors([]) == ""


def test_snippet_bolds_matched_words_around_the_match() -> None:
    text = ("Filler words about nothing in particular. " * 20
            + "Our feature caching speeds up diffusion transformers. " + "More filler. " * 20)
    out = snippet(text, ("cach", "diffus"))
    assert "*caching*" in out and "*diffusion*" in out
    assert out.startswith("…") and out.endswith("…")
    assert len(out) < 400
    # Camel-case compound matched by a part: the whole word is bolded (Slack needs boundaries).
    assert "*ERTACache*" in snippet("We present ERTACache for diffusion.", ("cach",))


def test_link_url_refuses_non_http_and_escapes_link_syntax() -> None:
    assert link_url("javascript:alert(1)") is None
    assert link_url(None) is None
    assert link_url("https://x.org/a|b>c d&e") == "https://x.org/a%7Cb%3Ec%20d&amp;e"
    assert link_url("https://x.org/" + "a" * 2000) is None


def test_page_values_round_trip_and_fit() -> None:
    value = page_value("diffusion “caching”", 5)
    assert value and parse_page_value(value) == ("diffusion “caching”", 5)
    assert page_value("x" * 3000, 0) is None
    with pytest.raises(ValueError):
        parse_page_value('{"q": "x", "o": -1}')


def test_results_message_layout_and_limits() -> None:
    papers = [paper(id=i, title=f"Paper {i} <b>&</b>") for i in range(1, 6)]
    msg = results_message(
        papers, Paging("diffusion caching", 0, 12, ("diffus", "cach")), ephemeral=True
    )
    assert validate_message(msg) == []
    first = msg["blocks"][1]["text"]["text"]
    assert first.startswith("*<https://arxiv.org/abs/2503.00001|Paper 1 &lt;b&gt;&amp;")
    assert "Ada Lovelace, Alan Turing · 2025-03-01 · ▲ 42 upvotes" in first
    actions = msg["blocks"][-1]["elements"]
    assert [a["action_id"] for a in actions] == ["papers_more", "papers_share"]
    assert parse_page_value(actions[0]["value"]) == ("diffusion caching", 5)
    shared = results_message(papers, Paging("q", 0, 5), ephemeral=False, shared_by="U0ALICE")
    # last page, not ephemeral: no paging buttons, only each paper's feedback buttons
    assert shared["blocks"][-1]["block_id"].startswith("paper_acts_")
    assert all(b.get("block_id") != "paging" for b in shared["blocks"])
    assert "shared by <@U0ALICE>" in shared["blocks"][0]["elements"][0]["text"]
    assert "<@" not in str(results_message(papers, Paging("q", 0, 5), ephemeral=False,
                                           shared_by="<!channel>"))


def test_everything_fits_with_hostile_and_huge_papers() -> None:
    huge = paper(
        title="<&>" * 2000,
        abstract="A sentence with <tags> & ampersands. " * 4000,  # ~150,000 chars
        authors=["<@U1> & co"] * 500,
        url="https://example.org/?" + "&x=<y>" * 100,
    )
    msgs = [
        results_message([huge] * 20, Paging("<&> " * 100, 0, 100, ("sentenc",)),
                        ephemeral=True),
        abstract_message(huge),
        abstract_message(huge, note="I'm not in this channel."),
        no_results_message("<!channel> " * 1000),
        error_message("<!here> " * 2000),
        help_message(),
    ]
    for msg in msgs:
        assert validate_message(msg) == [], validate_message(msg)
        assert len(msg["text"]) <= 400
    header = abstract_message(huge)["blocks"][0]
    assert header["type"] == "header" and len(header["text"]["text"]) <= MAX_HEADER_TEXT
    assert "continues" in abstract_message(huge)["blocks"][-1]["text"]["text"]


def test_five_thousand_char_abstract_is_split_not_cut() -> None:
    abstract = ("Caching <keeps> & reuses features. " * 200)[:5000].strip()
    msg = abstract_message(paper(abstract=abstract))
    sections = [b["text"]["text"] for b in msg["blocks"] if b["type"] == "section"]
    assert len(sections) >= 2
    assert unrender(" ".join(sections)) == abstract
    assert validate_message(msg) == []


def test_validate_message_catches_violations() -> None:
    bad = {
        "text": "x" * 40_001,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}] * 51
        + [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}},
           {"type": "actions", "elements": [{
               "type": "button", "action_id": "a", "value": "v" * (MAX_ACTION_VALUE + 1),
               "text": {"type": "plain_text", "text": "b" * 76}}]}],
    }
    problems = " | ".join(validate_message(bad))
    for expected in ("text is 40001", "53 blocks", "3001 chars", "header text must be plain_text",
                     "76 chars", "value over"):
        assert expected in problems


def test_papers_without_a_url_link_to_a_search_for_their_title() -> None:
    p = paper(title="MixCache: Mixture-of-Cache <&>", url=None, arxiv_id=None)
    line = title_link(p)
    assert line.startswith("*<https://huggingface.co/papers?q=MixCache%3A+Mixture-of-Cache+")
    assert line.endswith("|MixCache: Mixture-of-Cache &lt;&amp;&gt;>*")


# --- feedback buttons (issue 10) ---------------------------------------------------------


def test_paper_actions_within_limits_and_state_for_the_viewer_only() -> None:
    from bot.blocks import feedback_notice, paper_actions, parse_view, single_paper, view_token

    papers = [paper(id=i, title=f"Paper {i}") for i in range(1, 6)]
    private = results_message(papers, Paging("diffusion caching", 0, 12, ("diffus",)),
                              ephemeral=True, saved={2}, hidden={3})
    shared = results_message(papers, Paging("q", 0, 5), ephemeral=False, saved={2}, hidden={3})
    for msg in (private, shared):
        assert validate_message(msg) == []
        assert len(msg["blocks"]) <= 12  # heading, 5 × (paper, buttons), paging
    labels = [b["elements"][0]["text"]["text"] for b in private["blocks"]
              if b.get("block_id", "").startswith("paper_acts_")]
    assert labels == ["Save", "Saved ✓", "Not for us ✓ · Undo", "Save", "Save"]
    assert "✓" not in str(shared)  # a channel message never shows anyone's choices
    acts = private["blocks"][2]
    assert [e["action_id"] for e in acts["elements"]] == ["paper_save", "paper_similar",
                                                          "paper_hide"]
    assert [o["value"] for o in acts["elements"][2]["options"]] == ["hide:1", "unhide:1"]
    assert parse_view(acts["block_id"]) == ("s", 0, "diffusion caching")
    # A query too long for a block_id: no view (the click gets a private notice instead).
    long = results_message(papers, Paging("x " * 200, 0, 5), ephemeral=True)
    assert validate_message(long) == [] and parse_view(long["blocks"][2]["block_id"]) is None
    assert parse_view("paper_acts_1|[\"zz\",0,\"\"]") is None
    assert parse_view("paper_acts_1|not json") is None
    assert parse_view("paper_acts_1|" + view_token("m", 5, 7)) == ("m", 5, 7)
    assert single_paper(private) is None
    notice = feedback_notice(papers[0], "*Saved ✓*", saved=True, hidden=False)
    assert validate_message(notice) == [] and single_paper(notice) == 1
    assert paper_actions(9, 1, hidden=True)["elements"][0]["value"] == "unhide:9"


def test_validate_message_checks_overflows_and_action_ids_per_block() -> None:
    over = {"type": "overflow", "action_id": "o", "options": [
        {"text": {"type": "plain_text", "text": "only"}, "value": "v"}]}
    problems = validate_message({"text": "t", "blocks": [{"type": "actions", "elements": [over]}]})
    assert any("overflow with 1 options" in p for p in problems)
    same = {"type": "button", "text": {"type": "plain_text", "text": "b"}, "action_id": "a",
            "value": "1"}
    twice = [{"type": "actions", "block_id": "x", "elements": [same]},
             {"type": "actions", "block_id": "y", "elements": [same]}]
    assert validate_message({"text": "t", "blocks": twice}) == []  # Slack: unique per block
    dup = [{"type": "actions", "block_id": "x", "elements": [same, same]}]
    assert any("duplicate action_id" in p for p in validate_message({"text": "t", "blocks": dup}))


def test_digest_reply_ends_with_the_papers_buttons_even_for_a_huge_abstract() -> None:
    from bot.digest.blocks import reply_message

    huge = paper(id=7, abstract="Zebra caching words here. " * 12_000)
    msg = reply_message(3, huge)
    assert validate_message(msg) == [] and len(msg["blocks"]) == 50
    assert msg["blocks"][-1]["block_id"] == "paper_acts_3"
    assert "continues" in msg["blocks"][-2]["text"]["text"]


def test_hub_extras_show_as_links_and_a_labelled_summary_in_reply_abstract_and_card() -> None:
    from bot.blocks import paper_unfurl
    from bot.digest.blocks import reply_message

    p = paper(code_url="https://github.com/a/cache", project_page="https://a.github.io/cache",
              ai_summary="Caches <!channel> features *fast*.", num_comments=4)
    reply, abstract, card = reply_message(1, p), abstract_message(p), paper_unfurl(p)
    for msg in (reply, abstract, card):
        assert validate_message(msg) == [], validate_message(msg)
        text = str(msg["blocks"])
        assert "<https://github.com/a/cache|code>" in text
        assert "<https://a.github.io/cache|project page>" in text
        assert "<https://huggingface.co/papers/2503.00001|4 comments on Hugging Face>" in text
    for msg in (reply, abstract):
        notes = [e["text"] for b in msg["blocks"] if b["type"] == "context" for e in b["elements"]]
        summary = [n for n in notes if n.startswith("*AI summary (Hugging Face):* ")]
        assert len(summary) == 1
        assert "<!channel>" not in summary[0] and "*fast*" not in summary[0]  # defused
        assert unrender(summary[0]).endswith("Caches <!channel> features *fast*.")
    # the abstract itself is still the authors' text, whole, after the Hub's summary
    assert unrender(reply["blocks"][-2]["text"]["text"]) == "We cache diffusion features."


def test_papers_without_hub_extras_get_no_extra_lines() -> None:
    from bot.digest.blocks import reply_message

    reply = reply_message(2, paper(pdf_url=None))
    assert [b["type"] for b in reply["blocks"]] == ["section", "section", "actions"]
    assert "AI summary" not in str(abstract_message(paper()))
    assert "comment" not in str(reply_message(1, paper(num_comments=0)))


def test_hub_extras_with_huge_urls_and_summary_still_fit() -> None:
    from bot.blocks import paper_unfurl
    from bot.digest.blocks import reply_message

    long = "https://example.org/" + "x" * 780
    p = paper(pdf_url=long + "1", code_url=long + "2", project_page=long + "3",
              ai_summary="word " * 5000, num_comments=10**6, abstract="A. " * 20_000)
    for msg in (reply_message(1, p), abstract_message(p), paper_unfurl(p)):
        assert validate_message(msg) == [], validate_message(msg)
