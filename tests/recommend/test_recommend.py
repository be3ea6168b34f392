"""The recommender through its API, on real storage and the real search index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.recommend import MIN_SIGNALS, Signal, more_like_this, rank_candidates, recommend
from bot.services import Services
from storage.papers import PaperRecord
from tests.recommend.conftest import add_papers, make_services

Library = tuple[Services, list[int]]


def saves(ids: list[int]) -> list[Signal]:
    return [Signal(i, 1.0) for i in ids]


def test_three_saves_on_an_unseen_topic_bring_three_more_of_it(library: Library) -> None:
    """The issue's done-when: papers the corpus never had, one narrow topic."""
    svc, topic = library
    saved, others = topic[:3], set(topic[3:])
    top = recommend(svc, saves(saved), limit=5)
    assert len(top) == 5
    assert len({p.paper_id for p in top} & others) >= 3, [p.why for p in top]
    similar = more_like_this(svc, topic[3], limit=5)
    assert len({p.paper_id for p in similar} & (set(topic) - {topic[3]})) >= 3


def test_same_signals_same_picks_also_in_another_process_state(
    library: Library, tmp_path: Path
) -> None:
    svc, topic = library
    signals = [*saves(topic[:3]), Signal(topic[6], -1.0)]
    first = recommend(svc, signals, limit=8)
    assert recommend(svc, list(reversed(signals)), limit=8) == first  # cached or not, same
    # a second PaperBot over the same database (no shared cache) agrees
    other = make_services(tmp_path / "other", svc.config.database_url, seed=False)
    try:
        again = recommend(other, signals, limit=8)
    finally:
        other.close()
    assert [(p.paper_id, p.why) for p in again] == [(p.paper_id, p.why) for p in first]
    assert [p.score for p in again] == [p.score for p in first]


def test_a_hidden_paper_pushes_its_look_alikes_down(library: Library) -> None:
    svc, topic = library
    base = recommend(svc, saves(topic[:3]), limit=10)
    top = base[0].paper_id
    twin = more_like_this(svc, top, limit=1, exclude=topic[:3])[0].paper_id
    before = rank_candidates(svc, saves(topic[:3]), [twin])
    after = rank_candidates(svc, [*saves(topic[:3]), Signal(top, -1.0)], [twin])
    assert before is not None and after is not None
    assert after[twin][0] < before[twin][0]
    ranked = [p.paper_id for p in recommend(svc, [*saves(topic[:3]), Signal(top, -1)], limit=10)]
    assert top not in ranked
    rest = [p.paper_id for p in base if p.paper_id != top]  # the same list, less the hidden
    old_rank = rest.index(twin) if twin in rest else 99
    new_rank = ranked.index(twin) if twin in ranked else 99
    assert new_rank >= old_rank


def test_saved_hidden_and_excluded_papers_never_come_back(library: Library) -> None:
    svc, topic = library
    signals = [*saves(topic[:2]), Signal(topic[2], -1.0)]
    exclude = set(topic[3:5])
    page1 = recommend(svc, signals, limit=5, exclude=exclude)
    page2 = recommend(svc, signals, limit=5, offset=5, exclude=exclude)
    got = [p.paper_id for p in page1 + page2]
    assert len(got) == len(set(got)) == 10  # paging continues without repeats
    assert not set(got) & (set(topic[:5]))
    assert [p.paper_id for p in recommend(svc, signals, limit=10, exclude=exclude)] == got


def test_every_pick_says_why(library: Library) -> None:
    svc, topic = library
    with svc.db.session() as s:
        from storage.papers import get_papers

        titles = {p.title for p in get_papers(s, topic[:3])}
    for p in recommend(svc, saves(topic[:3]), limit=5):
        assert p.why.startswith("closest to your saved “") and "words: " in p.why
        assert any(t[:40] in p.why for t in titles)
        assert "\n" not in p.why and len(p.why) < 200
    for p in more_like_this(svc, topic[0], limit=5):
        assert p.why.startswith("words: ")


def test_words_narrow_to_a_topic(library: Library) -> None:
    svc, topic = library
    picks = recommend(svc, saves(topic[:3]), limit=5, words="quantization")
    assert len(picks) == 5
    with svc.db.session() as s:
        from storage.papers import get_papers

        for paper in get_papers(s, [p.paper_id for p in picks]):
            assert "quantiz" in (paper.title + paper.abstract).lower()
    # the speculative-decoding paper about quantized drafts comes first: model + words agree
    assert picks[0].paper_id == topic[6]


