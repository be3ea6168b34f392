"""An arXiv API answer's category terms may include MSC codes and ACM classes: only arXiv
categories are stored, the primary one first."""

from __future__ import annotations

from bot.links.fetch import fetch_arxiv
from tests.fakes.arxiv_api import ArxivPaper, FakeArxiv
from tests.links.conftest import NoPacing


def test_atom_categories_keep_only_arxiv_terms() -> None:
    with FakeArxiv() as arxiv:
        arxiv.set_paper(ArxivPaper("2401.00007", "Waves", categories=(
            "math.AP", "35Q30", "76D05", "physics.flu-dyn", "I.2.7")))
        rec = fetch_arxiv(arxiv.api_url, "2401.00007", tries=1, pacer=NoPacing())
    assert rec is not None
    assert rec.categories == "math.AP physics.flu-dyn"
