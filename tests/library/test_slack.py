"""`/papers library` and `/papers export` end to end: signed commands and clicks over HTTP
against the fake Slack Web API (the .bib goes through conversations.open and the three
files upload v2 calls, bytes included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import bibtexparser

from bot.listeners.team_library import EXPORT_FILENAME, LIBRARY_MORE_ACTION
from storage import library as lib
from storage.models import Paper
from tests.fakes.slack_api import TEAM_ID, FakeSlack
from tests.listeners.support import Running, texts
from tests.listeners.test_feedback import OTHER_TEAM, click, command, heading, paper_ids

T0 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def _paper(running: Running, pid: int) -> Paper:
    with running.services.db.session() as s:
        paper = s.get(Paper, pid)
        assert paper is not None
        s.expunge(paper)
        return paper


def _mentions_diffusion(paper: Paper) -> bool:
    return "diffusion" in f"{paper.title} {paper.abstract}".lower()


def test_saves_by_two_users_make_one_workspace_library(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    alice_q = command(paperbot, fake_slack, "diffusion caching", "qa")
    a = paper_ids(alice_q)[0]
    assert click(paperbot, fake_slack, alice_q["blocks"], "paper_save", "sa", value=a)
    bob_q = command(paperbot, fake_slack, "molecular docking", "qb", user="U0BOB")
    b = next(pid for pid in paper_ids(bob_q) if not _mentions_diffusion(_paper(paperbot, pid)))
    assert click(paperbot, fake_slack, bob_q["blocks"], "paper_save", "sb", value=b,
                 user="U0BOB")

    for user, name in (("U0ALICE", "la"), ("U0BOB", "lb")):
        page = command(paperbot, fake_slack, "library", name, user=user)
        assert page["response_type"] == "ephemeral"
        assert paper_ids(page) == [b, a]  # newest first
        assert "Team library · 1–2 of 2" in heading(page)
        shown = " ".join(texts(page))
        assert shown.count("Saved by a teammate") == 2  # never who saved it
        assert "U0ALICE" not in shown and "U0BOB" not in shown

    # Words search within the library (BM25), not the whole paper table.
    found = command(paperbot, fake_slack, "library diffusion", "lw")
    assert paper_ids(found) == [a]
    assert "matching “diffusion”" in heading(found)
    nothing = command(paperbot, fake_slack, "library zebra", "lz")
    assert paper_ids(nothing) == [] and "Nothing in the team library" in " ".join(texts(nothing))

    # Another workspace has a library of its own: empty.
    other = command(paperbot, fake_slack, "library", "lo", team=OTHER_TEAM)
    assert paper_ids(other) == []
    assert "Nothing in the team library" in " ".join(texts(other))

    # Un-saving does not take a paper out of the team library.
    page = command(paperbot, fake_slack, "library", "lc")
    assert click(paperbot, fake_slack, page["blocks"], "paper_save", "su", value=a)
    assert paper_ids(command(paperbot, fake_slack, "saved", "sv")) == []
    assert paper_ids(command(paperbot, fake_slack, "library", "ld")) == [b, a]


def test_library_pages_newest_first_and_shows_the_shared_message(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    ids = paper_ids(command(paperbot, fake_slack, "diffusion", "q")) + paper_ids(
        command(paperbot, fake_slack, "language models", "q2"))
    ids = list(dict.fromkeys(ids))[:7]
    assert len(ids) == 7
    link = "https://fakelab.slack.com/archives/C0GENERAL/p1700000000000100"
    with paperbot.services.db.session() as s:
        for n, pid in enumerate(ids):
            at = T0 + timedelta(hours=n)
            if n == 6:
                lib.record_share(s, TEAM_ID, pid, user_id="U0CAROL", channel_id="C0GENERAL",
                                 ts="1700000000.000100", permalink=link, at=at, public=True)
            else:
                lib.record_save(s, TEAM_ID, pid, user_id="U0ALICE", channel_id="D0ALICE", at=at)
    first = command(paperbot, fake_slack, "library", "p1")
    newest = list(reversed(ids))
    assert paper_ids(first) == newest[:5]
    shown = " ".join(texts(first))
    assert f"Shared by <@U0CAROL> in <#C0GENERAL> · <{link}|2026-11-01>" in shown
    assert "Saved by a teammate · 2026-11-01" in shown  # never who, nor a DM
    assert "D0ALICE" not in shown
    second = click(paperbot, fake_slack, first["blocks"], LIBRARY_MORE_ACTION, "p2")
    assert second is not None and second["replace_original"] is True
    assert paper_ids(second) == newest[5:]
    assert "6–7 of 7" in heading(second)
    assert not any(b.get("block_id") == "library_paging" for b in second["blocks"])


def test_export_sends_the_matching_papers_as_bibtex_in_a_dm(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("U0ALICE")
    q = command(paperbot, fake_slack, "diffusion caching", "q")
    ids = paper_ids(q)[:3]
    with paperbot.services.db.session() as s:
        for n, pid in enumerate(ids):
            lib.record_save(s, TEAM_ID, pid, user_id="U0BOB", channel_id="C0GENERAL",
                            at=T0 + timedelta(minutes=n))
        other = paper_ids(command(paperbot, fake_slack, "molecular docking", "q2"))
        off_topic = next(p for p in other if not _mentions_diffusion(_paper(paperbot, p)))
        lib.record_save(s, TEAM_ID, off_topic, user_id="U0BOB", channel_id="C0GENERAL",
                        at=T0 + timedelta(hours=1))

    done = command(paperbot, fake_slack, "export diffusion", "e1")
    assert "Sent you 3 papers matching “diffusion”" in " ".join(texts(done))
    (upload,) = fake_slack.shared_files("DU0ALICE")
    assert upload["filename"] == EXPORT_FILENAME
    parsed = bibtexparser.parse_string(upload["data"].decode("utf-8"))
    assert not parsed.failed_blocks
    titles = {e.fields_dict["title"].value for e in parsed.entries}
    expected = {_paper(paperbot, pid).title for pid in ids}
    assert {t.replace("\\", "") for t in titles} == {t for t in expected}
    assert [c.method for c in fake_slack.calls if c.method.startswith(("files.", "conv"))] == [
        "conversations.open", "files.getUploadURLExternal", "files.completeUploadExternal"]

    everything = command(paperbot, fake_slack, "export", "e2")
    assert "Sent you 4 papers" in " ".join(texts(everything))
    assert len(fake_slack.shared_files("DU0ALICE")) == 2

    # Another workspace's library is empty: nothing is uploaded.
    empty = command(paperbot, fake_slack, "export", "e3", team=OTHER_TEAM)
    assert "Nothing to export" in " ".join(texts(empty))
    assert len(fake_slack.uploads) == 2


def test_export_failures_are_told_and_upload_nothing(
    paperbot: Running, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("U0ALICE")
    pid = paper_ids(command(paperbot, fake_slack, "diffusion", "q"))[0]
    with paperbot.services.db.session() as s:
        lib.record_save(s, TEAM_ID, pid, user_id="U0ALICE", channel_id="C0GENERAL", at=T0)

    # A workspace installed before export lacks files:write.
    fake_slack.fail("files.getUploadURLExternal", "missing_scope")
    told = " ".join(texts(command(paperbot, fake_slack, "export", "f1")))
    assert "could not send you the file" in told and "files:write" in told
    # A user Slack will not open a DM with.
    told = " ".join(texts(command(paperbot, fake_slack, "export", "f2", user="U0NOBODY")))
    assert "could not send you the file" in told
    # Words that cannot be searched get the search's own advice.
    told = " ".join(texts(command(paperbot, fake_slack, "export the of", "f3")))
    assert "common words" in told
    assert fake_slack.shared_files() == []

    ok = " ".join(texts(command(paperbot, fake_slack, "export", "f4")))
    assert "Sent you 1 paper " in ok
    assert len(fake_slack.shared_files("DU0ALICE")) == 1
