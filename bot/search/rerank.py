"""The second stage: re-order BM25's top candidates by how well each paper covers the query.

BM25 scores words one by one, so a paper about KV *prediction* that says "cache" and
"compression" apart can beat the one about KV-cache compression, and a paper that uses every
query word once can lose to one that repeats half of them. The first stage (exact BM25Okapi,
`index.top`) picks the candidates; here a few cheap features of each candidate's title and
abstract decide their order:

* bm25: BM25Okapi over the query's concepts (below), divided by the best candidate's; the
  same as the first stage's score when the query has no acronym;
* coverage: the idf-weighted share of the query's concepts the paper mentions at all;
* title: the same share counted in the title only;
* proximity: the idf-weighted share of neighbouring query concepts that appear next to each
  other, in order (a window of PROXIMITY_WINDOW tokens), as in the query.

A *concept* is a query word, or an acronym with its learned expansions (see `acronyms`): a
paper mentions RLHF when it says "RLHF" or "reinforcement learning from human feedback".
The weights below were chosen on the development half of benchmarks/relevance_data (see
benchmarks/README.md, "Relevance") and are plain constants, so the order is reproducible.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from bot.search.acronyms import AcronymTable
from bot.search.documents import TITLE_WEIGHT
from bot.search.snapshot import K1, B

DEPTH = 50  # first-stage candidates re-ordered (50-400 ranked the same on the dev queries)
PROXIMITY_WINDOW = 3  # a neighbour starting within this many tokens counts as next to it
PHRASE_GAP = 2  # tokens of one expansion may be this far apart (derived tokens in between)
W_COVERAGE = 0.75
W_TITLE = 0.25
W_PROXIMITY = 0.25

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class Concept:
    """One thing the query asks for: any of `forms` (token sequences) counts."""

    label: str
    forms: tuple[Phrase, ...]
    weight: float  # the best idf among its forms; a phrase counts as its commonest word


@dataclass(frozen=True)
class QueryPlan:
    """The query's concepts in order, and the tokens the first stage ranks with."""

    concepts: tuple[Concept, ...]
    first_stage: tuple[str, ...]
    expanded: tuple[str, ...]  # "rlhf = reinforc learn human feedback", for --explain

    @cached_property
    def term_set(self) -> frozenset[str]:
        """The terms as a set, computed once per query (every candidate reads it)."""
        return frozenset(self.terms)

    @property
    def terms(self) -> tuple[str, ...]:
        """Every token of every form: what a snippet highlights."""
        return tuple(dict.fromkeys(t for c in self.concepts for f in c.forms for t in f))


@dataclass(frozen=True)
class Features:
    bm25: float
    coverage: float
    title: float
    proximity: float

    @property
    def score(self) -> float:
        return (
            self.bm25
            + W_COVERAGE * self.coverage
            + W_TITLE * self.title
            + W_PROXIMITY * (self.proximity)
        )


class Field:
    """One field of a paper (title or abstract) as positions of the query's terms only: one
    pass over the tokens per candidate, then matching costs dictionary lookups."""

    __slots__ = ("length", "positions")

    def __init__(self, tokens: Sequence[str], terms: frozenset[str]) -> None:
        self.length = len(tokens)
        positions: dict[str, list[int]] = {}
        for i, t in [(i, t) for i, t in enumerate(tokens) if t in terms]:
            positions.setdefault(t, []).append(i)
        self.positions = positions

    def find(self, phrase: Phrase) -> list[tuple[int, int]]:
        """(first, last) positions of each occurrence of `phrase`, each next token at most
        PHRASE_GAP after the previous one (derived tokens may sit in between)."""
        pos = self.positions
        starts = pos.get(phrase[0])
        if not starts or len(phrase) == 1:
            return [(p, p) for p in starts or ()]
        rest = []
        for t in phrase[1:]:
            at = pos.get(t)
            if not at:
                return []
            rest.append(at)
        out = []
        for p in starts:
            cur = p
            for at in rest:
                i = bisect_right(at, cur)
                if i == len(at) or at[i] > cur + PHRASE_GAP:
                    break
                cur = at[i]
            else:
                out.append((p, cur))
        return out


@dataclass(frozen=True)
class PaperText:
    """What the second stage reads of a paper: its title's and abstract's tokens."""

    title: tuple[str, ...]
    abstract: tuple[str, ...]


EMPTY = PaperText((), ())


