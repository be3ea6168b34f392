"""Block Kit messages for PaperBot: pure functions from data to Slack message payloads.

Everything that comes from outside (paper titles, abstracts, author names, the user's
query) is escaped for mrkdwn (`&`, `<`, `>`) and has its formatting characters defused, so
a paper titled `<!channel> *bold*` shows as typed and pings nobody. Text objects carrying
outside text are `verbatim` (Slack does not auto-link names or mentions in them).

Every message respects Block Kit's limits (see LIMITS); long abstracts are split into
several sections at sentence or word boundaries instead of being cut. `validate_message`
checks a payload against those limits (the tests run it on everything the app sends).
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from bot.search.tokenizer import token_spans

# Block Kit limits (https://api.slack.com/reference/block-kit).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENT_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_ACTION_VALUE = 2000
MAX_ID = 255  # block_id, action_id
MAX_FALLBACK_TEXT = 40_000
FALLBACK_TEXT = 300  # what we actually send as `text`: a short notification line
TITLE_CHARS = 400  # titles are shown whole up to here, then clipped with "…"
SNIPPET_CHARS = 320
SNIPPET_RENDERED = 1300  # escaping can lengthen a snippet; keep sections under 3,000
MAX_URL = 800
SNIPPET_SCAN = 20_000  # look for matches in the first 20,000 chars of an abstract only
AUTHORS_SHOWN = 3
HUB_SUMMARY_CHARS = 600  # the Hub's ai_summary is a sentence or two; cut a long one
HUB_PAPER_URL = "https://huggingface.co/papers/"
LINKS_CHARS = 1600  # resource_links fits one context element with the meta line beside it

ABSTRACT_ACTION = "paper_abstract"  # action_id prefix: paper_abstract_<rank>
MORE_ACTION = "papers_more"
SHARE_ACTION = "papers_share"
# Feedback on one paper (issue 10); values carry the paper id. Ids repeat across papers of a
# message, which Slack allows: action_ids need only be unique within their block.
SAVE_ACTION = "paper_save"
SIMILAR_ACTION = "paper_similar"
HIDE_ACTION = "paper_hide"  # overflow: "hide:<id>" | "unhide:<id>"; button: "unhide:<id>"
LIST_MORE_ACTION = "papers_list_more"  # paging of recommend / saved / similar lists
ACTIONS_BLOCK = "paper_acts_"  # block_id prefix: paper_acts_<rank>[|<view>]
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150

ZWSP = "\u200b"
_FORMATTING = "*_~`"
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MRKDWN_SPECIAL = re.compile(r"[&<>*_~`]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")


class PaperLike(Protocol):
    id: int
    title: str
    abstract: str
    authors: list[str]
    published: date | None
    url: str | None
    pdf_url: str | None
    code_url: str | None
    upvotes: int | None
    arxiv_id: str | None
    # The Hugging Face daily list's extras (None for papers from anywhere else).
    project_page: str | None
    ai_summary: str | None
    num_comments: int | None

    @property
    def link(self) -> str | None: ...


# --- text ---------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Escape the three characters Slack reserves for links and mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _safe_char(c: str) -> str:
    if c in _ESCAPES:
        return _ESCAPES[c]
    if c in _FORMATTING:
        # A zero-width space on both sides keeps *_~` from opening or closing formatting.
        return f"{ZWSP}{c}{ZWSP}"
    return c


def safe(text: str) -> str:
    """Outside text for mrkdwn: escaped, and formatting characters defused."""
    if not _MRKDWN_SPECIAL.search(text):
        return text
    return _MRKDWN_SPECIAL.sub(lambda m: _safe_char(m.group()), text)


def _cut_point(text: str, limit: int) -> int:
    """Where to cut `text` to keep at most `limit` chars: at a space when one is near."""
    if len(text) <= limit:
        return len(text)
    space = text.rfind(" ", 0, limit + 1)
    return space if space >= limit * 0.6 else limit


def clip(text: str, limit: int) -> str:
    """Plain text at most `limit` chars long, cut at a word boundary with "…"."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: _cut_point(text, limit - 1)].rstrip() + "…"


