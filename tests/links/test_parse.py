"""Which shared URLs are paper links, and which paper: every form in issue 11."""

from __future__ import annotations

import pytest

from bot.links.parse import PaperLink, parse_link, parse_links


@pytest.mark.parametrize(("url", "source", "arxiv_id"), [
    ("https://arxiv.org/abs/2401.01234", "arxiv", "2401.01234"),
    ("https://arxiv.org/abs/2401.01234v3", "arxiv", "2401.01234"),
    ("http://arxiv.org/abs/2401.01234", "arxiv", "2401.01234"),
    ("https://www.arxiv.org/abs/2401.01234/", "arxiv", "2401.01234"),
    ("https://arxiv.org/pdf/2401.01234", "arxiv", "2401.01234"),
    ("https://arxiv.org/pdf/2401.01234v2", "arxiv", "2401.01234"),
    ("https://arxiv.org/pdf/2401.01234v2.pdf", "arxiv", "2401.01234"),
    ("https://arxiv.org/pdf/2401.01234.pdf", "arxiv", "2401.01234"),
    ("https://arxiv.org/html/2401.01234", "arxiv", "2401.01234"),
    ("https://arxiv.org/html/2401.01234v1", "arxiv", "2401.01234"),
    ("https://arxiv.org/html/2401.01234v1/", "arxiv", "2401.01234"),
    ("https://arxiv.org/abs/0704.0001", "arxiv", "0704.0001"),  # 4-digit numbers (2007-14)
    ("https://arxiv.org/abs/hep-th/9901001", "arxiv", "hep-th/9901001"),  # old style
    ("https://arxiv.org/pdf/math.GT/0309136v1", "arxiv", "math.GT/0309136"),
    ("https://arxiv.org/abs/2401.01234?context=cs.LG", "arxiv", "2401.01234"),
    ("https://arxiv.org/abs/2401.01234#S2", "arxiv", "2401.01234"),
    ("https://huggingface.co/papers/2401.01234", "hf", "2401.01234"),
    ("https://huggingface.co/papers/2401.01234v2", "hf", "2401.01234"),
    ("https://huggingface.co/papers/2401.01234#community", "hf", "2401.01234"),
    ("https://alphaxiv.org/abs/2401.01234", "alphaxiv", "2401.01234"),
    ("https://www.alphaxiv.org/abs/2401.01234v4", "alphaxiv", "2401.01234"),
    ("HTTPS://ArXiv.org/abs/2401.01234", "arxiv", "2401.01234"),
])
def test_paper_links(url: str, source: str, arxiv_id: str) -> None:
    assert parse_link(url) == PaperLink(url, source, arxiv_id)


@pytest.mark.parametrize("url", [
    "https://arxiv.org/list/cs.LG/recent",
    "https://arxiv.org/abs/",
    "https://arxiv.org/abs/not-an-id",
    "https://arxiv.org/abs/2401.01234/extra",
    "https://arxiv.org/format/2401.01234",
    "https://huggingface.co/papers",
    "https://huggingface.co/papers/trending",
    "https://huggingface.co/models/2401.01234",
    "https://alphaxiv.org/overview/2401.01234",
    "https://evil.example/abs/2401.01234",
    "https://arxiv.org.evil.example/abs/2401.01234",
    "ftp://arxiv.org/abs/2401.01234",
    "javascript:alert(1)",
    "https://[::1/abs/2401.01234",  # not a URL at all
    "",
])
def test_not_paper_links(url: str) -> None:
    assert parse_link(url) is None


def test_parse_links_keeps_order_and_drops_repeats_and_others() -> None:
    links = parse_links([
        "https://huggingface.co/papers/2502.00002", "https://example.com/x",
        "https://arxiv.org/abs/2402.00003", "https://huggingface.co/papers/2502.00002",
    ])
    assert [(lk.source, lk.arxiv_id) for lk in links] == [
        ("hf", "2502.00002"), ("arxiv", "2402.00003")]
