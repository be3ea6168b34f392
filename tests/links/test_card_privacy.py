"""A card's "First discussed in #channel by @user" never names a conversation the people
seeing the card may not see (issue 17): DMs, group DMs and private channels are named only
in a card posted in that same conversation. Signed link_shared events over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.hf_api import FakeHF, hf_entry
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_payloads import link_shared, slash_command
from tests.listeners.support import Running, responses, texts

pytestmark = pytest.mark.usefixtures("fake_arxiv")


def _share_and_card(
    paperbot: Running, fake: FakeSlack, url: str, channel: str, user: str
) -> str:
    """Share `url` in `channel` and return the text of the card Slack was sent for it."""
    before = len(fake.calls_to("chat.unfurl"))
    body, ctype, _ = link_shared([url], channel=channel, user=user)
    assert paperbot.sender.send(body, ctype).status_code == 200
    fake.wait_for(lambda: len(fake.calls_to("chat.unfurl")) > before, timeout=10)
    call: dict[str, Any] = fake.calls_to("chat.unfurl")[before].params
    return " ".join(texts(call["unfurls"][url]))


def _paper(fake_hf: FakeHF, arxiv_id: str) -> str:
    fake_hf.set_paper(arxiv_id, hf_entry(arxiv_id, f"Paper {arxiv_id}")["paper"])
    return f"https://huggingface.co/papers/{arxiv_id}"


@pytest.mark.parametrize("first_channel, flags", [
    ("D0ALICEBOB", {}),  # a DM
    ("G0GROUPDM", {}),  # a group DM (mpim) or legacy private channel
    ("C0SECRET", {"is_private": True}),  # a private channel with a C… id
    ("C0GONE", None),  # conversations.info cannot say: not known public
])
def test_a_first_share_in_a_private_conversation_is_not_named_elsewhere(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, first_channel: str,
    flags: dict[str, Any] | None,
) -> None:
    if flags is not None:
        fake_slack.add_channel(first_channel, "private", **flags)
    url = _paper(fake_hf, "2503.01111")
    _share_and_card(paperbot, fake_slack, url, first_channel, "U0ALICE")
    card = _share_and_card(paperbot, fake_slack, url, "C0GENERAL", "U0BOB")
    assert "First discussed" not in card
    assert first_channel not in card and "U0ALICE" not in card


def test_the_first_public_share_is_named_and_a_private_one_only_in_itself(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF
) -> None:
    fake_slack.add_channel("C0SECRET", "secret", is_private=True)
    fake_slack.add_channel("C0RANDOM", "random")
    url = _paper(fake_hf, "2503.02222")
    _share_and_card(paperbot, fake_slack, url, "C0SECRET", "U0ALICE")
    # In the private channel itself, its members may see where it was discussed.
    again = _share_and_card(paperbot, fake_slack, url, "C0SECRET", "U0CAROL")
    assert "First discussed in <#C0SECRET> by <@U0ALICE>" in again
    _share_and_card(paperbot, fake_slack, url, "C0RANDOM", "U0BOB")
    elsewhere = _share_and_card(paperbot, fake_slack, url, "C0GENERAL", "U0DAVE")
    assert "First discussed in <#C0RANDOM> by <@U0BOB>" in elsewhere
    assert "C0SECRET" not in elsewhere and "U0ALICE" not in elsewhere
    # Only C… ids are asked about; the answers are recorded, not asked again for old shares.
    asked = [c.params["channel"] for c in fake_slack.calls_to("conversations.info")]
    assert set(asked) == {"C0SECRET", "C0RANDOM", "C0GENERAL"}


@pytest.mark.parametrize("first_channel, flags", [
    ("D0ALICEBOB", {}),
    ("G0GROUPDM", {}),
    ("C0SECRET", {"is_private": True}),
])
def test_the_team_library_does_not_say_who_shared_what_in_a_private_conversation(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, first_channel: str,
    flags: dict[str, Any],
) -> None:
    fake_slack.add_channel(first_channel, "private", **flags)  # so it has a permalink
    fake_slack.add_channel("C0RANDOM", "random")
    private_url, public_url = _paper(fake_hf, "2503.03333"), _paper(fake_hf, "2503.04444")
    _share_and_card(paperbot, fake_slack, private_url, first_channel, "U0ALICE")
    _share_and_card(paperbot, fake_slack, public_url, "C0RANDOM", "U0CAROL")
    body, ctype = slash_command("library", response_url=fake_slack.response_url("lib"),
                                user_id="U0BOB")
    assert paperbot.sender.send(body, ctype).status_code == 200
    fake_slack.wait_for(lambda: responses(fake_slack, "lib"))
    shown = " ".join(texts(responses(fake_slack, "lib")[0]))
    assert "Paper 2503.03333" in shown and "Paper 2503.04444" in shown
    assert first_channel not in shown and "U0ALICE" not in shown
    assert "Shared by <@U0CAROL> in <#C0RANDOM>" in shown
