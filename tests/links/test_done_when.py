"""Issue 11's "done when", in one run over signed HTTP against the fakes: a Hugging Face
papers link and an arXiv abs link to papers the library does not hold get one chat.unfurl
with both titles; both are then found by /papers, listed by /papers library, exported as
BibTeX by /papers export, and App Home publishes a view for the user."""

from __future__ import annotations

import bibtexparser

from tests.fakes.arxiv_api import ArxivPaper, FakeArxiv
from tests.fakes.hf_api import FakeHF, hf_entry
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_payloads import app_home_opened
from tests.links.test_unfurl import _card_text, _share, _stored, _unfurls
from tests.listeners.support import Running, sqlite_only, texts
from tests.listeners.test_feedback import command, paper_ids


@sqlite_only
def test_two_unknown_papers_shared_as_links_reach_search_library_export_and_home(
    paperbot: Running, fake_slack: FakeSlack, fake_hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    fake_hf.set_paper("2503.01234", hf_entry("2503.01234", "Wombat Retrieval Heads")["paper"])
    fake_arxiv.set_paper(ArxivPaper("2403.05678", "Numbat Sparse Routers"))
    urls = ["https://huggingface.co/papers/2503.01234", "https://arxiv.org/abs/2403.05678v2"]
    _share(paperbot, urls)
    [call] = _unfurls(fake_slack)
    assert set(call["unfurls"]) == set(urls)
    assert "Wombat Retrieval Heads" in _card_text(call["unfurls"][urls[0]])
    assert "Numbat Sparse Routers" in _card_text(call["unfurls"][urls[1]])
    hf_paper, arxiv_paper = _stored(paperbot, "2503.01234"), _stored(paperbot, "2403.05678")
    assert hf_paper is not None and arxiv_paper is not None

    for words, paper in (("wombat retrieval", hf_paper), ("numbat routers", arxiv_paper)):
        found = command(paperbot, fake_slack, words, f"s-{paper.id}")
        assert paper_ids(found)[0] == paper.id

    library = command(paperbot, fake_slack, "library", "lib")
    assert set(paper_ids(library)[:2]) == {hf_paper.id, arxiv_paper.id}
    assert "Shared by <@U0ALICE> in <#C0GENERAL>" in " ".join(texts(library))

    fake_slack.add_user("U0ALICE")
    command(paperbot, fake_slack, "export", "exp")
    (upload,) = fake_slack.shared_files("DU0ALICE")
    entries = bibtexparser.parse_string(upload["data"].decode("utf-8")).entries
    eprints = {e.fields_dict["eprint"].value for e in entries if "eprint" in e.fields_dict}
    assert {"2503.01234", "2403.05678"} <= eprints

    body, ctype, _ = app_home_opened(user="U0ALICE")
    assert paperbot.sender.send(body, ctype).status_code == 200
    fake_slack.wait_for(lambda: fake_slack.home_views.get("U0ALICE"))
    view = fake_slack.home_views["U0ALICE"][-1]
    assert view["type"] == "home"
    assert "Wombat Retrieval Heads" in " ".join(texts(view))


def test_manifest_declares_the_link_surfaces() -> None:
    """Slack only sends link_shared for declared domains, with links:read / links:write."""
    from pathlib import Path

    manifest = (Path(__file__).parents[2] / "manifest.yml").read_text()
    domains = manifest.split("unfurl_domains:", 1)[1].split(":", 1)[0]
    for needed in ("arxiv.org", "huggingface.co", "alphaxiv.org"):
        assert f"- {needed}" in domains
    for needed in ("- links:read", "- links:write", "- link_shared", "- app_home_opened",
                   "home_tab_enabled: true"):
        assert needed in manifest
