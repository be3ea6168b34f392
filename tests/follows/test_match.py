"""How a followed name and an alert phrase match (bot.follows.match): the documented rules."""

from __future__ import annotations

import pytest

from bot.follows.match import author_matches, norm, phrase_in, stems


@pytest.mark.parametrize(("follow", "author", "matches"), [
    ("Tri Dao", "Tri Dao", True),
    ("Tri Dao", "tri  DAO", True),
    ("Tri Dao", "Trí Dào", True),  # accents do not matter
    ("Tri Dao", "Dao, Tri", True),  # comma form
    ("Tri Dao", "Tri C. Dao", True),  # a middle name in the paper
    ("Tri Dao", "T. Dao", False),  # an initial in the paper is ambiguous
    ("Tri Dao", "Thanh Dao", False),
    ("Tri Dao", "Tri Daoud", False),
    ("T. Dao", "Tri Dao", True),  # the follower asked for every T. Dao
    ("T. Dao", "Thanh Dao", True),
    ("T. Dao", "A. Dao", False),
    ("Christopher D. Manning", "Christopher Manning", False),
    ("Christopher D. Manning", "Christopher David Manning", True),
    ("Laurens van der Maaten", "Laurens van der Maaten", True),
    ("Łukasz Kaiser", "Lukasz Kaiser", True),
])
def test_author_names(follow: str, author: str, matches: bool) -> None:
    assert author_matches(norm(follow), author) is matches


@pytest.mark.parametrize(("phrase", "text", "matches"), [
    ("speculative decoding", "Faster Speculative Decoding for LLMs", True),
    ("kv cache", "We compress the KV-caches of long contexts.", True),
    ("kv cache", "cache the kv pairs", False),  # the words, in order, together
    ("speculative decoding", "speculative sampling and decoding", False),
    ("mamba", "Mamba: linear-time sequence modeling", True),
    ("diffusion", "confusion", False),
])
def test_alert_phrases(phrase: str, text: str, matches: bool) -> None:
    assert phrase_in(norm(phrase), stems(text)) is matches