def safe_clip(text: str, limit: int) -> str:
    """`safe(text)` clipped so the *rendered* string fits in `limit` chars."""
    text = text.strip()
    rendered = safe(text)
    if len(rendered) <= limit:
        return rendered
    out: list[str] = []
    used = 0
    for c in text:
        piece = _safe_char(c)
        if used + len(piece) > limit - 1:
            break
        out.append(piece)
        used += len(piece)
    cut = "".join(out)
    space = cut.rfind(" ")
    if space >= len(cut) * 0.6:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _fit(text: str, limit: int, render: Callable[[str], str]) -> int:
    """Longest prefix length of `text` whose rendering fits in `limit` (at least 1 char)."""
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(render(text[:mid])) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def split_text(text: str, limit: int, render: Callable[[str], str] = safe) -> list[str]:
    """Split `text` into rendered pieces of at most `limit` chars each, never dropping text.

    Cuts fall between sentences when possible, else between words, else inside a very
    long word. Rendering (escaping) can only lengthen text, so sizes are measured after it.
    """
    text = " ".join(text.split())
    if not text:
        return []
    pieces: list[str] = []
    current = ""
    sentences = _SENTENCE_END.split(text)
    for sentence in sentences:
        candidate = f"{current} {sentence}" if current else sentence
        if len(render(candidate)) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
            current = ""
        # The sentence alone is too long: fill pieces word by word.
        for word in sentence.split(" "):
            candidate = f"{current} {word}" if current else word
            if len(render(candidate)) <= limit:
                current = candidate
                continue
            if current:
                pieces.append(current)
            current = word
            while len(render(current)) > limit:  # one enormous "word"
                n = _fit(current, limit, render)
                pieces.append(current[:n])
                current = current[n:]
    if current:
        pieces.append(current)
    return [render(p) for p in pieces]


def link_url(url: str | None, limit: int = MAX_URL) -> str | None:
    """An http(s) URL made safe inside `<url|label>` (no `|`, `<`, `>`, spaces), or None."""
    if not url or len(url) > limit or not re.match(r"^https?://", url.strip(), re.IGNORECASE):
        return None
    url = url.strip()
    for c, enc in (("|", "%7C"), ("<", "%3C"), (">", "%3E"), (" ", "%20")):
        url = url.replace(c, enc)
    return url.replace("&", "&amp;")


def short_authors(authors: Sequence[str], shown: int = AUTHORS_SHOWN) -> str:
    """'A, B, C et al.' for long author lists; all names when there are few."""
    names = [" ".join(a.split()) for a in authors if a and a.strip()]
    if len(names) > shown:
        return ", ".join(names[:shown]) + " et al."
    return ", ".join(names)


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _word_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a match to whole words: Slack only renders *bold* on word boundaries."""
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return start, end


def match_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Character spans of `text` whose tokens are among the (stemmed) query terms."""
    wanted = set(terms)
    if not wanted:
        return []
    return merge_spans(
        _word_bounds(text, s, e) for tok, s, e in token_spans(text) if tok in wanted
    )


