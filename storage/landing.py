"""Where a reader of a paper should land; shared by the ORM model and the read-only reader
(which must not import SQLAlchemy), so the two can never disagree."""

from __future__ import annotations

from urllib.parse import quote_plus


def landing_url(url: str | None, title: str) -> str:
    """The paper page, else a Hugging Face search for the title (the bundled sample corpus
    has titles and abstracts but no ids)."""
    if url:
        return url
    return "https://huggingface.co/papers?q=" + quote_plus(title[:200])
