"""`/papers follow|alert|unfollow|following` over signed HTTP, with the listing's Remove
buttons; each workspace sees only its own follows. Storage matters: both backends."""

from __future__ import annotations

from typing import Any

from bot.blocks import FOLLOW_REMOVE_ACTION
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_payloads import block_actions, slash_command
from tests.listeners.support import Running, responses, texts

_n = iter(range(10_000))


def _command(paperbot: Running, fake: FakeSlack, text: str, **where: str) -> dict[str, Any]:
    name = f"c{next(_n)}"
    body, ctype = slash_command(text, response_url=fake.response_url(name), **where)
    resp = paperbot.sender.send(body, ctype)
    assert resp.status_code == 200, resp.text
    if resp.content and resp.json():
        return resp.json()
    fake.wait_for(lambda: responses(fake, name))
    return responses(fake, name)[0]


def _shown(answer: dict[str, Any]) -> str:
    return " ".join(texts(answer))


def _click_remove(paperbot: Running, fake: FakeSlack, listing: dict[str, Any], follow_id: str,
                  **where: str) -> dict[str, Any]:
    name = f"k{next(_n)}"
    body, ctype = block_actions(listing["blocks"], FOLLOW_REMOVE_ACTION, value=follow_id,
                                response_url=fake.response_url(name), **where)
    assert paperbot.sender.send(body, ctype).status_code == 200
    fake.wait_for(lambda: responses(fake, name))
    return responses(fake, name)[0]


def _remove_ids(listing: dict[str, Any]) -> dict[str, str]:
    """Item text -> the follow id its Remove button carries."""
    out = {}
    for b in listing["blocks"]:
        acc = b.get("accessory") or {}
        if acc.get("action_id") == FOLLOW_REMOVE_ACTION:
            out[b["text"]["text"]] = acc["value"]
    return out


def test_follow_alert_list_remove_and_unfollow(paperbot: Running, fake_slack: FakeSlack) -> None:
    answer = _command(paperbot, fake_slack, 'follow author "Tri Dao"')
    assert answer["response_type"] == "ephemeral"
    assert "Following *Tri Dao*" in _shown(answer) and "DM" in _shown(answer)
    again = _command(paperbot, fake_slack, "follow author tri   DAO")
    assert "Already following" in _shown(again)
    shown = _shown(_command(paperbot, fake_slack, "alert “speculative decoding”"))
    assert "Alert set" in shown and "“speculative decoding”" in shown
    shown = _shown(_command(paperbot, fake_slack, 'alert here "kv cache"'))
    assert "in this channel" in shown

    listing = _command(paperbot, fake_slack, "following")
    items = _remove_ids(listing)
    assert list(items) == ["Author *Tri Dao*", "Alert “speculative decoding”",
                           "Alert “kv cache”"], items
    shown = _shown(listing)
    assert shown.index("Your follows") < shown.index("speculative") < shown.index(
        "This channel's") < shown.index("kv cache")

    # Remove: the listing comes back without it, in place of the old one.
    after = _click_remove(paperbot, fake_slack, listing, items["Alert “speculative decoding”"])
    assert after.get("replace_original") is True
    assert list(_remove_ids(after)) == ["Author *Tri Dao*", "Alert “kv cache”"]
    assert "Removed: Alert “speculative decoding”" in _shown(after)

    # Another user in another channel sees neither Alice's follows nor #general's.
    bob = _command(paperbot, fake_slack, "following", user_id="U0BOB", channel_id="C0OTHER")
    assert _remove_ids(bob) == {} and "You follow no author" in _shown(bob)
    # ... and cannot remove Alice's with a forged click from there.
    forged = _click_remove(paperbot, fake_slack, listing, items["Author *Tri Dao*"],
                           user="U0BOB", channel="C0OTHER")
    assert "already removed" in _shown(forged)

    shown = _shown(_command(paperbot, fake_slack, 'unfollow author "Tri Dao"'))
    assert "Stopped following *Tri Dao*" in shown
    shown = _shown(_command(paperbot, fake_slack, "unfollow here kv cache"))
    assert "Stopped the alert for *kv cache*" in shown
    assert _remove_ids(_command(paperbot, fake_slack, "following")) == {}


def test_a_workspace_never_sees_another_workspaces_follows(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    _command(paperbot, fake_slack, 'follow author "Tri Dao"')
    _command(paperbot, fake_slack, 'alert here "kv cache"')
    # Same user and channel ids in another workspace: nothing of T0001's is theirs.
    other = {"team_id": "T0OTHER"}
    listing = _command(paperbot, fake_slack, "following", **other)
    assert _remove_ids(listing) == {}
    mine = _remove_ids(_command(paperbot, fake_slack, "following"))
    forged = _click_remove(paperbot, fake_slack, _command(paperbot, fake_slack, "following"),
                           mine["Author *Tri Dao*"], team_id="T0OTHER")
    assert "already removed" in _shown(forged)
    assert "not follow" in _shown(_command(paperbot, fake_slack, "unfollow author Tri Dao",
                                           **other))
    assert len(_remove_ids(_command(paperbot, fake_slack, "following"))) == 2


def test_bad_input_gets_a_clear_answer(paperbot: Running, fake_slack: FakeSlack) -> None:
    assert "`/papers follow author" in _shown(_command(paperbot, fake_slack, "follow"))
    assert "`/papers follow author" in _shown(_command(paperbot, fake_slack, "follow Tri Dao"))
    assert "last name" in _shown(_command(paperbot, fake_slack, "follow author Dao"))
    assert "`/papers alert" in _shown(_command(paperbot, fake_slack, 'alert ""'))
    assert "too long" in _shown(_command(paperbot, fake_slack, "alert " + "word " * 40))
    assert "`/papers unfollow author" in _shown(_command(paperbot, fake_slack, "unfollow"))
    # A forged Remove value (not an id) is answered, not a 500.
    listing = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"},
                           "accessory": {"type": "button", "action_id": FOLLOW_REMOVE_ACTION,
                                         "value": "1e400", "text": {"type": "plain_text",
                                                                    "text": "Remove"}}}]}
    assert "already removed" in _shown(_click_remove(paperbot, fake_slack, listing, "1e400"))
