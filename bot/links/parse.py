"""Which shared URLs are papers: arXiv abs/pdf/html pages, Hugging Face paper pages and
alphaXiv pages, each reduced to the paper's arXiv id (Hugging Face and alphaXiv ids are
arXiv ids). Anything else is not ours to unfurl and is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from storage.papers import normalize_arxiv_id

# An arXiv id as it appears in a path: new style 2401.01234[vN] or old style
# hep-th/9901001[vN]; the version and a trailing ".pdf" or "/" are allowed and dropped.
_ID = r"(?P<id>\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[a-z]{2})?/\d{7}(?:v\d+)?)"
_PATHS: dict[str, re.Pattern[str]] = {
    "arxiv": re.compile(rf"^/(?:abs|pdf|html)/{_ID}(?:\.pdf)?/?$", re.IGNORECASE),
    "hf": re.compile(rf"^/papers/{_ID}/?$", re.IGNORECASE),
    "alphaxiv": re.compile(rf"^/abs/{_ID}/?$", re.IGNORECASE),
}
_HOSTS = {
    "arxiv.org": "arxiv",
    "www.arxiv.org": "arxiv",
    "export.arxiv.org": "arxiv",
    "huggingface.co": "hf",
    "www.huggingface.co": "hf",
    "alphaxiv.org": "alphaxiv",
    "www.alphaxiv.org": "alphaxiv",
}


@dataclass(frozen=True)
class PaperLink:
    """A shared URL (exactly as Slack sent it: the key of its unfurl) and its paper."""

    url: str
    source: str  # "arxiv" | "hf" | "alphaxiv"
    arxiv_id: str


def parse_link(url: str) -> PaperLink | None:
    """The paper a URL points at, or None when it is not a paper link we know."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    source = _HOSTS.get((parts.hostname or "").lower())
    if source is None:
        return None
    m = _PATHS[source].match(parts.path)
    if m is None:
        return None
    arxiv_id = normalize_arxiv_id(m.group("id"))
    return PaperLink(url, source, arxiv_id) if arxiv_id else None


def parse_links(urls: Iterable[str]) -> list[PaperLink]:
    """The paper links among `urls`, in order, each URL once."""
    seen: set[str] = set()
    out: list[PaperLink] = []
    for url in urls:
        if url in seen:
            continue
        seen.add(url)
        link = parse_link(url)
        if link is not None:
            out.append(link)
    return out