def plan_query(
    tokens: Sequence[str],
    acronyms: AcronymTable,
    idf: Callable[[str], float],
    shouted: frozenset[str] = frozenset(),
) -> QueryPlan:
    """Group the query's tokens into concepts and add the acronym/expansion forms.

    `shouted`: tokens the user wrote with capitals ("EM", "RLHF"). Two-letter tokens are
    widened only then: lowercase "co", "em" or "ai" are too often just words or prefixes."""
    tokens = list(tokens)
    spans = acronyms.acronyms_in(tokens)  # expansions written out in the query
    concepts: list[Concept] = []
    extra: list[str] = []
    expanded: list[str] = []
    i = 0
    while i < len(tokens):
        span = next((s for s in spans if s[0] == i), None)
        if span is not None:
            start, end, acr = span
            written = tuple(tokens[start:end])
            forms = (written, (acr,))
            extra.append(acr)
            expanded.append(f"{' '.join(written)} = {acr}")
            i = end
        else:
            tok = tokens[i]
            loud = tok in shouted
            found = acronyms.expansions(tok, shouted=loud) if len(tok) > 2 or loud else []
            forms = ((tok,), *found)
            for exp in found:
                extra.extend(exp)
                expanded.append(f"{tok} = {' '.join(exp)}")
            i += 1
        weight = max((min(idf(t) for t in f) for f in forms), default=0.0)
        label = " ".join(forms[0])
        if weight > 0 and all(c.label != label for c in concepts):
            concepts.append(Concept(label, forms, weight))
    first = tuple(tokens) + tuple(t for t in dict.fromkeys(extra) if t not in tokens)
    return QueryPlan(tuple(concepts), first, tuple(expanded))


def _positions(field: Field, concept: Concept) -> list[tuple[int, int]]:
    return [hit for form in concept.forms for hit in field.find(form)]


def features(plan: QueryPlan, paper: PaperText, avgdl: float) -> Features:
    """The second-stage features of one candidate; bm25 is left unnormalized (rerank divides
    by the best candidate's)."""
    concepts = plan.concepts
    total = sum(c.weight for c in concepts) or 1.0
    terms = plan.term_set
    title, abstract = Field(paper.title, terms), Field(paper.abstract, terms)
    in_title = [_positions(title, c) for c in concepts]
    in_abstract = [_positions(abstract, c) for c in concepts]
    # BM25Okapi with a concept's occurrences (any form) as its term frequency; the title
    # counts TITLE_WEIGHT times and the length is the indexed document's, as in the index.
    length = TITLE_WEIGHT * title.length + abstract.length
    norm = K1 * (1 - B + B * length / (avgdl or 1.0))
    bm25 = 0.0
    for c, t, a in zip(concepts, in_title, in_abstract, strict=True):
        tf = TITLE_WEIGHT * len(t) + len(a)
        if tf:
            bm25 += c.weight * tf * (K1 + 1) / (tf + norm)
    mentioned = zip(concepts, in_title, in_abstract, strict=True)
    coverage = sum(c.weight for c, t, a in mentioned if t or a)
    title_hits = sum(c.weight for c, t in zip(concepts, in_title, strict=True) if t)
    near = pairs = 0.0
    for k in range(len(concepts) - 1):
        w = concepts[k].weight + concepts[k + 1].weight
        pairs += w
        if _adjacent(in_title[k], in_title[k + 1]) or _adjacent(in_abstract[k], in_abstract[k + 1]):
            near += w
    return Features(
        bm25=bm25,
        coverage=coverage / total,
        title=title_hits / total,
        proximity=near / pairs if pairs else 0.0,
    )


def _adjacent(left: list[tuple[int, int]], right: list[tuple[int, int]]) -> bool:
    return any(0 < r0 - l1 <= PROXIMITY_WINDOW for _, l1 in left for r0, _ in right)


def rerank(
    plan: QueryPlan,
    candidates: Sequence[int],
    texts: dict[int, PaperText],
    avgdl: float,
) -> list[tuple[int, float, Features]]:
    """Candidate paper ids (first-stage order) re-ordered best first: (id, score, features).

    Ties keep the first stage's order. A candidate without text (deleted meanwhile) scores 0."""
    found = [features(plan, texts.get(pid, EMPTY), avgdl) for pid in candidates]
    best = max((f.bm25 for f in found), default=0.0) or 1.0
    scored = []
    for rank, (pid, f) in enumerate(zip(candidates, found, strict=True)):
        f = replace(f, bm25=f.bm25 / best)
        scored.append((-f.score, rank, pid, f))
    scored.sort(key=lambda x: (x[0], x[1]))
    return [(pid, -neg, f) for neg, _, pid, f in scored]
