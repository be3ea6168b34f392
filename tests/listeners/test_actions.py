"""Buttons end to end, and what hostile or huge papers look like in Slack."""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import date

import pytest

from bot.blocks import ZWSP, validate_message
from storage.papers import PaperRecord, upsert_papers
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_payloads import app_mention, block_actions, slash_command
from tests.listeners.support import Running, responses, sent_messages, sqlite_only, texts

LONG_SENTENCE = "Zebracache keeps <diffusion> & attention states warm between steps. "
HOSTILE_TITLE = "<!channel> <@U123> *bold* _it_ ~gone~ `code` & <https://evil.example|click>"


def _add(running: Running, *records: PaperRecord) -> None:
    with running.services.db.session() as s:
        upsert_papers(s, records)
    running.services.search.refresh()


def _mention_answer(running: Running, fake: FakeSlack, query: str) -> dict:
    body, ctype, payload = app_mention(f"<@UBOT> {query}")
    running.sender.send(body, ctype)
    ts = payload["event"]["ts"]
    return fake.wait_for(
        lambda: next((m for m in fake.posted("C0GENERAL") if m.get("thread_ts") == ts), None)
    )


def test_abstract_button_posts_the_abstract_in_the_thread(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    answer = _mention_answer(paperbot, fake_slack, "diffusion caching")
    click, ctype = block_actions(
        answer["blocks"], "paper_abstract", message=answer,
        response_url=fake_slack.response_url("abs"),
    )
    assert paperbot.sender.send(click, ctype).status_code == 200
    thread = answer["thread_ts"]  # the answer is itself a reply: same thread
    replies = fake_slack.wait_for(
        lambda: [m for m in fake_slack.posted("C0GENERAL")
                 if m.get("thread_ts") == thread and m is not answer] or None
    )
    abstract = replies[-1]
    assert abstract["blocks"][0]["type"] == "header"
    first_line = answer["blocks"][1]["text"]["text"].split("\n")[0].strip("*")
    first_title = first_line.split("|", 1)[-1].removesuffix(">")  # *<link|Title>*
    assert abstract["blocks"][0]["text"]["text"] == html.unescape(first_title)
    assert len(" ".join(texts(abstract))) > 300


@sqlite_only
def test_abstract_button_on_ephemeral_answer_replies_to_the_clicker_only(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    body, ctype = slash_command("video generation", response_url=fake_slack.response_url("q"))
    paperbot.sender.send(body, ctype)
    [answer] = fake_slack.wait_for(lambda: responses(fake_slack, "q"))
    click, ctype = block_actions(
        answer["blocks"], "paper_abstract", response_url=fake_slack.response_url("abs")
    )
    assert paperbot.sender.send(click, ctype).status_code == 200
    [abstract] = fake_slack.wait_for(lambda: responses(fake_slack, "abs"))
    assert abstract["response_type"] == "ephemeral"
    assert abstract["replace_original"] is False
    assert abstract["blocks"][0]["type"] == "header"
    assert not fake_slack.calls_to("chat.postMessage")


@sqlite_only
def test_huge_abstract_and_hostile_titles_stay_within_block_kit_limits(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    abstract = (LONG_SENTENCE * 80)[:5000]
    assert len(abstract) == 5000
    _add(paperbot, *[
        PaperRecord(
            title=f"Zebracache {i}: " + "<&> " * 60 + "<<diffusion>> & caching " * 8,
            abstract=abstract,
            source="test",
            authors=tuple(f"Author <{j}> & Co" for j in range(40)),
            published=date(2025, 1, i + 1),
            url=f"https://arxiv.org/abs/2501.{i:05d}?a=1&b=<2>",
            upvotes=i,
        )
        for i in range(7)
    ])
    body, ctype = slash_command("zebracache", response_url=fake_slack.response_url("z"))
    paperbot.sender.send(body, ctype)
    [answer] = fake_slack.wait_for(lambda: responses(fake_slack, "z"))
    assert len([b for b in answer["blocks"] if b["type"] == "section"]) == 5
    assert "*Zebracache*" in answer["blocks"][1]["text"]["text"]  # matched word in bold

    mention = _mention_answer(paperbot, fake_slack, "zebracache")
    click, ctype = block_actions(
        mention["blocks"], "paper_abstract", message=mention,
        response_url=fake_slack.response_url("abs"),
    )
    paperbot.sender.send(click, ctype)
    posted = fake_slack.wait_for(
        lambda: [m for m in fake_slack.posted("C0GENERAL") if m["blocks"][0]["type"] == "header"]
    )
    sections = [b["text"]["text"] for b in posted[0]["blocks"] if b["type"] == "section"]
    assert len(sections) >= 2  # split, not cut
    shown = html.unescape(" ".join(sections).replace(ZWSP, ""))
    assert " ".join(shown.split()) == " ".join(abstract.split())
    for piece in sections:
        assert re.search(r"[.!?]$", piece) or piece is sections[-1]  # cut between sentences
    for params in sent_messages(fake_slack):
        assert validate_message(params) == []
        for text in texts(params, parsed_only=True):
            assert "<&>" not in text and "<<" not in text


@sqlite_only
def test_hostile_title_renders_as_plain_text_and_pings_nobody(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    _add(paperbot, PaperRecord(
        title=HOSTILE_TITLE, abstract="Quokkanet pings <!here> and <@U999> *loudly*.",
        source="test", url="https://arxiv.org/abs/2502.00001",
    ))
    answer = _mention_answer(paperbot, fake_slack, "quokkanet")
    click, ctype = block_actions(
        answer["blocks"], "paper_abstract", message=answer,
        response_url=fake_slack.response_url("abs"),
    )
    paperbot.sender.send(click, ctype)
    fake_slack.wait_for(lambda: len(fake_slack.posted("C0GENERAL")) >= 2)
    sent = sent_messages(fake_slack)
    assert len(sent) == 2
    for params in sent:
        for text in texts(params, parsed_only=True):
            for ping in ("<!channel>", "<@U123>", "<!here>", "<@U999>", "<https://evil"):
                assert ping not in text
            assert "*bold*" not in text and "*loudly*" not in text
        for block in params["blocks"]:
            if block["type"] == "section":
                assert block["text"]["verbatim"] is True
    title = answer["blocks"][1]["text"]["text"].split("\n")[0]
    assert "&lt;!channel&gt; &lt;@U123&gt;" in title
    assert title.startswith("*<https://arxiv.org/abs/2502.00001|")
    header = fake_slack.posted("C0GENERAL")[-1]["blocks"][0]
    assert header["text"]["type"] == "plain_text"  # never parsed for mentions


@sqlite_only
def test_abstract_falls_back_to_the_clicker_when_the_thread_is_closed(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    answer = _mention_answer(paperbot, fake_slack, "diffusion caching")
    fake_slack.channels["C0GENERAL"].is_archived = True  # archived since the answer
    click, ctype = block_actions(
        answer["blocks"], "paper_abstract", message=answer,
        response_url=fake_slack.response_url("abs"),
    )
    assert paperbot.sender.send(click, ctype).status_code == 200
    [abstract] = fake_slack.wait_for(lambda: responses(fake_slack, "abs"))
    assert abstract["response_type"] == "ephemeral" and abstract["replace_original"] is False
    assert "archived" in abstract["blocks"][0]["elements"][0]["text"]
    assert abstract["blocks"][1]["type"] == "header"


@sqlite_only
def test_abstract_button_with_a_forged_id_answers_the_clicker(
    paperbot: Running, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Defect 6: a huge integer (OverflowError in the driver), zero or junk as the paper id:
    the clicker is told the paper is gone, with one log line and no traceback."""
    body, ctype = slash_command("diffusion caching", response_url=fake_slack.response_url("q"))
    paperbot.sender.send(body, ctype)
    [answer] = fake_slack.wait_for(lambda: responses(fake_slack, "q"))
    caplog.set_level(logging.INFO)
    for i, value in enumerate(("99999999999999999999999", str(2**63), "0", "-3", "１２")):
        blocks = json.loads(json.dumps(answer["blocks"]))
        blocks[1]["accessory"]["value"] = value
        click, ctype = block_actions(blocks, "paper_abstract",
                                     response_url=fake_slack.response_url(f"abs{i}"))
        assert paperbot.sender.send(click, ctype).status_code == 200
        [reply] = fake_slack.wait_for(lambda i=i: responses(fake_slack, f"abs{i}"))
        assert "That paper is no longer in the library." in " ".join(texts(reply)), value
        assert reply["response_type"] == "ephemeral"
    paperbot.app.paperbot_background.shutdown(wait=True)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@sqlite_only
def test_sample_papers_show_a_link_not_an_internal_id(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    """Defect 6: bundled papers have no arXiv id or URL; answers link each title (a Hugging
    Face search for it) and never show a `title:<hash>` key."""
    body, ctype = slash_command("diffusion caching", response_url=fake_slack.response_url("q"))
    paperbot.sender.send(body, ctype)
    [answer] = fake_slack.wait_for(lambda: responses(fake_slack, "q"))
    click, ctype = block_actions(answer["blocks"], "paper_abstract",
                                 response_url=fake_slack.response_url("abs"))
    paperbot.sender.send(click, ctype)
    [abstract] = fake_slack.wait_for(lambda: responses(fake_slack, "abs"))
    for section in [b for b in answer["blocks"] if b["type"] == "section"]:
        assert section["text"]["text"].startswith("*<https://"), section["text"]["text"][:80]
    assert "<https://huggingface.co/papers?q=" in " ".join(texts(abstract))
    for payload in (answer, abstract):
        assert "title:" not in json.dumps(payload)