def test_cold_start_falls_back_to_the_topic_then_trending(library: Library) -> None:
    svc, topic = library
    picks = recommend(svc, [], limit=5, fallback_topic="speculative decoding")
    assert all(p.why == "on this channel's topic “speculative decoding”" for p in picks)
    assert len({p.paper_id for p in picks} & set(topic)) >= 4
    # only negative signals: still a cold start; hidden papers stay out
    picks = recommend(svc, [Signal(topic[0], -1.0)], limit=5, fallback_topic="speculative decoding")
    assert topic[0] not in {p.paper_id for p in picks}
    # no topic: trending (the sample has no upvotes, so every pick says so plainly)
    picks = recommend(svc, [], limit=3)
    assert len(picks) == 3 and all(p.why.startswith("trending") for p in picks)


def test_digest_ranking_needs_enough_signals(library: Library) -> None:
    svc, topic = library
    assert rank_candidates(svc, saves(topic[: MIN_SIGNALS - 1]), topic[4:]) is None
    ranked = rank_candidates(svc, saves(topic[:MIN_SIGNALS]), [*topic[4:], 1])
    assert ranked is not None and set(ranked) == {*topic[4:], 1}
    on_topic = min(ranked[i][0] for i in topic[4:])
    assert on_topic > ranked[1][0]  # sample paper 1 (graph embeddings) is off-topic
    assert all(ranked[i][1] for i in ranked)


def test_recent_first_then_the_whole_library(db_url: str, tmp_path: Path) -> None:
    """Within recent_days (plus undated) first; widened when that leaves too few."""
    svc = make_services(tmp_path / "home", db_url, seed=False)
    try:
        today = datetime.now(UTC).date()

        def paper(title: str, days_ago: int | None, upvotes: int | None = None) -> PaperRecord:
            about = (
                "diffusion models fold proteins"
                if "Protein" in title
                else ("we study graph neural network message passing on molecules")
            )
            return PaperRecord(
                title=title,
                abstract=f"{title}: {about}.",
                source="test",
                published=None if days_ago is None else today - timedelta(days=days_ago),
                upvotes=upvotes,
            )

        ids = add_papers(
            svc,
            [
                paper("Graph networks for molecules A", 2, upvotes=5),
                paper("Graph networks for molecules B", 10),
                paper("Graph networks for molecules C", None),
                paper("Graph networks for molecules D", 100, upvotes=50),
                paper("Graph networks for molecules E", 400),
                paper("Protein folding with diffusion", 1, upvotes=3),
                *(  # unrelated old papers, so the graph words are rare enough to weigh
                    PaperRecord(
                        f"Filler paper {w}",
                        f"About {w} only.",
                        "test",
                        (),
                        None,
                        today - timedelta(days=1000),
                    )
                    for w in (
                        "tax law",
                        "bird song",
                        "crop yields",
                        "glacier melt",
                        "jazz",
                        "tides",
                        "bridges",
                        "coffee",
                        "chess openings",
                        "volcanoes",
                    )
                ),
            ],
        )
        a, b, c, d, e, f = ids[:6]
        recent = recommend(svc, saves([a]), limit=2, recent_days=30)
        assert {p.paper_id for p in recent} == {b, c}
        widened = [p.paper_id for p in recommend(svc, saves([a]), limit=4, recent_days=30)]
        assert set(widened[:2]) == {b, c} and set(widened[2:]) == {d, e}  # recent first
        pages = recommend(svc, saves([a]), limit=2, offset=2, recent_days=30)
        assert [p.paper_id for p in recent + pages] == widened  # pages neither repeat nor skip
        # trending: most upvoted within the window first, then the whole library
        trend = recommend(svc, [], limit=3, recent_days=30)
        assert [p.paper_id for p in trend] == [a, f, b]
        assert trend[0].why == "trending: 5 upvotes"
        everything = recommend(svc, [], limit=7, recent_days=30)
        assert [p.paper_id for p in everything] == [a, f, b, c, d, e, ids[6]]
    finally:
        svc.close()


def test_few_signals_blend_in_the_channel_topic(library: Library) -> None:
    """Below MIN_SIGNALS saves the subscription topic still counts; at MIN_SIGNALS, not."""
    svc, topic = library
    nas = svc.find("neural architecture search", limit=4).papers
    one = saves([nas[0][0].id])
    alone = {p.paper_id for p in recommend(svc, one, limit=5)}
    blended = {
        p.paper_id for p in recommend(svc, one, limit=5, fallback_topic="speculative decoding")
    }
    assert not alone & set(topic)
    assert blended & set(topic) and blended & alone
    enough = saves([p.id for p, _ in nas[:MIN_SIGNALS]])
    assert recommend(svc, enough, limit=5, fallback_topic="speculative decoding") == recommend(
        svc, enough, limit=5
    )
