"""Paper links become cards: signed link_shared events over HTTP, chat.unfurl on the fake
Slack, metadata from the library, the fake Hub or the fake arXiv API."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import select

from bot.blocks import validate_message
from storage.feedback import saved_ids
from storage.models import Paper
from storage.papers import PaperRecord, upsert_papers
from tests.fakes.arxiv_api import ArxivPaper, FakeArxiv
from tests.fakes.hf_api import FakeHF, hf_entry
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_payloads import block_actions, link_shared, slash_command
from tests.links.conftest import TEST_ARXIV_INTERVAL
from tests.listeners.support import Running, responses, sqlite_only, texts
from tests.logcapture import captured_log


def _share(paperbot: Running, urls: list[str], **kw: Any) -> dict[str, Any]:
    body, ctype, payload = link_shared(urls, **kw)
    assert paperbot.sender.send(body, ctype).status_code == 200
    return payload


def _unfurls(fake: FakeSlack, count: int = 1) -> list[dict[str, Any]]:
    """The chat.unfurl calls made, each card checked against Block Kit's limits."""
    fake.wait_for(lambda: len(fake.calls_to("chat.unfurl")) >= count, timeout=10)
    calls = [c.params for c in fake.calls_to("chat.unfurl")]
    for params in calls:
        for url, card in params["unfurls"].items():
            problems = validate_message({"text": url, "blocks": card["blocks"]})
            assert not problems, problems
    return calls


def _card_text(card: dict[str, Any]) -> str:
    return " ".join(texts(card))


def _stored(paperbot: Running, arxiv_id: str) -> Paper | None:
    with paperbot.services.db.session() as s:
        return s.scalars(select(Paper).where(Paper.arxiv_id == arxiv_id)).first()


def _wait_log(buf: Any, needle: str, timeout: float = 10.0) -> list[str]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        lines = [ln for ln in buf.getvalue().splitlines() if needle in ln]
        if lines:
            time.sleep(0.2)  # anything that would follow the line has had its chance
            return [ln for ln in buf.getvalue().splitlines() if needle in ln]
        time.sleep(0.02)
    raise AssertionError(f"no log line with {needle!r}: {buf.getvalue()[-2000:]}")