def _window(text: str, spans: list[tuple[int, int]], size: int) -> tuple[int, int]:
    """The stretch of `size` chars of `text` holding the most matches, on word boundaries."""
    if len(text) <= size:
        return 0, len(text)
    best_start, best_count = 0, -1
    ends = [b for _, b in spans]
    for i, (s, _) in enumerate(spans or [(0, 0)]):
        start = max(0, min(s - size // 4, len(text) - size))
        # spans are sorted and disjoint: count those ending inside [start, start + size]
        first = i if s >= start else bisect_left(ends, start + 1)
        count = bisect_right(ends, start + size) - first
        if count > best_count:
            best_start, best_count = start, count
    start = best_start
    if start > 0:
        space = text.find(" ", start)
        if 0 <= space < start + 30:
            start = space + 1
    end = min(len(text), start + size)
    if end < len(text):
        space = text.rfind(" ", start, end)
        if space > start + size // 2:
            end = space
    return start, end


def snippet(text: str, terms: Iterable[str], size: int = SNIPPET_CHARS) -> str:
    """mrkdwn excerpt of `text` around the query's matches, matched words in bold."""
    text = " ".join((text or "")[:SNIPPET_SCAN].split())
    if not text:
        return ""
    spans = match_spans(text, terms)
    start, end = _window(text, spans, size)
    out: list[str] = ["…" if start > 0 else ""]
    pos = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(safe(text[pos:s]))
        out.append(f"*{safe(text[s:e])}*")
        pos = e
    out.append(safe(text[pos:end]))
    out.append("…" if end < len(text) else "")
    return "".join(out)


# --- blocks -------------------------------------------------------------------------------


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def plain(text: str, limit: int) -> dict[str, Any]:
    """plain_text is never parsed for mentions or formatting: the safest home for titles."""
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": False}


def section(text: str, *, block_id: str | None = None, accessory: dict | None = None) -> dict:
    block: dict[str, Any] = {"type": "section", "text": mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    if accessory:
        block["accessory"] = accessory
    return block


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts if t][:MAX_CONTEXT_ELEMENTS]}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict:
    b: dict[str, Any] = {
        "type": "button",
        "text": plain(text, MAX_BUTTON_TEXT),
        "action_id": action_id,
        "value": value,
    }
    if style:
        b["style"] = style
    return b


def message(fallback: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A chat.postMessage/respond payload: blocks plus a short notification text.

    `fallback` is raw text: it is clipped, then made safe (notifications parse mentions too).
    """
    return {"text": safe_clip(fallback, FALLBACK_TEXT) or " ", "blocks": blocks[:MAX_BLOCKS]}


@dataclass(frozen=True)
class Paging:
    """Where a results page sits: the query, the offset shown and the total found."""

    query: str
    offset: int
    total: int
    terms: tuple[str, ...] = ()


def page_value(query: str, offset: int) -> str | None:
    """Button value carrying a query and an offset (None if the query is too long for it)."""
    value = json.dumps({"q": query, "o": offset}, ensure_ascii=False)
    return value if len(value) <= MAX_ACTION_VALUE else None


MAX_OFFSET = 100_000  # no list we page through is longer; forged offsets stop here
MAX_PAPER_ID = 2**63 - 1  # ids are 64-bit integers in every backend


def _offset(value: Any) -> int:
    """A paging offset from a value a client sent back: a plain int in [0, MAX_OFFSET].

    Forged values (1e400 → inf, NaN, true, a 4,000-digit int) raise ValueError here, not
    OverflowError in the database driver."""
    if type(value) is not int or not 0 <= value <= MAX_OFFSET:
        raise ValueError("bad offset")
    return value


def _loads(value: str) -> Any:
    """JSON as we write it: no NaN/Infinity (a forged 1e400 still parses, to inf: _offset
    refuses it); too many digits is a ValueError too."""
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not in our values")
    try:
        return json.loads(value, parse_constant=refuse)
    except RecursionError:  # "[[[[…" thousands deep
        raise ValueError("nested too deep") from None


def _list_arg(kind: str, arg: Any) -> str | int:
    """A list's argument: words (str) for r/v/s, a paper id (a 64-bit positive int) for m,
    nothing we read for n (a click's notice)."""
    if kind == "n" and isinstance(arg, str | int):
        return arg
    if kind == "m":
        if type(arg) is not int or not 0 < arg <= MAX_PAPER_ID:
            raise ValueError("bad paper id")
        return arg
    if not isinstance(arg, str):
        raise ValueError("bad list argument")
    return arg


def parse_page_value(value: str) -> tuple[str, int]:
    """Inverse of page_value; raises ValueError on anything else."""
    data = _loads(value)
    if not isinstance(data, dict) or not isinstance(data.get("q"), str):
        raise ValueError("bad page value")
    return data["q"], _offset(data.get("o"))


def title_link(paper: PaperLike, limit: int = TITLE_CHARS) -> str:
    """`*<url|Title>*` (or `*Title*` without a URL), escaped and defused."""
    title = safe_clip(paper.title, limit)
    url = link_url(paper.link)
    return f"*<{url}|{title}>*" if url else f"*{title}*"


def meta_line(paper: PaperLike) -> str:
    parts = [safe_clip(short_authors(paper.authors or []), 300)]
    if paper.published:
        parts.append(paper.published.isoformat())
    if paper.upvotes:
        parts.append(f"▲ {paper.upvotes} upvotes")
    return " · ".join(p for p in parts if p)


def resource_links(paper: PaperLike, *, landing: bool = False) -> str:
    """"PDF · code · project page · 4 comments on Hugging Face" as links (our mrkdwn,
    URLs checked by link_url), the paper's landing page first when `landing`; "" when
    there is none. The comments link goes to the Hub's discussion of the paper."""
    pages = (
        ("paper", paper.link if landing else None),
        ("PDF", paper.pdf_url),
        ("code", paper.code_url),
        ("project page", paper.project_page),
    )
    links = [f"<{u}|{label}>" for label, raw in pages if (u := link_url(raw))]
    n = paper.num_comments or 0
    if n > 0 and paper.arxiv_id and (u := link_url(f"{HUB_PAPER_URL}{paper.arxiv_id}")):
        links.append(f"<{u}|{n} comment{'' if n == 1 else 's'} on Hugging Face>")
    while len(" · ".join(links)) > LINKS_CHARS:  # four 800-character URLs: drop the last
        links.pop()
    return " · ".join(links)


def hub_summary(paper: PaperLike, limit: int = HUB_SUMMARY_CHARS) -> str | None:
    """The Hub's AI-written summary, labelled as such (it is not the authors' abstract),
    made safe; None when the paper has none."""
    text = " ".join((paper.ai_summary or "").split())
    if not text:
        return None
    return f"*AI summary (Hugging Face):* {safe_clip(text, limit)}"


def paper_section(
    paper: PaperLike, rank: int, terms: Sequence[str], *, why: str | None = None
) -> dict[str, Any]:
    lines = [title_link(paper), meta_line(paper)]
    if why:
        lines.append(f"_{safe_clip(why, 200)}_")
    excerpt, size = snippet(paper.abstract, terms), SNIPPET_CHARS
    while len(excerpt) > SNIPPET_RENDERED:
        size //= 2
        excerpt = snippet(paper.abstract, terms, size)
    if excerpt:
        lines.append(excerpt)
    text = "\n".join(line for line in lines if line)
    return section(
        text[:MAX_SECTION_TEXT],
        block_id=f"paper_{rank}",
        accessory=button("Abstract", f"{ABSTRACT_ACTION}_{rank}", str(paper.id)),
    )


# --- feedback on a paper --------------------------------------------------------------


def view_token(kind: str, offset: int, arg: str | int = "") -> str:
    """What a private page shows (kind s=search, r=recommend, v=saved, m=similar, n=a
    click's notice), so a
    click on it can re-render it for the clicker: Slack sends no copy of ephemeral messages."""
    return json.dumps([kind, offset, arg], ensure_ascii=False, separators=(",", ":"))


def parse_view(block_id: str) -> tuple[str, int, str | int] | None:
    """The view carried by a paper's actions block_id, or None."""
    if not block_id.startswith(ACTIONS_BLOCK) or "|" not in block_id:
        return None
    try:
        kind, offset, arg = _loads(block_id.split("|", 1)[1])
        if kind not in ("s", "r", "v", "m", "n"):
            return None
        return kind, _offset(offset), _list_arg(kind, arg)
    except (ValueError, TypeError):
        return None


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, MAX_OPTION_TEXT), "value": value[:MAX_OPTION_VALUE]}


def paper_actions(
    paper_id: int, rank: int, *, saved: bool = False, hidden: bool = False,
    view: str | None = None,
) -> dict[str, Any]:
    """Save (its state when known: only on the clicker's own view), More like this, and an
    overflow with Not for us (or, once hidden, a button to undo it)."""
    pid = str(paper_id)
    elements: list[dict[str, Any]] = []
    if hidden:
        elements.append(button("Not for us ✓ · Undo", HIDE_ACTION, f"unhide:{pid}"))
    elif saved:
        elements.append(button("Saved ✓", SAVE_ACTION, pid, style="primary"))
    else:
        elements.append(button("Save", SAVE_ACTION, pid))
    elements.append(button("More like this", SIMILAR_ACTION, pid))
    if not hidden:
        elements.append({
            "type": "overflow", "action_id": HIDE_ACTION,
            "options": [option("Not for us", f"hide:{pid}"),
                        option("Undo Not for us", f"unhide:{pid}")],
        })
    block_id = f"{ACTIONS_BLOCK}{rank}"
    if view and len(block_id) + 1 + len(view) <= MAX_ID:
        block_id += "|" + view
    return {"type": "actions", "block_id": block_id, "elements": elements}


def list_value(kind: str, arg: str | int, offset: int) -> str | None:
    """The "More" button of a personal list: its kind, argument and next offset."""
    value = json.dumps({"k": kind, "a": arg, "o": offset}, ensure_ascii=False)
    return value if len(value) <= MAX_ACTION_VALUE else None


def parse_list_value(value: str) -> tuple[str, str | int, int]:
    """Inverse of list_value; raises ValueError on anything else."""
    data = _loads(value)
    if not isinstance(data, dict) or data.get("k") not in ("r", "v", "m"):
        raise ValueError("bad list value")
    kind = data["k"]
    return kind, _list_arg(kind, data.get("a")), _offset(data.get("o"))


def paper_list_message(
    heading: str,
    papers: Sequence[PaperLike],
    *,
    kind: str,
    arg: str | int,
    offset: int,
    has_more: bool,
    ephemeral: bool,
    saved: Collection[int] = (),
    hidden: Collection[int] = (),
    why: Mapping[int, str] | None = None,
    fallback: str,
) -> dict[str, Any]:
    """A personal list (recommend r, saved v, more like this m): each paper with its
    buttons, and More when there is more. `heading` is our own mrkdwn (already safe)."""
    blocks: list[dict[str, Any]] = [context(heading[:MAX_CONTEXT_ELEMENT_TEXT])]
    view = view_token(kind, offset, arg) if ephemeral else None
    for rank, p in enumerate(papers, offset + 1):
        blocks.append(paper_section(p, rank, (), why=(why or {}).get(p.id)))
        blocks.append(
            paper_actions(p.id, rank, saved=p.id in saved, hidden=p.id in hidden, view=view)
        )
    more = list_value(kind, arg, offset + len(papers))
    if has_more and more:
        blocks.append({"type": "actions", "block_id": "paging",
                       "elements": [button("More", LIST_MORE_ACTION, more)]})
    return message(fallback, blocks)


def feedback_notice(paper: PaperLike, text: str, *, saved: bool, hidden: bool) -> dict[str, Any]:
    """What a click did, shown only to the clicker (a channel message is everyone's, so it
    keeps its buttons as they were): the paper, `text` (our mrkdwn) and its buttons now."""
    blocks = [
        section(f"{text} {title_link(paper, 300)}"[:MAX_SECTION_TEXT]),
        paper_actions(paper.id, 1, saved=saved, hidden=hidden, view=view_token("n", 0)),
    ]
    return message(f"{clip(text, 60)} {clip(paper.title, 150)}", blocks)


def single_paper(payload: dict[str, Any]) -> int | None:
    """The paper a message is about when it shows exactly one (its reactions are feedback
    on that paper), else None."""
    ids = [
        el.get("value") for b in payload.get("blocks") or []
        if b.get("type") == "actions" and str(b.get("block_id", "")).startswith(ACTIONS_BLOCK)
        for el in b.get("elements", []) if el.get("action_id") == SAVE_ACTION
    ]
    return int(ids[0]) if len(ids) == 1 and str(ids[0]).isdigit() else None


def results_message(
    papers: Sequence[PaperLike],
    paging: Paging,
    *,
    ephemeral: bool,
    shared_by: str | None = None,
    saved: Collection[int] = (),
    hidden: Collection[int] = (),
) -> dict[str, Any]:
    """One page of search results, each paper with its feedback buttons. Ephemeral pages
    get a "Share in channel" button and show the viewer's saves and hides (a channel
    message is everyone's: it never shows one person's choices)."""
    query = " ".join(paging.query.split())
    shown_to = paging.offset + len(papers)
    heading = (
        f"Papers {paging.offset + 1}–{shown_to} of {paging.total} for “{safe_clip(query, 200)}”"
    )
    if shared_by and _USER_ID.match(shared_by):
        heading += f" · shared by <@{shared_by}>"
    blocks: list[dict[str, Any]] = [context(heading)]
    view = view_token("s", paging.offset, query) if ephemeral else None
    for rank, p in enumerate(papers, paging.offset + 1):
        blocks.append(paper_section(p, rank, paging.terms))
        mine = {"saved": p.id in saved, "hidden": p.id in hidden} if ephemeral else {}
        blocks.append(paper_actions(p.id, rank, view=view, **mine))
    buttons = []
    more = page_value(query, shown_to)
    if more and shown_to < paging.total:
        buttons.append(button("More results", MORE_ACTION, more))
    share = page_value(query, paging.offset)
    if ephemeral and share:
        buttons.append(button("Share in channel", SHARE_ACTION, share, style="primary"))
    if buttons:
        blocks.append({"type": "actions", "block_id": "paging", "elements": buttons})
    text = f"{paging.total} papers for “{clip(query, 100)}”: " + "; ".join(
        clip(p.title, 80) for p in papers[:3]
    )
    return message(text, blocks)


def no_results_message(query: str) -> dict[str, Any]:
    text = (
        f"No papers match “{safe_clip(query, 500)}”. "
        "Try fewer or different words, e.g. `/papers diffusion caching`."
    )
    return message(f"No papers match “{clip(query, 100)}”.", [section(text)])


def error_message(text: str) -> dict[str, Any]:
    """A user-facing problem (bad query, missing permission), shown as typed."""
    return message(text, [section(safe_clip(text, 2900))])


def notice_message(mrkdwn_text: str, fallback: str) -> dict[str, Any]:
    """Our own mrkdwn (already safe): help, hints, confirmations."""
    return message(fallback, [section(mrkdwn_text[:MAX_SECTION_TEXT])])


HELP_TEXT = (
    "*PaperBot* finds papers in the team's library.\n"
    "• `/papers diffusion caching` – the best matches (only you see them; "
    "*Share in channel* posts them)\n"
    "• `@paperbot diffusion caching` – answers in a thread, visible to all (a mention "
    "with no words to search for, like thanks or hi, gets a short hint instead)\n"
    "• *Abstract* under a result posts its abstract in the thread\n"
    "• *Save*, *More like this* and *⋯ → Not for us* under every paper; 👍 ❤️ 🔥 ⭐ or 👎 "
    "on a paper's own message count too\n"
    "• `/papers recommend [words]` – papers picked for you from what you saved and liked "
    "(only you see them)\n"
    "• `/papers saved` – the papers you saved (it takes no words)\n"
    "• `/papers library [words]` – every paper shared here as a link or saved by anyone, "
    "newest first (words search within it)\n"
    "• `/papers export [words]` – the team library (or its matches) as a BibTeX file, "
    "sent to you in a DM\n"
    "• `/papers subscribe [topic] [at HH:MM]` – a daily digest of trending papers "
    "in this channel\n"
    "• `/papers unsubscribe` – stop this channel's digest\n"
    "• `/papers subscribe me [at HH:MM]` – your own picks each day in a DM "
    "(`/papers unsubscribe me` stops it)\n"
    "• `/papers subscriptions` – list this channel's digest settings\n"
    "• `/papers follow author \"Tri Dao\"` – each new paper by that author, in a DM; "
    "`/papers alert \"speculative decoding\"` – each new paper with that phrase in its "
    "title or abstract; add `here` (`/papers alert here \"kv cache\"`) for this channel\n"
    "• `/papers following` – your follows and alerts and this channel's, with Remove "
    "buttons; `/papers unfollow author|alert <words>` removes one\n"
    "• A new version of a paper in the team library is announced in the thread it was "
    "shared in, or to the people who saved it\n"
    "• `/papers search <words>` – a search even when the first word is one of the "
    "commands here (`/papers search library learning`)\n"
    "• `/papers help` – this message"
)


def help_message() -> dict[str, Any]:
    return notice_message(HELP_TEXT, "PaperBot: /papers <words> searches the paper library.")


MENTION_HELP_TEXT = (
    "I find papers in the team's library: mention me with words to search for, e.g. "
    "`@paperbot diffusion caching` (answered here, for everyone), or use "
    "`/papers diffusion caching` (only you see it). `/papers help` lists everything."
)


def mention_help_message() -> dict[str, Any]:
    """The answer to a mention that asks for nothing (thanks, hi, a question to a person):
    short, since the whole channel sees it (bot/mention_intent.py)."""
    return notice_message(MENTION_HELP_TEXT, "PaperBot: @paperbot <words> searches papers.")


def abstract_message(paper: PaperLike, *, note: str | None = None) -> dict[str, Any]:
    """The full abstract, split over as many sections as it needs (never cut).

    `note` (our own mrkdwn, e.g. why it could not go in the thread) is shown first.
    """
    blocks: list[dict[str, Any]] = [context(note)] if note else []
    blocks.append({"type": "header", "text": plain(paper.title, MAX_HEADER_TEXT)})
    meta = meta_line(paper)
    info = " · ".join(x for x in (meta, resource_links(paper, landing=True)) if x)
    if info:
        blocks.append(context(info[:MAX_CONTEXT_ELEMENT_TEXT]))
    if summary := hub_summary(paper):
        blocks.append(context(summary))
    pieces = split_text(paper.abstract or "", MAX_SECTION_TEXT)
    room = MAX_BLOCKS - len(blocks)
    if len(pieces) > room:  # more than ~140,000 characters: say so rather than fail
        pieces = [*pieces[: room - 1], "_(abstract continues; too long for one Slack message)_"]
    blocks += [section(p) for p in pieces] or [section("_No abstract stored for this paper._")]
    return message(f"Abstract: {clip(paper.title, 200)}", blocks)


FOLLOWING_HINT = "`/papers following` lists your follows and alerts and removes them"


def follow_notice_message(paper: PaperLike, reasons: Sequence[str]) -> dict[str, Any]:
    """A new paper for a follow or an alert (bot/follows): why first ("New paper by Tri
    Dao"; raw text, made safe here), then the paper and its buttons."""
    why = " · ".join(reasons)
    lines = [title_link(paper), meta_line(paper)]
    excerpt = snippet(paper.abstract or "", [], SNIPPET_CHARS // 2)
    if excerpt:
        lines.append(excerpt)
    blocks = [
        context(safe_clip(why, 1000)),
        section("\n".join(x for x in lines if x)[:MAX_SECTION_TEXT]),
        paper_actions(paper.id, 1),
        context(FOLLOWING_HINT),
    ]
    return message(f"{clip(why, 150)}: {clip(paper.title, 200)}", blocks)


FOLLOW_REMOVE_ACTION = "follow_remove"


def following_message(mine: Sequence[tuple[int, str]], channel: Sequence[tuple[int, str]],
                      *, note: str | None = None) -> dict[str, Any]:
    """`/papers following`: the user's follows and alerts, then the channel's, each with a
    Remove button (value: the follow's id). Items are our mrkdwn (user words made safe)."""
    blocks: list[dict[str, Any]] = [context(note)] if note else []
    for title, items in (
        ("*Your follows and alerts* (new papers come to you in a DM)", mine),
        ("*This channel's* (new papers are posted here)", channel),
    ):
        if not items:
            continue
        blocks.append(section(title))
        for follow_id, text in items:
            blocks.append(section(text[:MAX_SECTION_TEXT], accessory=button(
                "Remove", FOLLOW_REMOVE_ACTION, str(follow_id))))
    if not mine and not channel:
        blocks.append(section(
            "You follow no author and have no alert yet. `/papers follow author \"Tri Dao\"` "
            "or `/papers alert \"speculative decoding\"` (add `here` for this channel)."))
    return message("Your follows and alerts", blocks)


def revision_notice_message(paper: PaperLike, version: int, *, saved: bool) -> dict[str, Any]:
    """A new version of a library paper: in the thread it was shared in, or to its savers."""
    whose = "you saved" if saved else "shared here"
    why = f"*New version (v{version})* of a paper {whose}"
    arxiv_id = getattr(paper, "arxiv_id", None)
    links = [f"<https://arxiv.org/abs/{arxiv_id}v{version}|v{version} on arXiv>"] if (
        arxiv_id and link_url(f"https://arxiv.org/abs/{arxiv_id}v{version}")) else []
    blocks = [
        context(why),
        section("\n".join(x for x in (title_link(paper), meta_line(paper)) if x)
                [:MAX_SECTION_TEXT]),
    ]
    if links:
        blocks.append(context(" ".join(links)))
    return message(f"New version (v{version}): {clip(paper.title, 200)}", blocks)


# --- limits -------------------------------------------------------------------------------


def validate_message(payload: dict[str, Any]) -> list[str]:
    """Every Block Kit limit this message breaks (empty list: Slack will accept it)."""
    problems: list[str] = []
    text = payload.get("text")
    blocks = payload.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if text is not None and len(text) > MAX_FALLBACK_TEXT:
        problems.append(f"text is {len(text)} chars (max {MAX_FALLBACK_TEXT})")
    if not text and not blocks:
        problems.append("message has neither text nor blocks")
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks (max {MAX_BLOCKS})")
    block_ids: set[str] = set()
    action_ids: set[str] = set()  # Slack: unique within the containing block

    def check_text(obj: Any, limit: int, where: str) -> None:
        if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
            problems.append(f"{where}: not a text object")
            return
        t = obj.get("text", "")
        if not t:
            problems.append(f"{where}: empty text")
        if len(t) > limit:
            problems.append(f"{where}: {len(t)} chars (max {limit})")

    def check_element(el: dict[str, Any], where: str) -> None:
        if el.get("type") == "button":
            check_text(el.get("text"), MAX_BUTTON_TEXT, f"{where} button text")
            if el["text"].get("type") != "plain_text":
                problems.append(f"{where}: button text must be plain_text")
            if len(el.get("value", "")) > MAX_ACTION_VALUE:
                problems.append(f"{where}: value over {MAX_ACTION_VALUE} chars")
        elif el.get("type") == "overflow":
            options = el.get("options") or []
            if not 2 <= len(options) <= 5:
                problems.append(f"{where}: overflow with {len(options)} options (2 to 5)")
            for opt in options:
                check_text(opt.get("text"), MAX_OPTION_TEXT, f"{where} option text")
                if not 0 < len(opt.get("value", "")) <= MAX_OPTION_VALUE:
                    problems.append(f"{where}: option value empty or over {MAX_OPTION_VALUE}")
        aid = el.get("action_id")
        if aid is not None:
            if len(aid) > MAX_ID:
                problems.append(f"{where}: action_id too long")
            if aid in action_ids:
                problems.append(f"{where}: duplicate action_id {aid}")
            action_ids.add(aid)

    for i, block in enumerate(blocks):
        where = f"block {i} ({block.get('type')})"
        action_ids.clear()
        bid = block.get("block_id")
        if bid is not None:
            if len(bid) > MAX_ID:
                problems.append(f"{where}: block_id too long")
            if bid in block_ids:
                problems.append(f"{where}: duplicate block_id {bid}")
            block_ids.add(bid)
        kind = block.get("type")
        if kind == "section":
            if "text" in block:
                check_text(block["text"], MAX_SECTION_TEXT, where)
            elif not block.get("fields"):
                problems.append(f"{where}: section without text or fields")
            for f in block.get("fields", []):
                check_text(f, 2000, f"{where} field")
            if block.get("accessory"):
                check_element(block["accessory"], where)
        elif kind == "header":
            check_text(block.get("text"), MAX_HEADER_TEXT, where)
            if block["text"].get("type") != "plain_text":
                problems.append(f"{where}: header text must be plain_text")
        elif kind == "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
                problems.append(f"{where}: {len(elements)} elements")
            for el in elements:
                check_text(el, MAX_CONTEXT_ELEMENT_TEXT, f"{where} element")
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= MAX_ACTIONS_ELEMENTS:
                problems.append(f"{where}: {len(elements)} elements")
            for el in elements:
                check_element(el, where)
        elif kind != "divider":
            problems.append(f"{where}: unexpected block type")
    return problems


# --- link unfurls (issue 11) ----------------------------------------------------------------

UNFURL_SNIPPET = 300  # characters of the abstract shown on a link's card
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,20}$")  # never a DM (D…)


def first_discussed(
    channel_id: str | None, user_id: str | None, on: date | None, permalink: str | None
) -> str | None:
    """"First discussed in #chan by @user on <date> · view" (our mrkdwn; ids checked, so
    nothing from outside can smuggle a mention in), or None with nothing to say. The caller
    passes only a share the card's readers may see (storage.library.record_share: a public
    channel or the card's own conversation); a DM id is never named even so."""
    parts = ["First discussed"]
    if channel_id and _CHANNEL_ID.match(channel_id):
        parts.append(f"in <#{channel_id}>")
    if user_id and _USER_ID.match(user_id):
        parts.append(f"by <@{user_id}>")
    if on is not None:
        parts.append(f"on {on.isoformat()}")
    if len(parts) == 1:
        return None
    text = " ".join(parts)
    url = link_url(permalink)
    return f"{text} · <{url}|view>" if url else text


def paper_unfurl(paper: PaperLike, *, first_share: str | None = None) -> dict[str, Any]:
    """One paper link's card for chat.unfurl (`unfurls[url]`): linked title, authors, date,
    upvotes, the start of the abstract, Abstract / Save / More like this, PDF, code and
    project links (resource_links), and where the team first discussed it (`first_share`:
    first_discussed's text)."""
    lines = [title_link(paper), meta_line(paper)]
    abstract = " ".join((paper.abstract or "").split())
    if abstract:
        lines.append(safe_clip(abstract, UNFURL_SNIPPET))
    text = "\n".join(line for line in lines if line)
    blocks: list[dict[str, Any]] = [section(
        text[:MAX_SECTION_TEXT],
        block_id="paper_1",
        accessory=button("Abstract", f"{ABSTRACT_ACTION}_1", str(paper.id)),
    )]
    notes = [resource_links(paper), first_share or ""]
    if any(notes):
        blocks.append(context(*(n[:MAX_CONTEXT_ELEMENT_TEXT] for n in notes if n)))
    blocks.append(paper_actions(paper.id, 1))
    return {"blocks": blocks}
