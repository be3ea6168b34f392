"""The team library and its export, as plain functions (no Slack): the listeners and the
CLI call these.

A workspace's library is every paper shared there as a link or saved by anyone
(storage/library.py). Listing it is newest arrival first; words rank it instead with the
same exact BM25 as `/papers <words>`, restricted to the library's papers (ties newest
first). Export is the library (or its matches) as BibTeX; the CLI, which belongs to no
workspace, exports the whole paper table or the search's matches.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select

from bot.search.engine import query_tokens
from storage import feedback as feedback_store
from storage import library as store
from storage.library import LibraryEntry
from storage.models import Paper
from storage.papers import get_papers

if TYPE_CHECKING:
    from bot.services import Services

CHUNK = 500  # papers loaded per query (keeps IN lists well under SQLite's limits)
FORMATS = ("bibtex", "jsonl")


@dataclass
class LibraryPage:
    """One page of the team library: the papers, their library entries, and paging."""

    papers: list[Paper]
    entries: dict[int, LibraryEntry]
    offset: int
    has_more: bool
    total: int
    saved: set[int] = field(default_factory=set)


def _ranked(services: Services, words: str, among: list[int] | None) -> list[int]:
    """Paper ids scoring > 0 for `words` (exact BM25, as the search does), best first;
    `among` (newest first) restricts them and breaks ties newest first, else ties by id.
    Raises QueryError for words that cannot be searched."""
    engine = services.search
    tokens = query_tokens(words, engine.tokenizer)
    index = engine.index
    snap = index.snapshot
    counts: dict[str, int] = {}
    for t in tokens:
        counts[t] = counts.get(t, 0) + 1
    weights = {
        t: snap.idf(tid) * c for t, c in counts.items()
        if (tid := index.vocab.get(t)) is not None and tid < len(snap.df)
    }
    ids, scores, _ = index.match_terms(weights)
    keep = scores > 0
    if among is not None:  # narrow in numpy first: a common word matches much of a corpus
        keep &= np.isin(ids, np.asarray(among, dtype=ids.dtype))
    score = dict(zip(ids[keep].tolist(), scores[keep].tolist(), strict=True))
    if among is None:
        return sorted(score, key=lambda pid: (-score[pid], pid))
    position = {pid: n for n, pid in enumerate(among)}
    hits = [pid for pid in among if pid in score]
    return sorted(hits, key=lambda pid: (-score[pid], position[pid]))


def library_ids(services: Services, team_id: str, words: str = "") -> list[int]:
    """The workspace library's paper ids: newest first, or ranked for `words`."""
    with services.db.session() as s:
        ids = store.library_ids(s, team_id)
    if not words.strip():
        return ids
    return _ranked(services, words, ids)


def library_page(services: Services, team_id: str, user_id: str, words: str, *,
                 offset: int, limit: int) -> LibraryPage:
    """`/papers library [words]`: one page, with who/where/when of each paper and which of
    them the viewer saved (shown on their private page only)."""
    ids = library_ids(services, team_id, words)
    shown = ids[offset:offset + limit]
    with services.db.session() as s:
        papers = get_papers(s, shown)
        entries = store.entries(s, team_id, shown)
        saved = set(feedback_store.saved_ids(s, team_id, user_id)) if user_id else set()
    return LibraryPage(papers, entries, offset, offset + limit < len(ids), len(ids), saved)


def _load(services: Services, ids: list[int]) -> Iterator[Paper]:
    for start in range(0, len(ids), CHUNK):
        with services.db.session() as s:
            papers = get_papers(s, ids[start:start + CHUNK])
            s.expunge_all()
        yield from papers


def export_papers(services: Services, team_id: str | None, words: str = "") -> list[Paper]:
    """What an export holds: a workspace's library (team_id) or, without a workspace (the
    CLI), every stored paper; words narrow it to their matches, best first."""
    if team_id is not None:
        return list(_load(services, library_ids(services, team_id, words)))
    if words.strip():
        return list(_load(services, _ranked(services, words, None)))
    with services.db.session() as s:
        ids = list(s.execute(select(Paper.id).order_by(Paper.id)).scalars())
    return list(_load(services, ids))


def jsonl(papers: list[Paper]) -> str:
    """One JSON object per line: the paper's fields as stored, for scripts and for
    `paperbot import` (bot/importers/export.py reads it back). "format" marks the lines as
    ours; "id" is the public id (the arXiv id, else the title key, as `search --json`
    gives), not the row number, which means nothing in another database."""
    from bot.importers.export import FORMAT

    lines = []
    for p in papers:
        lines.append(json.dumps({
            "format": FORMAT, "id": p.arxiv_id or p.key, "arxiv_id": p.arxiv_id,
            "title": p.title, "authors": list(p.authors),
            "published": p.published.isoformat() if p.published else None,
            "url": p.link, "pdf_url": p.pdf_url, "code_url": p.code_url,
            "categories": p.categories, "upvotes": p.upvotes, "source": p.source,
            "abstract": p.abstract,
        }, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)


def render(papers: list[Paper], fmt: str) -> str:
    """The export file's text in `fmt` (bibtex | jsonl)."""
    if fmt == "jsonl":
        return jsonl(papers)
    if fmt == "bibtex":
        from bot.bibtex import bibtex

        return bibtex(papers)
    raise ValueError(f"unknown export format {fmt!r} (use one of {', '.join(FORMATS)})")
