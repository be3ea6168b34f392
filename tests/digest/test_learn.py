"""Learned channel digests: a channel with enough signals gets its model's order (trending as
a prior) and a header saying so; a channel without keeps trending order; signals never
cross channels or workspaces."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.blocks import validate_message
from bot.digest.cycle import run_cycle
from bot.digest.learn import blend
from bot.digest.poster import SlackPoster
from bot.digest.settings import Settings
from bot.services import Services
from storage import feedback
from storage.models import DigestRun
from tests.digest.conftest import (
    arxiv,
    assert_exactly_once,
    day_entries,
    digest_of,
    ids_of,
    shown_order,
    subscribe,
    tomorrow,
)
from tests.fakes.hf_api import FakeHF
from tests.fakes.slack_api import TEAM_ID, FakeSlack

OTHER_TEAM = "T0002"


def save(services: Services, channel: str, paper_ids: list[int], team: str = TEAM_ID) -> None:
    with services.db.session() as s:
        for i, pid in enumerate(paper_ids):
            feedback.set_save(s, team, f"U0SAVER{i}", channel, pid, True)


def test_blend_keeps_trending_without_model_differences() -> None:
    votes = {1: 5, 2: 50, 3: 50, 4: 0}
    assert blend({}, votes) == [2, 3, 1, 4]  # no scores: upvotes, then older id
    assert blend({1: 0.2, 2: 0.2, 3: 0.2, 4: 0.2}, votes) == [2, 3, 1, 4]
    # The model decides; among papers it likes about as much the prior orders them:
    # 3 (0.97 of the best score, 50 upvotes) before 1 and 4 (best score, 5 and 0 upvotes).
    assert blend({1: 3.0, 2: 0.0, 3: 2.9, 4: 3.0}, votes) == [3, 1, 4, 2]
    assert blend({4: 1.0, 2: 0.0}, votes)[0] == 4  # the only liked paper beats 50 upvotes


def test_channel_with_signals_gets_learned_order_and_header_others_keep_trending(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> None:
    for ch in ("C1", "C2", "C3"):
        fake_slack.add_channel(ch, ch.lower())
        subscribe(services, poster, ch, "subscribe at 00:00")
    today = datetime.now(UTC).date()
    # Yesterday's list: graph papers, which C1's members save (C3's in another workspace:
    # team T0002 has a channel with C2's id; C2 must not learn from it).
    liked = day_entries(3, topic="graph", start=30000, upvotes=5)
    fake_hf.set_day(today, liked)
    assert run_cycle(services, poster, settings=settings).done == 3  # today: the graph papers
    liked_ids = ids_of(services, arxiv(liked))
    save(services, "C1", liked_ids)
    save(services, "C2", liked_ids, team=OTHER_TEAM)

    robots = day_entries(4, topic="robot", start=10000, upvotes=100)
    graphs = day_entries(3, topic="graph", start=20000, upvotes=20)
    fake_hf.set_day(tomorrow().date(), [*robots, *graphs])
    report = run_cycle(services, poster, settings=settings, clock=tomorrow)
    assert report.ok and report.done == 3, report.problem()

    [_, (learned, replies)] = digest_of(fake_slack, "C1")
    assert shown_order(learned) == [*arxiv(graphs), *arxiv(robots)[:2]]
    note = learned["blocks"][1]
    assert note["type"] == "context"
    assert note["elements"][0]["text"] == "Ranked for <#C1>, learned from 3 saves and reactions"
    assert "upvotes as a prior" in learned["blocks"][-1]["elements"][0]["text"]
    assert validate_message({"text": learned["text"], "blocks": learned["blocks"]}) == []
    assert len(replies) == 5
    for ch in ("C2", "C3"):  # no signals of their own: today's behaviour exactly
        [_, (parent, _)] = digest_of(fake_slack, ch)
        assert shown_order(parent) == [*arxiv(robots), *arxiv(graphs)[:1]], ch
        assert [b["type"] for b in parent["blocks"][:2]] == ["header", "section"]
        assert "ranked by Hugging Face upvotes" in parent["blocks"][-1]["elements"][0]["text"]
        assert "Ranked for" not in str(parent)
    with services.db.session() as s:
        rows = s.execute(
            select(DigestRun.channel_id, DigestRun.learned_from).where(
                DigestRun.local_date == tomorrow().date()
            )
        )
        learned_from = dict(rows.all())
    assert learned_from == {"C1": 3, "C2": None, "C3": None}
    for ch in ("C1", "C2", "C3"):
        assert_exactly_once(fake_slack, ch)


def test_too_few_signals_keep_trending_order(
    services: Services,
    poster: SlackPoster,
    settings: Settings,
    fake_slack: FakeSlack,
    fake_hf: FakeHF,
) -> None:
    subscribe(services, poster, "C0GENERAL", "subscribe at 00:00")
    today = datetime.now(UTC).date()
    liked = day_entries(2, topic="graph", start=30000, upvotes=5)
    fake_hf.set_day(today, liked)
    assert run_cycle(services, poster, settings=settings).done == 1
    save(services, "C0GENERAL", ids_of(services, arxiv(liked)))  # 2 < MIN_SIGNALS
    robots = day_entries(2, topic="robot", start=10000, upvotes=100)
    graphs = day_entries(2, topic="graph", start=20000, upvotes=20)
    fake_hf.set_day(tomorrow().date(), [*robots, *graphs])
    assert run_cycle(services, poster, settings=settings, clock=tomorrow).done == 1
    parent = digest_of(fake_slack, "C0GENERAL")[-1][0]
    assert shown_order(parent) == [*arxiv(robots), *arxiv(graphs)]
    assert "Ranked for" not in str(parent)
