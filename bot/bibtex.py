"""Papers to BibTeX, as pure functions (no I/O): `/papers export` and `paperbot export`.

One @misc entry per paper: a stable key, title, authors joined by `and`, year, eprint /
archivePrefix / primaryClass when the paper has an arXiv id, and url. Keys are the arXiv id
when there is one (stable across exports and libraries), else `firstauthorYEARfirstword`;
papers whose keys collide get a/b/c… suffixes in paper-id order, so a key does not depend
on the order of the listing. LaTeX's special characters are escaped (\\ { } % & $ # _ ^ ~)
and everything else, non-ASCII included, is kept as UTF-8 (biber and modern bibtex read it);
the url field is verbatim instead (see escape_url).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Protocol


class BibPaper(Protocol):
    id: int
    title: str
    authors: list[str]
    published: date | None
    arxiv_id: str | None
    categories: str | None

    @property
    def link(self) -> str | None: ...


_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}
_SPECIAL_RE = re.compile(r"[\\{}%&$#_^~]")
_WORD = re.compile(r"[A-Za-z0-9]+")
_STOP = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "towards", "toward"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def escape(text: str) -> str:
    """`text` safe inside a braced BibTeX field: every LaTeX special character escaped,
    control characters dropped, newlines folded; non-ASCII kept as it is."""
    text = " ".join(_CONTROL.sub("", text).split())
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group()], text)


def _ascii_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _WORD.findall(folded)


def _surname(author: str) -> str:
    """"Ada Lovelace" → lovelace, "Lovelace, Ada" → lovelace (ASCII-folded)."""
    name = author.split(",", 1)[0] if "," in author else (author.split() or [""])[-1]
    words = _ascii_words(name)
    return words[-1].lower() if words else ""


def base_key(paper: BibPaper) -> str:
    """The key before de-duplication: the arXiv id, else firstauthorYEARfirstword."""
    if paper.arxiv_id:
        return paper.arxiv_id.replace("/", "_")
    author = _surname(paper.authors[0]) if paper.authors else ""
    year = str(paper.published.year) if paper.published else ""
    words = [w.lower() for w in _ascii_words(paper.title)]
    first = next((w for w in words if w not in _STOP), words[0] if words else "")
    key = f"{author or 'anon'}{year}{first}"
    return key or f"paper{paper.id}"


def _suffix(n: int) -> str:
    """0 → a, 25 → z, 26 → aa, … (bibtex's own style for same-author-year papers)."""
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(ord("a") + r) + out
    return out


def assign_keys(papers: Sequence[BibPaper]) -> dict[int, str]:
    """Unique keys by paper id: a key shared by several papers gets a, b, … in id order."""
    groups: dict[str, list[int]] = {}
    for p in papers:
        groups.setdefault(base_key(p), []).append(p.id)
    keys: dict[int, str] = {}
    taken = {k for k, ids in groups.items() if len(set(ids)) == 1}
    for key, ids in groups.items():
        unique = sorted(set(ids))
        if len(unique) == 1:
            keys[unique[0]] = key
            continue
        n = 0
        for pid in unique:
            while (candidate := key + _suffix(n)) in taken:
                n += 1
            taken.add(candidate)
            keys[pid] = candidate
            n += 1
    return keys


def entry(paper: BibPaper, key: str) -> str:
    """One @misc entry."""
    fields: list[tuple[str, str]] = [("title", escape(paper.title))]
    if paper.authors:
        fields.append(("author", " and ".join(escape(a) for a in paper.authors if a.strip())))
    if paper.published:
        fields.append(("year", str(paper.published.year)))
    if paper.arxiv_id:
        fields.append(("eprint", escape(paper.arxiv_id)))
        fields.append(("archivePrefix", "arXiv"))
        primary = (paper.categories or "").replace(",", " ").split()
        if primary:
            fields.append(("primaryClass", escape(primary[0])))
    if paper.link:
        fields.append(("url", escape_url(paper.link)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n"


_URL_UNSAFE = re.compile(r"[{}\\\s\x00-\x1f\x7f]")


def escape_url(url: str) -> str:
    """A URL for a `url` field, which is verbatim (url.sty, biblatex): LaTeX escapes would
    be printed and followed literally, so ~ _ % # & stay as they are. Only what would
    break the field is changed, and percent-encoded so the URL names the same resource:
    braces (they would unbalance it), backslashes, whitespace and control characters."""
    return _URL_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), url)


def bibtex(papers: Iterable[BibPaper]) -> str:
    """A .bib file of these papers, in the order given, with unique stable keys."""
    papers = list(papers)
    keys = assign_keys(papers)
    seen: set[int] = set()
    out: list[str] = []
    for p in papers:
        if p.id in seen:
            continue
        seen.add(p.id)
        out.append(entry(p, keys[p.id]))
    return "\n".join(out)
