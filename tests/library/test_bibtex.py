"""BibTeX export: LaTeX escaping read back by an independent parser, and stable keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import bibtexparser
import pytest
from bibtexparser.middlewares import LatexDecodingMiddleware

from bot.bibtex import assign_keys, base_key, bibtex, escape

NASTY = r"Costs of 100% & $5 #1 under_score ^caret ~tilde \back {braces} Ünïcødé α→β"


@dataclass
class P:
    id: int
    title: str
    authors: list[str] = field(default_factory=list)
    published: date | None = None
    arxiv_id: str | None = None
    categories: str | None = None
    url: str | None = None

    @property
    def link(self) -> str | None:
        return self.url or (f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else None)


def _parse(text: str, *, decode: bool) -> dict[str, dict[str, str]]:
    lib = bibtexparser.parse_string(
        text, append_middleware=[LatexDecodingMiddleware()] if decode else None)
    assert not lib.failed_blocks, [b.error for b in lib.failed_blocks]  # type: ignore[attr-defined]
    return {e.key: {f.key: f.value for f in e.fields} for e in lib.entries}


# Our escapes, undone: the raw parse must hand back exactly what we wrote in the field.
_UNDO = [(r"\textbackslash{}", "\\"), (r"\textasciicircum{}", "^"),
         (r"\textasciitilde{}", "~"), (r"\{", "{"), (r"\}", "}"), (r"\%", "%"), (r"\&", "&"),
         (r"\$", "$"), (r"\#", "#"), (r"\_", "_")]


def _undo(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        for esc, char in _UNDO:
            if text.startswith(esc, i):
                out.append(char)
                i += len(esc)
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@pytest.mark.parametrize("char", list("\\{}%&$#_^~"))
def test_every_special_character_is_escaped(char: str) -> None:
    escaped = escape(f"a{char}b")
    assert escaped != f"a{char}b"
    # No bare special character is left: each one sits behind a backslash (or is the
    # backslash or brace of an escape we emit).
    assert _undo(escaped) == f"a{char}b"
    assert escape("Ünïcødé α") == "Ünïcødé α"  # non-ASCII stays UTF-8


def test_escaping_round_trips_through_bibtexparser() -> None:
    papers = [
        P(1, NASTY, ["Ada Lovelace", "Grace {Brewster} Hopper", "Kurt Gödel"],
          date(2024, 3, 1), "2403.01234", "cs.LG stat.ML"),
        P(2, "Plain title", ["Alan Turing"], date(1950, 1, 1), url="https://e.org/a?b=1&c=%20"),
    ]
    text = bibtex(papers)
    raw = _parse(text, decode=False)
    assert set(raw) == {"2403.01234", "turing1950plain"}
    a = raw["2403.01234"]
    assert _undo(a["title"]) == NASTY
    assert [_undo(x) for x in a["author"].split(" and ")] == papers[0].authors
    assert (a["year"], a["eprint"], a["archivePrefix"], a["primaryClass"]) == (
        "2024", "2403.01234", "arXiv", "cs.LG")
    assert a["url"] == "https://arxiv.org/abs/2403.01234"
    # url fields are verbatim (url.sty, biblatex): the raw field text is the URL itself.
    assert raw["turing1950plain"]["url"] == "https://e.org/a?b=1&c=%20"
    assert "eprint" not in raw["turing1950plain"]
    # An independent LaTeX decoder (pylatexenc, through bibtexparser) reads the same text;
    # it renders \textasciicircum as U+02C6, the modifier letter, not "^".
    decoded = _parse(text, decode=True)["2403.01234"]
    assert decoded["title"] == NASTY.replace("^", "\u02c6")
    assert decoded["author"].split(" and ") == ["Ada Lovelace", "Grace {Brewster} Hopper",
                                                "Kurt Gödel"]


def test_keys_are_stable_unique_and_independent_of_order() -> None:
    same = [P(7, "On the Diffusion of Caches", ["Lovelace, Ada"], date(2024, 1, 1)),
            P(3, "Diffusion everywhere", ["Ada Lovelace"], date(2024, 5, 5)),
            P(5, "The diffusion gap", ["A. Lovelace"], date(2024, 2, 2)),
            P(9, "Diffusion", ["B. Lovelace"], date(2023, 2, 2)),
            P(4, "Whatever", ["X"], None, "hep-th/9901001"),
            P(6, "ünïcode Title", ["Jürgen Schmidhuber"], date(2015, 1, 1)),
            P(8, "", [], None)]
    keys = assign_keys(same)
    assert keys[3] == "lovelace2024diffusiona"  # suffixes follow paper id, not listing order
    assert keys[5] == "lovelace2024diffusionb"
    assert keys[7] == "lovelace2024diffusionc"
    assert keys[9] == "lovelace2023diffusion"
    assert keys[4] == "hep-th_9901001"
    assert keys[6] == "schmidhuber2015unicode"
    assert keys[8] == "anon"
    assert len(set(keys.values())) == len(same)
    assert assign_keys(list(reversed(same))) == keys
    assert base_key(same[0]) == "lovelace2024diffusion"
    parsed = _parse(bibtex(same), decode=False)
    assert set(parsed) == set(keys.values())
    # A key that a suffix would produce is never handed out twice.
    clash = [P(1, "X a", ["Q"], date(2020, 1, 1)), P(2, "X b", ["Q"], date(2020, 1, 1)),
             P(3, "Xa", ["Q"], date(2020, 1, 1))]
    ks = assign_keys(clash)
    assert len(set(ks.values())) == 3 and ks[3] == "q2020xa"


@pytest.mark.parametrize(("url", "field"), [
    ("https://e.org/~ada/my_paper.pdf", "https://e.org/~ada/my_paper.pdf"),
    ("https://e.org/a?b=1&c=%20#sec_2^x$", "https://e.org/a?b=1&c=%20#sec_2^x$"),
    # Braces would unbalance the field and a backslash is no URL character: percent-encoded,
    # which names the same resource; spaces too (a URL has none).
    ("https://e.org/{x}\\y z", "https://e.org/%7Bx%7D%5Cy%20z"),
])
def test_url_field_is_verbatim(url: str, field: str) -> None:
    text = bibtex([P(1, "T", ["A B"], date(2020, 1, 1), url=url)])
    assert f"  url = {{{field}}}" in text.splitlines()
    assert _parse(text, decode=False)["b2020t"]["url"] == field
