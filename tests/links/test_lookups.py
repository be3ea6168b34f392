"""Issue 17: link lookups wait on arXiv's pacing on their own lane, one arXiv request per
event, a capped number of links per event, and the papers nobody found remembered. Signed
link_shared events over HTTP against the fake Slack, Hub and arXiv APIs."""

from __future__ import annotations

import time
from typing import Any

from bot.links.fetch import TRIES
from bot.links.unfurl import MAX_LINKS
from bot.listeners.workers import SLACK_CALL_WORKERS
from tests.fakes.arxiv_api import ArxivPaper, FakeArxiv
from tests.fakes.hf_api import FakeHF
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_payloads import app_mention
from tests.links.test_unfurl import _card_text, _share, _unfurls
from tests.listeners.support import Running, sqlite_only
from tests.logcapture import captured_log


def _urls(prefix: str, count: int) -> list[str]:
    return [f"https://arxiv.org/abs/{prefix}.{n:05d}" for n in range(1, count + 1)]


def _id(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def _log_lines(buf: Any, needle: str, count: int, timeout: float = 10.0) -> list[str]:
    """The log lines with `needle`, once there are `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [ln for ln in buf.getvalue().splitlines() if needle in ln]
        if len(lines) >= count or time.monotonic() > deadline:
            assert len(lines) >= count, buf.getvalue()[-3000:]
            return lines
        time.sleep(0.02)


@sqlite_only
def test_twenty_unknown_ids_in_one_event_cost_one_arxiv_request(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    urls = _urls("2405", 20)
    known = urls[:MAX_LINKS:2]
    for url in known:
        fake_arxiv.set_paper(ArxivPaper(_id(url), f"Capybara {_id(url)}"))
    _share(paperbot, urls)
    [call] = _unfurls(fake_slack)
    assert sorted(call["unfurls"]) == sorted(known)
    assert all(f"Capybara {_id(u)}" in _card_text(call["unfurls"][u]) for u in known)
    [request] = fake_arxiv.requests  # one id_list for the event's links (up to the cap)
    assert request.params["id_list"].split(",") == [_id(u) for u in urls[:MAX_LINKS]]
    assert request.params["max_results"] == str(MAX_LINKS)


@sqlite_only
def test_a_forged_event_with_500_links_looks_up_no_more_than_the_cap(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    urls = _urls("2406", 500)
    for url in urls:
        fake_arxiv.set_paper(ArxivPaper(_id(url), f"Tapir {_id(url)}"))
    with captured_log() as buf:
        _share(paperbot, urls)
        [call] = _unfurls(fake_slack)
        [line] = _log_lines(buf, "paper links in one event", 1)
    assert f"500 paper links in one event; looking up the first {MAX_LINKS}" in line
    assert sorted(call["unfurls"]) == sorted(urls[:MAX_LINKS])
    assert len(fake_hf.requests) == MAX_LINKS
    [request] = fake_arxiv.requests
    assert len(request.params["id_list"].split(",")) == MAX_LINKS
    time.sleep(0.3)
    assert len(fake_arxiv.requests) == 1 and len(fake_slack.calls_to("chat.unfurl")) == 1


@sqlite_only
def test_a_link_nobody_knows_is_looked_up_once_while_remembered(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    unknown = "https://arxiv.org/abs/2407.00001"
    with captured_log() as buf:
        for n in range(1, 4):
            _share(paperbot, [unknown])
            lines = _log_lines(buf, f"no card for {unknown}", n)
        assert all(f"no source knows arXiv {_id(unknown)}" in ln for ln in lines), lines
        assert len(fake_hf.requests) == 1 and len(fake_arxiv.requests) == 1

        fake_arxiv.mode = "error"  # a failed fetch is remembered too
        failing = "https://arxiv.org/abs/2407.00002"
        for n in range(1, 3):
            _share(paperbot, [failing])
            lines = _log_lines(buf, f"no card for {failing}", n)
        assert all("HTTP 500" in ln for ln in lines), lines
        assert len(fake_hf.requests) == 2 and len(fake_arxiv.requests) == 1 + TRIES
    assert "Traceback" not in buf.getvalue()
    assert fake_slack.calls_to("chat.unfurl") == []


@sqlite_only
def test_a_mention_is_answered_while_link_lookups_are_stuck_on_arxiv(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    """More stuck link events than the Slack-calls lane has workers: the mention's reply
    still arrives before any of the stuck lookups ends."""
    fake_arxiv.mode = "hang"
    fake_arxiv.hang_seconds = 60
    urls = _urls("2408", SLACK_CALL_WORKERS + 1)
    try:
        with captured_log() as buf:
            for url in urls:
                _share(paperbot, [url])
            fake_slack.wait_for(lambda: fake_arxiv.requests, timeout=10)  # a lookup is stuck
            body, ctype, payload = app_mention("<@UBOT> diffusion caching")
            assert paperbot.sender.send(body, ctype).status_code == 200
            ts = payload["event"]["ts"]
            fake_slack.wait_for(
                lambda: [m for m in fake_slack.posted("C0GENERAL") if m.get("thread_ts") == ts],
                timeout=20,
            )
            assert fake_arxiv.answered == []  # every lookup still stuck
            assert "no card for" not in buf.getvalue()
    finally:
        fake_arxiv.release()


@sqlite_only
def test_a_gzip_bomb_from_arxiv_is_no_card_and_one_short_log_line(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.mode = "bomb"
    fake_arxiv.hang_seconds = 60
    url = "https://arxiv.org/abs/2409.00001"
    try:
        with captured_log() as buf:
            _share(paperbot, [url])
            [line] = _log_lines(buf, f"no card for {url}", 1)
    finally:
        fake_arxiv.release()
    assert "larger than" in line and "Traceback" not in buf.getvalue()
    assert fake_slack.calls_to("chat.unfurl") == [] and fake_slack.posted() == []


@sqlite_only
def test_a_stop_does_not_wait_for_queued_lookups(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    """Link events queued behind a hanging arXiv are dropped at shutdown (a card is a
    nicety); only the lookups already running are waited for, up to their deadline."""
    fake_arxiv.mode = "hang"
    fake_arxiv.hang_seconds = 60
    try:
        for url in _urls("2407", 12):  # 2 running, 10 queued behind arXiv's 3 s pacing
            _share(paperbot, [url])
        fake_slack.wait_for(lambda: fake_arxiv.requests, timeout=10)
        started = time.monotonic()
        paperbot.app.paperbot_background.shutdown(wait=True)  # type: ignore[attr-defined]
        took = time.monotonic() - started
    finally:
        fake_arxiv.release()
    # queued ones would each wait out pacing and a 10 s deadline: minutes in all
    assert took < 30, f"shutdown waited {took:.0f} s for queued link lookups"
    asked = {r.params["id_list"] for r in fake_arxiv.requests}
    assert len(asked) <= 2, asked  # the two running lookups (with their retries), no more
