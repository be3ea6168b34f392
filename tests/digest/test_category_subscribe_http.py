"""`/papers subscribe arxiv …` through the real app: signed slash commands over HTTP."""

from __future__ import annotations

from storage import digest as repo
from tests.digest.test_slack_app import command, paperbot  # noqa: F401 (the app fixture)
from tests.fakes.slack_api import TEAM_ID, FakeSlack
from tests.listeners.support import Running


def test_subscribe_to_categories_a_bad_one_is_refused_and_subscriptions_lists_them(
    paperbot: Running, fake_slack: FakeSlack  # noqa: F811
) -> None:
    fake_slack.add_channel("C1", "nlp")
    said = command(paperbot, fake_slack, "subscribe arxiv cs.CL foo.BAR", "bad", channel_id="C1")
    assert "“foo.BAR” is not an arXiv category" in said and "cs.CL" in said, said
    said = command(paperbot, fake_slack, "subscribe arxiv cs.CLL", "typo", channel_id="C1")
    assert "“cs.CLL” is not an arXiv category (did you mean cs.CL" in said, said
    said = command(paperbot, fake_slack, "subscribe arxiv at 08:00", "none", channel_id="C1")
    assert "Name the arXiv categories" in said, said
    with paperbot.services.db.session() as s:
        assert repo.get_subscription(s, TEAM_ID, "C1") is None  # nothing stored

    said = command(paperbot, fake_slack, "subscribe arxiv cs.cl cs.LG speech at 08:00", "ok",
                   channel_id="C1")
    assert said.startswith("Subscribed"), said
    assert "top 10 of the day's new arXiv papers in cs.CL, cs.LG" in said, said
    with paperbot.services.db.session() as s:
        sub = repo.get_subscription(s, TEAM_ID, "C1")
        assert sub is not None
        assert (sub.categories, sub.topic, sub.post_time) == ("cs.CL cs.LG", "speech", "08:00")

    said = command(paperbot, fake_slack, "subscribe me arxiv stat.ML", "me", channel_id="C1")
    assert "your own top 10 of the day's new arXiv papers in stat.ML" in said, said
    said = command(paperbot, fake_slack, "subscriptions", "list", channel_id="C1")
    assert "new arXiv papers in cs.CL, cs.LG" in said and "“speech” first" in said, said
    assert "You also get your own top 10" in said and "stat.ML" in said, said
