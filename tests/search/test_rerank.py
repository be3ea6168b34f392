"""The second stage and learned acronyms, through SearchEngine.ranked on a real database."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot import cli
from bot.search import SearchEngine
from bot.search.acronyms import AcronymTable, definitions
from bot.search.tokenizer import tokenize
from storage.db import Database
from storage.papers import PaperRecord
from tests.search.test_engine import add, add_filler, titles


def paper(title: str, abstract: str) -> PaperRecord:
    return PaperRecord(title=title, abstract=abstract, source="test")


# Two papers define RLHF; one only says "RLHF", one only spells it out.
TEACHERS = [
    paper(
        "Aligning chat models",
        "Reinforcement learning from human feedback (RLHF) aligns chat models with people.",
    ),
    paper(
        "Reward hacking in practice",
        "We study reward hacking under reinforcement learning from human feedback (RLHF).",
    ),
]
ACRONYM_ONLY = paper("Scaling RLHF", "We scale RLHF to very large chat assistants.")
SPELLED_ONLY = paper(
    "Preference tuning at scale",
    "A study of reinforcement learning from human feedback for assistants.",
)


def ranked_titles(engine: SearchEngine, db: Database, query: str, limit: int = 10) -> list[str]:
    return titles(db, [h.paper_id for h in engine.ranked(query, limit=limit).hits])


def first_stage_titles(engine: SearchEngine, db: Database, query: str) -> list[str]:
    return titles(db, [h.paper_id for h in engine.search(query, limit=10).hits])


# ----- acronym definitions -----------------------------------------------------------------


def test_definitions_follow_the_short_forms_letters() -> None:
    text = (
        "Large language models (LLMs) are tuned with direct preference optimization (DPO). "
        "Results are in the appendix (see Fig) and the code (ABC) is public."
    )
    assert definitions(text) == {
        ("llm", tuple(tokenize("large language models"))),
        ("dpo", tuple(tokenize("direct preference optimization"))),
    }
    # Hyphenated long forms are kept as their words, so "bi-level" also matches "bi level".
    assert definitions("We solve bi-level optimization (BLO) problems.") == {
        ("blo", ("bi", "level", "optim"))
    }


def test_a_pair_is_used_once_two_papers_define_it_and_survives_a_save(tmp_path: Path) -> None:
    table = AcronymTable()
    table.learn([TEACHERS[0].abstract])
    assert table.expansions("rlhf") == []  # one paper could be a misparse
    table.learn([TEACHERS[1].abstract])
    expansion = tuple(tokenize("reinforcement learning from human feedback"))
    assert table.expansions("rlhf") == [expansion]
    assert table.acronyms_in(["we", *expansion, "now"]) == [(1, 5, "rlhf")]

    table.save(tmp_path, tokenizer_version=7)
    assert AcronymTable.load(tmp_path, tokenizer_version=7).expansions("rlhf") == [expansion]
    with pytest.raises(ValueError, match="another tokenizer"):
        AcronymTable.load(tmp_path, tokenizer_version=8)


def test_an_acronym_in_capitals_uses_the_librarys_only_definition() -> None:
    table = AcronymTable()
    table.learn(["Visual autoregressive (VAR) models predict the next scale."])
    expansion = tuple(tokenize("visual autoregressive"))
    assert table.expansions("var") == []  # lowercase "var" may be just a word
    assert table.expansions("var", shouted=True) == [expansion]
    # Two different one-off definitions: no guess, even in capitals.
    table.learn(["Sequential refinement (SR) of drafts."])
    table.learn(["Image super resolution (SR) with diffusion."])
    assert table.expansions("sr", shouted=True) == []


# ----- through the engine ------------------------------------------------------------------


def test_acronym_and_expansion_find_each_other(db: Database) -> None:
    add_filler(db)
    add(db, *TEACHERS, ACRONYM_ONLY, SPELLED_ONLY)
    engine = SearchEngine(db, refresh_interval=None)

    # BM25 alone cannot: the words are different.
    assert SPELLED_ONLY.title not in first_stage_titles(engine, db, "RLHF")
    assert ACRONYM_ONLY.title not in first_stage_titles(
        engine, db, "reinforcement learning from human feedback"
    )

    assert SPELLED_ONLY.title in ranked_titles(engine, db, "RLHF")
    assert ACRONYM_ONLY.title in ranked_titles(
        engine, db, "reinforcement learning from human feedback"
    )
    page = engine.ranked("rlhf", limit=5)
    assert page.expanded == ("rlhf = reinforc learn human feedback",)
    assert {"rlhf", "feedback"} <= set(page.terms)  # highlighted in snippets


def test_acronyms_are_learned_from_papers_that_arrive_later(db: Database) -> None:
    add_filler(db)
    add(db, paper("Mamba", "Selective state space models for long sequences."))
    engine = SearchEngine(db, refresh_interval=None)
    assert "Mamba" not in ranked_titles(engine, db, "SSM")

    add(
        db,
        paper("S4", "Structured state space models (SSMs) for sequences."),
        paper("H3", "Hungry hungry hippos: state space models (SSMs) as language models."),
    )
    engine.refresh()
    assert "Mamba" in ranked_titles(engine, db, "SSM")


def test_acronyms_are_saved_with_the_index(db: Database, tmp_path: Path) -> None:
    add_filler(db)
    add(db, *TEACHERS, ACRONYM_ONLY, SPELLED_ONLY)
    SearchEngine(db, tmp_path / "index", refresh_interval=None).warm()
    assert (tmp_path / "index" / "acronyms.json").exists()

    loaded = SearchEngine(db, tmp_path / "index", refresh_interval=None)
    assert SPELLED_ONLY.title in ranked_titles(loaded, db, "RLHF")


def test_words_together_and_in_the_title_beat_repeated_scattered_words(db: Database) -> None:
    add_filler(db)
    scattered = paper(
        "KV prediction for faster decoding, compression of activations and a small cache",
        "We predict KV entries. Compression of activations is studied; a cache of "
        "predictions helps. KV prediction beats compression baselines; the cache is small.",
    )
    together = paper(
        "Long-context decoding with KV cache compression",
        "Quantizing the key-value store of a transformer while it decodes long inputs.",
    )
    add(db, scattered, together, *[paper(f"Other {i}", f"Unrelated topic {i}.") for i in range(6)])
    engine = SearchEngine(db, refresh_interval=None)

    assert first_stage_titles(engine, db, "kv cache compression")[0] == scattered.title
    assert ranked_titles(engine, db, "kv cache compression")[0] == together.title

    page = engine.ranked("kv cache compression", limit=2, explain=True)
    why = {e.paper_id: e for e in page.explained}
    best = why[page.hits[0].paper_id]
    assert best.first_stage_rank == 2
    assert best.features.proximity == pytest.approx(1.0)
    assert why[page.hits[1].paper_id].features.proximity == pytest.approx(0.0)


def test_pages_of_the_ranked_order_fit_together(db: Database) -> None:
    add_filler(db)
    add(db, *[paper(f"Diffusion caching {i}", "diffusion " * (i % 4 + 1)) for i in range(30)])
    engine = SearchEngine(db, refresh_interval=None)
    whole = [h.paper_id for h in engine.ranked("diffusion caching", limit=30).hits]
    pages = [
        h.paper_id
        for offset in range(0, 30, 7)
        for h in engine.ranked("diffusion caching", limit=7, offset=offset).hits
    ]
    assert pages == whole and len(whole) == 30


def test_a_changed_abstract_is_read_again(db: Database) -> None:
    add_filler(db)
    add(db, paper("Speedup tricks", "A speedup for training."))
    (pid,) = add(db, paper("Caching for diffusion", "About speed."))
    engine = SearchEngine(db, refresh_interval=None)
    before = engine.ranked("diffusion caching speedup", limit=1, explain=True).explained[0]
    assert before.paper_id == pid and before.features.coverage < 1.0

    add(db, paper("Caching for diffusion", "About speed: a 2x speedup."))
    engine.refresh()
    after = engine.ranked("diffusion caching speedup", limit=1, explain=True).explained[0]
    assert after.paper_id == pid and after.features.coverage == pytest.approx(1.0)


def test_word_forms_meet_without_merging_unrelated_words() -> None:
    assert tokenize("sparsity") == tokenize("sparse")
    assert tokenize("mathematical") == tokenize("math")
    assert tokenize("usage") == tokenize("use")
    assert tokenize("stability") == tokenize("stable")
    assert tokenize("density") != tokenize("dense")  # density estimation vs dense retrieval
    assert tokenize("university") != tokenize("universal")


# ----- paperbot search --explain ------------------------------------------------------------


@pytest.fixture
def sample_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded default (bundled sample corpus), as a new user gets it."""
    for key in list(os.environ):
        if key.startswith(("SLACK_", "PAPERBOT_", "DATABASE_URL")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PAPERBOT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PAPERBOT_SCHEDULER", "0")


def test_cli_explain_says_why(sample_home: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["search", "--explain", "--limit", "3", "RLHF"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("acronyms: rlhf = reinforc learn human feedback\n")
    assert out.count("why: BM25 rank ") == 3

    assert cli.main(["search", "--explain", "--json", "--limit", "2", "kv cache"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2
    for row in rows:
        assert set(row["explain"]) == {
            "bm25_rank",
            "bm25_score",
            "bm25",
            "coverage",
            "title",
            "proximity",
        }
    assert cli.main(["search", "--json", "kv cache"]) == 0
    assert "explain" not in json.loads(capsys.readouterr().out)[0]


def test_two_letter_acronyms_widen_only_when_written_in_capitals(db: Database) -> None:
    add_filler(db)
    add(
        db,
        paper("Mixtures", "The expectation maximization (EM) algorithm fits mixtures."),
        paper("Latent models", "We revisit expectation maximization (EM) for latent models."),
        paper("Co-training", "Co-training and em dashes."),
    )
    engine = SearchEngine(db, refresh_interval=None)
    assert engine.ranked("EM", limit=5).expanded == ("em = expect maxim",)
    assert engine.ranked("em", limit=5).expanded == ()
