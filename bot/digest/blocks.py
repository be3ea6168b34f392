"""Block Kit for the digest: the day's message and one abstract reply per paper.

Built from the app's helpers in bot/blocks.py (escaping, defusing, splitting, limits), so
digest posts follow the same rules as search results; only the layout lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from bot import blocks as kit


def header_text(day: date, topic: str, title: str = "Trending papers") -> str:
    title = f"{title} · {day:%a %d %b %Y}"
    return f"{title} · {topic}" if topic else title


def _votes(n: int | None, zero: bool = True) -> str:
    n = n or 0
    if not n and not zero:
        return ""
    return f"▲ {n} upvote{'' if n == 1 else 's'}"


def parent_message(
    day: date,
    topic: str,
    papers: Sequence[kit.PaperLike],
    *,
    title: str = "Trending papers",
    ranking: str | None = None,
    count: str | None = None,
    footer: str | None = None,
) -> dict[str, Any]:
    """The day's message: a header with the date, then papers by upvotes (title, votes,
    authors, Save). {"text", "blocks"} for chat.postMessage. `ranking` (our own mrkdwn, e.g.
    "Ranked for <#C1>, learned from 14 saves and reactions") goes under the header when
    the order was learned rather than by upvotes.

    A category digest passes `count` ("10 of 143 new papers in cs.CL, cs.LG today", first
    under the header) and its own `footer` (how it was ranked); its papers show upvotes
    only when the Hub has some (most new papers have none)."""
    out: list[dict[str, Any]] = [
        {"type": "header", "text": kit.plain(header_text(day, topic, title), kit.MAX_HEADER_TEXT)}
    ]
    if count:
        out.append(kit.context(count))
    if ranking:
        out.append(kit.context(ranking))
    for rank, p in enumerate(papers, 1):
        authors = kit.safe_clip(kit.short_authors(p.authors or []), 500)
        votes = _votes(p.upvotes, zero=count is None)
        line = f"{rank}. {kit.title_link(p)}  {votes}".rstrip()
        text = "\n".join(x for x in (line, authors) if x)[: kit.MAX_SECTION_TEXT]
        # Save on the day's list; its private confirmation carries the paper's other
        # buttons, and every choice is also on the paper's reply in the thread.
        out.append(kit.section(text, accessory=kit.button("Save", kit.SAVE_ACTION, str(p.id))))
    order = footer or ("upvotes as a prior" if ranking else "ranked by Hugging Face upvotes")
    out.append(kit.context(f"Abstracts are in the thread · {order}"))
    lead = f"{header_text(day, topic, title)}{f' · {count}' if count else ''}"
    fallback = f"{lead}: " + "; ".join(
        kit.clip(p.title, 60) for p in papers
    )
    return kit.message(fallback, out[: kit.MAX_BLOCKS])


def reply_message(rank: int, paper: kit.PaperLike) -> dict[str, Any]:
    """A paper's reply in the thread: its linked title; its PDF, code and project links and
    the Hub's AI summary (labelled as the Hub's) when there are any; the whole abstract
    (split); then its feedback buttons (Save, More like this, Not for us). Reactions on
    this reply count as feedback too: the post step records which paper it is about."""
    out: list[dict[str, Any]] = [kit.section(f"{rank}. {kit.title_link(paper)}")]
    notes = [x for x in (kit.resource_links(paper), kit.hub_summary(paper)) if x]
    if notes:
        out.append(kit.context(*(n[: kit.MAX_CONTEXT_ELEMENT_TEXT] for n in notes)))
    pieces = kit.split_text(paper.abstract or "", kit.MAX_SECTION_TEXT)
    room = kit.MAX_BLOCKS - len(out) - 1  # one left for the buttons
    if len(pieces) > room:
        pieces = [*pieces[: room - 1], "_(abstract continues; too long for one Slack message)_"]
    out += [kit.section(p) for p in pieces] or [kit.section("_No abstract available._")]
    out.append(kit.paper_actions(paper.id, rank))
    return kit.message(f"{rank}. {kit.clip(paper.title, 200)}", out)
