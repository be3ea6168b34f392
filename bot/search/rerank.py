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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.search.acronyms import AcronymTable
from bot.search.documents import TITLE_WEIGHT
from bot.search.snapshot import B, K1

DEPTH = 200  # first-stage candidates re-ordered
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
    weight: float  # idf of its rarest indexed form


@dataclass(frozen=True)
class QueryPlan:
    """The query's concepts in order, and the tokens the first stage ranks with."""

    concepts: tuple[Concept, ...]
    first_stage: tuple[str, ...]
    expanded: tuple[str, ...]  # "rlhf = reinforc learn human feedback", for --explain

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
        return self.bm25 + W_COVERAGE * self.coverage + W_TITLE * self.title + W_PROXIMITY * (
            self.proximity
        )


def find_phrase(tokens: Sequence[str], phrase: Phrase, start: int = 0) -> tuple[int, int] | None:
    """(first, last) positions of `phrase` in `tokens`, each next token at most PHRASE_GAP
    after the previous one; None if it does not occur."""
    first = phrase[0]
    n = len(tokens)
    i = start
    while i < n:
        if tokens[i] == first:
            pos, ok = i, True
            for t in phrase[1:]:
                for j in range(pos + 1, min(pos + 1 + PHRASE_GAP, n)):
                    if tokens[j] == t:
                        pos = j
                        break
                else:
                    ok = False
                    break
            if ok:
                return i, pos
        i += 1
    return None


def plan_query(
    tokens: Sequence[str], acronyms: AcronymTable, idf: Callable[[str], float]
) -> QueryPlan:
    """Group the query's tokens into concepts and add the acronym/expansion forms."""
    tokens = list(dict.fromkeys(tokens)) if len(set(tokens)) == len(tokens) else list(tokens)
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
            found = acronyms.expansions(tok)
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


def _positions(tokens: Sequence[str], concept: Concept) -> list[tuple[int, int]]:
    out = []
    for form in concept.forms:
        start = 0
        while (hit := find_phrase(tokens, form, start)) is not None:
            out.append(hit)
            start = hit[0] + 1
    return out


def features(
    plan: QueryPlan, title: Sequence[str], abstract: Sequence[str], avgdl: float
) -> Features:
    """The second-stage features of one candidate (title and abstract as token lists); bm25
    is left unnormalized (rerank divides by the best)."""
    concepts = plan.concepts
    total = sum(c.weight for c in concepts) or 1.0
    in_title = [_positions(title, c) for c in concepts]
    in_abstract = [_positions(abstract, c) for c in concepts]
    # BM25Okapi with a concept's occurrences (any form) as its term frequency; the title
    # counts TITLE_WEIGHT times and the length is the indexed document's, as in the index.
    norm = K1 * (1 - B + B * (TITLE_WEIGHT * len(title) + len(abstract)) / (avgdl or 1.0))
    bm25 = 0.0
    for c, t, a in zip(concepts, in_title, in_abstract, strict=True):
        tf = TITLE_WEIGHT * len(t) + len(a)
        if tf:
            bm25 += c.weight * tf * (K1 + 1) / (tf + norm)
    coverage = sum(c.weight for c, t, a in zip(concepts, in_title, in_abstract) if t or a)
    title_hits = sum(c.weight for c, t in zip(concepts, in_title) if t)
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
    texts: dict[int, tuple[Sequence[str], Sequence[str]]],
    avgdl: float,
) -> list[tuple[int, float, Features]]:
    """Candidate paper ids (first-stage order) re-ordered best first: (id, score, features).

    Ties keep the first stage's order. A candidate without text (deleted meanwhile) scores 0."""
    found = [features(plan, *texts.get(pid, ((), ())), avgdl) for pid in candidates]
    best = max((f.bm25 for f in found), default=0.0) or 1.0
    scored = []
    for rank, (pid, f) in enumerate(zip(candidates, found, strict=True)):
        f = replace(f, bm25=f.bm25 / best)
        scored.append((-f.score, rank, pid, f))
    scored.sort(key=lambda x: (x[0], x[1]))
    return [(pid, -neg, f) for neg, _, pid, f in scored]
