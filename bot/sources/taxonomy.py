"""arXiv's category taxonomy (arxiv.org/category_taxonomy): the names a feed, a backfill or a
subscription may ask for.

Why a list and not only a shape check: one category feed is read for the union of every
subscription's categories (rss.arxiv.org/rss/cs.CL+cs.LG), so a name arXiv does not have
(`cs.XX`, a typo of a team somewhere) would put every team's category digest at the mercy of
how arXiv answers it. Names are refused where they are typed, with the nearest real ones.
Whole archives (`cs`, `math`, `quant-ph`) are feeds too. Aliases arXiv lists (math.IT for
cs.IT, cs.SY for eess.SY …) are accepted as written.
"""

from __future__ import annotations

import difflib

_SUBJECTS = {
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "cs": (
        "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS NA "
        "NE NI OH OS PF PL RO SC SD SE SI SY"
    ),
    "econ": "EM GN TH",
    "eess": "AS IV SP SY",
    "math": (
        "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA RA "
        "RT SG SP ST"
    ),
    "nlin": "AO CD CG PS SI",
    "physics": (
        "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an ed-ph "
        "flu-dyn gen-ph geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph space-ph"
    ),
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "stat": "AP CO ME ML OT TH",
}
# Archives with no subject classes of their own.
_STANDALONE = ("gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph", "nucl-ex",
               "nucl-th", "quant-ph")

CATEGORIES: frozenset[str] = frozenset(
    [*_SUBJECTS, *_STANDALONE]
    + [f"{archive}.{s}" for archive, subjects in _SUBJECTS.items() for s in subjects.split()]
)
_BY_LOWER = {c.lower(): c for c in CATEGORIES}


class UnknownCategory(ValueError):
    """Not a category arXiv has; the message names the closest ones."""


def category(word: str) -> str:
    """`word` as arXiv writes it (cs.cl -> cs.CL, Quant-Ph -> quant-ph); UnknownCategory
    (with suggestions) when arXiv has no such category."""
    found = _BY_LOWER.get(word.strip().lower())
    if found is not None:
        return found
    near = difflib.get_close_matches(word.strip().lower(), _BY_LOWER, n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(_BY_LOWER[n] for n in near)}?)" if near else ""
    raise UnknownCategory(f"“{word.strip()[:40]}” is not an arXiv category{hint}")


def is_category(word: str) -> bool:
    return word.strip().lower() in _BY_LOWER
