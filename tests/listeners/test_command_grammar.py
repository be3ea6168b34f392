"""`/papers` grammar (issue 17): a first word that is a subcommand always means the
subcommand, `/papers search <words>` searches whatever the words are, and `/papers saved`
takes no words (it says how to search instead). Signed slash commands over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_payloads import slash_command
from tests.listeners.support import Running, responses, sqlite_only, texts

pytestmark = sqlite_only


def _command(paperbot: Running, fake: FakeSlack, text: str, name: str) -> dict[str, Any]:
    """The answer: in the ack when it has one, else the first post on the response_url."""
    body, ctype = slash_command(text, response_url=fake.response_url(name))
    resp = paperbot.sender.send(body, ctype)
    assert resp.status_code == 200
    if resp.content and resp.json():
        return resp.json()
    fake.wait_for(lambda: responses(fake, name))
    return responses(fake, name)[0]


@pytest.mark.parametrize("words", ["diffusion caching", "library diffusion caching",
                                   "saved diffusion caching", "help diffusion caching"])
def test_search_subcommand_searches_the_words_whatever_the_first_one_is(
    paperbot: Running, fake_slack: FakeSlack, words: str
) -> None:
    answer = _command(paperbot, fake_slack, f"search {words}", "s")
    shown = " ".join(texts(answer))
    assert answer["response_type"] == "ephemeral"
    assert f"for “{words}”" in shown or f"No papers match “{words}”" in shown, shown[:300]
    assert "Team library" not in shown


def test_saved_with_words_explains_the_grammar_instead_of_searching(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    answer = _command(paperbot, fake_slack, "saved diffusion caching", "v")
    shown = " ".join(texts(answer))
    assert answer["response_type"] == "ephemeral"
    assert "paper_acts_" not in str(answer.get("blocks"))  # nothing was searched
    assert "`/papers saved`" in shown
    assert "/papers search saved diffusion caching" in shown


def test_search_without_words_says_what_it_takes(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    answer = _command(paperbot, fake_slack, "search", "e")
    shown = " ".join(texts(answer))
    assert "/papers search <words>" in shown.replace("&lt;", "<").replace("&gt;", ">")
    assert "paper_acts_" not in str(answer.get("blocks"))


def test_help_documents_the_search_subcommand(paperbot: Running, fake_slack: FakeSlack) -> None:
    shown = " ".join(texts(_command(paperbot, fake_slack, "help", "h")))
    assert "/papers search" in shown