@sqlite_only
def test_library_paper_is_unfurled_from_the_library_without_outside_requests(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    with paperbot.services.db.session() as s:
        upsert_papers(s, [PaperRecord(
            title="Caching Diffusion Transformers", abstract="We cache attention maps. " * 30,
            source="hf", arxiv_id="2501.00001", authors=("Ada Lovelace", "Alan Turing"),
            published=date(2025, 1, 2), url="https://huggingface.co/papers/2501.00001",
            pdf_url="https://arxiv.org/pdf/2501.00001", code_url="https://github.com/x/cache",
            upvotes=42,
        )])
    url = "https://arxiv.org/abs/2501.00001v2"
    payload = _share(paperbot, [url])
    [call] = _unfurls(fake_slack)
    assert call["unfurl_id"] == payload["event"]["unfurl_id"]
    assert call["source"] == "conversations_history"
    card = call["unfurls"][url]
    section = card["blocks"][0]
    text = section["text"]["text"]
    assert text.startswith("*<https://huggingface.co/papers/2501.00001|Caching Diffusion")
    assert "Ada Lovelace, Alan Turing" in text and "2025-01-02" in text and "▲ 42" in text
    assert "We cache attention maps." in text and text.endswith("…")  # a snippet, not it all
    assert section["accessory"]["text"]["text"] == "Abstract"
    buttons = [e["text"]["text"] for b in card["blocks"] if b["type"] == "actions"
               for e in b["elements"] if e["type"] == "button"]
    assert buttons == ["Save", "More like this"]
    joined = _card_text(card)
    assert "<https://arxiv.org/pdf/2501.00001|PDF>" in joined
    assert "<https://github.com/x/cache|code>" in joined
    assert fake_hf.requests == [] and fake_arxiv.requests == []
    assert fake_slack.posted() == []  # a card on the link, never a message in the channel


def test_unknown_hf_link_is_fetched_from_the_hub_stored_and_searchable(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    fake_hf.set_paper("2502.04321", hf_entry(
        "2502.04321", "Quokka Routing for Sparse Mixture Models",
        summary="Quokka routing balances experts without auxiliary losses.", upvotes=17,
        github="https://github.com/quokka/routing",
    )["paper"])
    url = "https://huggingface.co/papers/2502.04321"
    _share(paperbot, [url])
    [call] = _unfurls(fake_slack)
    joined = _card_text(call["unfurls"][url])
    assert "Quokka Routing for Sparse Mixture Models" in joined and "▲ 17" in joined
    assert "<https://github.com/quokka/routing|code>" in joined
    assert [r.path for r in fake_hf.requests] == ["/api/papers/2502.04321"]
    assert fake_arxiv.requests == []
    stored = _stored(paperbot, "2502.04321")
    assert stored is not None and stored.upvotes == 17
    # found at once by a signed /papers search
    body, ctype = slash_command("quokka routing", response_url=fake_slack.response_url("q"))
    assert paperbot.sender.send(body, ctype).status_code == 200
    fake_slack.wait_for(lambda: responses(fake_slack, "q"))
    [answer] = responses(fake_slack, "q")
    assert "Quokka Routing for Sparse Mixture Models" in " ".join(texts(answer))


def test_unknown_arxiv_link_forms_are_fetched_from_the_arxiv_api(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.set_paper(ArxivPaper(
        "2403.11111", "Wombat: Burrowing Attention for Long Context",
        summary="Wombat attention burrows through long documents & keeps <memory> small.",
        authors=("Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth"),
        published="2024-03-18T17:59:59Z", version=3,
    ))
    urls = [
        "https://arxiv.org/abs/2403.11111",
        "https://arxiv.org/pdf/2403.11111v3",
        "https://arxiv.org/html/2403.11111v2",
        "https://www.alphaxiv.org/abs/2403.11111",
    ]
    _share(paperbot, urls)
    [call] = _unfurls(fake_slack)
    assert sorted(call["unfurls"]) == sorted(urls)
    text = call["unfurls"][urls[1]]["blocks"][0]["text"]["text"]
    assert "*<https://arxiv.org/abs/2403.11111|Wombat: Burrowing Attention" in text
    assert "Grace Hopper, Edsger Dijkstra, Barbara Liskov et al." in text
    assert "2024-03-18" in text and "upvotes" not in text  # unknown on arXiv
    assert "&amp; keeps &lt;memory&gt; small." in text  # outside text escaped
    assert "<http://arxiv.org/pdf/2403.11111v3|PDF>" in _card_text(call["unfurls"][urls[1]])
    # one paper: one Hub request (404) and one arXiv request, whatever the link's form
    assert [r.path for r in fake_hf.requests] == ["/api/papers/2403.11111"]
    assert [r.params for r in fake_arxiv.requests] == [
        {"id_list": "2403.11111", "max_results": "1"}]
    stored = _stored(paperbot, "2403.11111")
    assert stored is not None and stored.source == "arxiv"
    assert stored.categories == "cs.LG cs.AI"


@sqlite_only
def test_two_links_in_one_event_get_one_unfurl_with_both_cards(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    fake_hf.set_paper("2502.00002", hf_entry("2502.00002", "Platypus Tokenizers")["paper"])
    fake_arxiv.set_paper(ArxivPaper("2402.00003", "Echidna Optimizers"))
    urls = ["https://huggingface.co/papers/2502.00002", "https://arxiv.org/abs/2402.00003",
            "https://example.com/not-a-paper"]
    _share(paperbot, urls)
    [call] = _unfurls(fake_slack)
    assert set(call["unfurls"]) == set(urls[:2])
    assert "Platypus Tokenizers" in _card_text(call["unfurls"][urls[0]])
    assert "Echidna Optimizers" in _card_text(call["unfurls"][urls[1]])
    time.sleep(0.3)
    assert len(fake_slack.calls_to("chat.unfurl")) == 1


@sqlite_only
def test_hostile_atom_document_is_refused(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.mode = "hostile"
    url = "https://arxiv.org/abs/2401.00001"
    with captured_log() as buf:
        _share(paperbot, [url])
        lines = _wait_log(buf, url)
    assert len(lines) == 1 and "hostile XML" in lines[0], lines
    assert len(fake_arxiv.requests) == 1
    assert fake_slack.calls_to("chat.unfurl") == [] and fake_slack.posted() == []
    assert _stored(paperbot, "2401.00001") is None


@sqlite_only
def test_arxiv_requests_are_paced_across_concurrent_links(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    ids = ["2404.00001", "2404.00002", "2404.00003"]
    for i in ids:
        fake_arxiv.set_paper(ArxivPaper(i, f"Paper {i}"))
    with ThreadPoolExecutor(3) as pool:  # three messages at once: three lane workers
        list(pool.map(lambda i: _share(paperbot, [f"https://arxiv.org/abs/{i}"]), ids))
    _unfurls(fake_slack, 3)
    times = sorted(r.at for r in fake_arxiv.requests)
    assert len(times) == 3
    gaps = [b - a for a, b in pairwise(times)]
    assert all(g >= TEST_ARXIV_INTERVAL for g in gaps), gaps


@sqlite_only
def test_failed_lookup_leaves_slacks_preview_alone(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.mode = "error"  # and the Hub does not know the paper (404)
    url = "https://huggingface.co/papers/2409.99999"
    with captured_log() as buf:
        _share(paperbot, [url])
        lines = _wait_log(buf, url)
    assert len(lines) == 1 and "HTTP 500" in lines[0], lines
    assert [r.path for r in fake_hf.requests] == ["/api/papers/2409.99999"]
    assert len(fake_arxiv.requests) >= 1
    assert fake_slack.calls_to("chat.unfurl") == []
    assert fake_slack.posted() == [] and fake_slack.calls_to("chat.postEphemeral") == []
    assert _stored(paperbot, "2409.99999") is None


@sqlite_only
def test_second_share_points_back_to_the_first_discussion(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    pytest.importorskip("storage.library")
    fake_hf.set_paper("2502.05555", hf_entry("2502.05555", "Kiwi Distillation")["paper"])
    url = "https://huggingface.co/papers/2502.05555"
    first = _share(paperbot, [url], user="U0ALICE")
    [call] = _unfurls(fake_slack)
    assert "First discussed" not in _card_text(call["unfurls"][url])
    fake_slack.add_channel("C0RANDOM", "random")
    _share(paperbot, [url], channel="C0RANDOM", user="U0BOB")
    second = _unfurls(fake_slack, 2)[1]
    ts = first["event"]["message_ts"]
    day = datetime.fromtimestamp(float(ts), UTC).date().isoformat()
    permalink = f"https://fakelab.slack.com/archives/C0GENERAL/p{ts.replace('.', '')}"
    assert (f"First discussed in <#C0GENERAL> by <@U0ALICE> on {day} · <{permalink}|view>"
            in _card_text(second["unfurls"][url]))
    assert len(fake_hf.requests) == 1  # the second share came from the library
    assert [c.params["channel"] for c in fake_slack.calls_to("chat.getPermalink")] == [
        "C0GENERAL", "C0RANDOM"]


@sqlite_only
def test_link_in_the_composer_is_unfurled_by_its_unfurl_id_without_recording_a_share(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    fake_hf.set_paper("2502.06666", hf_entry("2502.06666", "Numbat Sampling")["paper"])
    url = "https://huggingface.co/papers/2502.06666"
    payload = _share(paperbot, [url], composer=True)
    [call] = _unfurls(fake_slack)
    assert call["source"] == "composer" and call["unfurl_id"] == payload["event"]["unfurl_id"]
    assert fake_slack.calls_to("chat.getPermalink") == []


@sqlite_only
def test_card_buttons_work_abstract_in_the_thread_and_save(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    """A click on a card (Slack sends the message that carried the link) answers like a
    click on one of our messages: Abstract in that message's thread, Save saved."""
    fake_hf.set_paper("2502.07777", hf_entry(
        "2502.07777", "Bilby Retrieval", summary="Bilby retrieves. " * 40)["paper"])
    url = "https://huggingface.co/papers/2502.07777"
    payload = _share(paperbot, [url])
    [call] = _unfurls(fake_slack)
    blocks = call["unfurls"][url]["blocks"]
    ts = payload["event"]["message_ts"]
    shared = {"ts": ts, "text": url, "user": "U0ALICE", "blocks": []}
    body, ctype = block_actions(blocks, "paper_abstract", message=shared,
                                response_url=fake_slack.response_url("a"))
    assert paperbot.sender.send(body, ctype).status_code == 200
    [reply] = fake_slack.wait_for(
        lambda: [m for m in fake_slack.posted("C0GENERAL") if m.get("thread_ts") == ts])
    assert "Bilby retrieves." in " ".join(texts(reply))
    body, ctype = block_actions(blocks, "paper_save", message=shared, user="U0CAROL",
                                response_url=fake_slack.response_url("s"))
    assert paperbot.sender.send(body, ctype).status_code == 200
    paper = _stored(paperbot, "2502.07777")
    assert paper is not None

    def saved() -> list[int]:
        with paperbot.services.db.session() as s:
            return saved_ids(s, "T0001", "U0CAROL")

    fake_slack.wait_for(lambda: saved() == [paper.id])


@sqlite_only
def test_a_retried_link_shared_event_is_unfurled_once(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    fake_hf.set_paper("2502.08888", hf_entry("2502.08888", "Dingo Decoding")["paper"])
    body, ctype, _ = link_shared(["https://huggingface.co/papers/2502.08888"])
    assert paperbot.sender.send(body, ctype).status_code == 200
    _unfurls(fake_slack)
    assert paperbot.sender.send(body, ctype, retry_num=1).status_code == 200
    time.sleep(0.5)
    assert len(fake_slack.calls_to("chat.unfurl")) == 1
    assert len(fake_hf.requests) == 1


def test_the_same_new_paper_shared_twice_at_once_is_stored_once_and_unfurled_twice(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    fake_hf.set_paper("2502.09999", hf_entry("2502.09999", "Koala Caching")["paper"])
    url = "https://huggingface.co/papers/2502.09999"
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: _share(paperbot, [url]), range(4)))
    calls = _unfurls(fake_slack, 4)
    assert all("Koala Caching" in _card_text(c["unfurls"][url]) for c in calls)
    with paperbot.services.db.session() as s:
        assert len(s.scalars(select(Paper).where(Paper.arxiv_id == "2502.09999")).all()) == 1
