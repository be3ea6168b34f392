"""The App Home view as a pure function of bot.home.HomeData (Block Kit, type "home").

Papers are rendered by bot/blocks.py's own renderers, with the same Save / More like this /
⋯ Not for us buttons as everywhere else, in the viewer's state (the Home tab is private to
its user). Each section gets its own range of ranks, so block_ids stay unique in the view;
the Abstract accessory is left out (a Home view has no thread or response_url to answer
in, and the title links to the paper). Home views allow 100 blocks (messages 50).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from bot.blocks import (
    MAX_CONTEXT_ELEMENT_TEXT,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    PaperLike,
    context,
    paper_actions,
    paper_section,
    plain,
    safe_clip,
    section,
    validate_message,
)
from bot.home import Digest, HomeData
from storage.library import LibraryEntry

MAX_VIEW_BLOCKS = 100
MAX_PRIVATE_METADATA = 3000
MAX_CALLBACK_ID = 255
HOME_CALLBACK = "paperbot_home"
DIGESTS_SHOWN = 20
MAX_CATEGORIES_SHOWN = 10  # a subscription takes at most 10 (bot.digest.subscriptions)

# first rank of each section's papers (block_ids paper_<rank> / paper_acts_<rank>)
SAVED_RANKS, RECOMMENDED_RANKS, SHARED_RANKS = 101, 201, 301


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain(text, MAX_HEADER_TEXT)}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def _papers(papers: Sequence[PaperLike], first_rank: int, data: HomeData, *,
            why: dict[int, str] | None = None,
            notes: dict[int, str] | None = None) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for rank, p in enumerate(papers, first_rank):
        sec = paper_section(p, rank, (), why=(why or {}).get(p.id))
        sec.pop("accessory", None)
        blocks.append(sec)
        if notes and notes.get(p.id):
            blocks.append(context(notes[p.id][:MAX_CONTEXT_ELEMENT_TEXT]))
        blocks.append(paper_actions(p.id, rank, saved=p.id in data.saved_ids,
                                    hidden=p.id in data.hidden_ids))
    return blocks


def _digest_line(d: Digest, *, personal: bool = False) -> str:
    """'• in #ml from arXiv cs.CL, cs.LG about “x” at 09:00 UTC' (a trending digest says
    '(trending papers)' when it has no topic)."""
    where = "in a DM to you" if personal else f"in <#{d.channel_id}>"
    source = ""
    if d.categories:
        shown = ", ".join(safe_clip(c, 40) for c in d.categories[:MAX_CATEGORIES_SHOWN])
        more = len(d.categories) - MAX_CATEGORIES_SHOWN
        source = f" from arXiv {shown}" + (f" and {more} more" if more > 0 else "")
    if d.topic:
        topic = f" about “{safe_clip(d.topic, 100)}”"
    else:
        topic = "" if d.categories else " (trending papers)"
    return f"• {where}{source}{topic} at {safe_clip(d.post_time, 5)} {safe_clip(d.tz, 64)}"


def _line_sections(lines: list[str]) -> list[dict[str, Any]]:
    """Lines packed into as few sections as fit Slack's 3,000 characters each."""
    out: list[str] = []
    for line in lines:
        if out and len(out[-1]) + 1 + len(line) <= MAX_SECTION_TEXT:
            out[-1] += "\n" + line
        else:
            out.append(line[:MAX_SECTION_TEXT])
    return [section(text) for text in out]


def home_view(data: HomeData, *,
              provenance: Callable[[LibraryEntry], str | None] | None = None) -> dict[str, Any]:
    """The Home tab: saved, recommended, the workspace's latest shares, digests.
    `provenance`: the line under a library paper (who, where, when; our own mrkdwn), the
    same one `/papers library` shows."""
    blocks: list[dict[str, Any]] = [
        header("PaperBot"),
        context("Your saved papers and picks are private to you. `/papers <words>` searches; "
                "`/papers help` lists every command."),
    ]
    blocks += [divider(), header("Your saved papers")]
    if data.saved:
        blocks.append(context(f"{len(data.saved)} of {data.saved_total} · "
                              "`/papers saved` lists them all"))
        blocks += _papers(data.saved, SAVED_RANKS, data)
    else:
        blocks.append(section("You have not saved any papers yet: click *Save* under a paper."))
    blocks += [divider(), header("Recommended for you")]
    if data.recommended:
        blocks += _papers(data.recommended, RECOMMENDED_RANKS, data, why=data.why)
    elif data.recommend_failed:
        blocks.append(section("PaperBot could not make recommendations just now."))
    else:
        blocks.append(section("Nothing to recommend yet: *Save* papers or react 👍 to them, "
                              "and PaperBot learns what you like."))
    blocks += [divider(), header("Latest in the team library")]
    if data.shares:
        notes = {s.paper.id: (provenance(s.entry) if provenance else None) or ""
                 for s in data.shares}
        blocks += _papers([s.paper for s in data.shares], SHARED_RANKS, data, notes=notes)
        blocks.append(context("`/papers library` lists them all"))
    else:
        blocks.append(section("Nothing in the team library yet: papers join it when someone "
                              "shares a paper link or clicks *Save*."))
    blocks += [divider(), header("Digests")]
    lines = [_digest_line(d) for d in data.channel_digests[:DIGESTS_SHOWN]]
    more = len(data.channel_digests) - DIGESTS_SHOWN
    if more > 0:
        lines.append(f"…and {more} more")
    if data.personal is not None:
        lines.append(_digest_line(data.personal, personal=True))
    blocks += _line_sections(lines)
    if not lines and data.channels_known:
        blocks.append(section("No digests in your channels: `/papers subscribe` in a "
                              "channel, or `/papers subscribe me` for your own."))
    if not data.channels_known:
        blocks.append(context("PaperBot could not list your channels just now."))
    return {"type": "home", "callback_id": HOME_CALLBACK, "blocks": blocks[:MAX_VIEW_BLOCKS]}


def notice_view(text: str) -> dict[str, Any]:
    """A Home tab holding one sentence of ours (e.g. the database is down): better than a
    stale or blank tab."""
    return {"type": "home", "callback_id": HOME_CALLBACK,
            "blocks": [header("PaperBot"), section(safe_clip(text, 2900))]}


def validate_view(view: dict[str, Any]) -> list[str]:
    """Every limit this Home view breaks: the view's own limits, then each block's
    (validate_message), with the 100-block view limit instead of the 50 of messages."""
    problems: list[str] = []
    if view.get("type") != "home":
        problems.append(f"view type {view.get('type')!r} (expected 'home')")
    blocks = view.get("blocks") or []
    if not blocks:
        problems.append("view without blocks")
    if len(blocks) > MAX_VIEW_BLOCKS:
        problems.append(f"{len(blocks)} blocks (max {MAX_VIEW_BLOCKS})")
    if len(str(view.get("callback_id", ""))) > MAX_CALLBACK_ID:
        problems.append("callback_id too long")
    if len(str(view.get("private_metadata", ""))) > MAX_PRIVATE_METADATA:
        problems.append("private_metadata too long")
    if len(json.dumps(view)) > 250_000:
        problems.append("view over 250 kB")
    for start in range(0, len(blocks), 50):  # validate_message counts at most 50 per message
        problems += validate_message({"text": "home", "blocks": blocks[start:start + 50]})
    ids = [b.get("block_id") for b in blocks if b.get("block_id")]
    if len(ids) != len(set(ids)):
        problems.append("duplicate block_id in the view")
    return problems
