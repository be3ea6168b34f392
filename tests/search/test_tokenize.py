"""The tokenizer's promises for scientific text (and the spans the highlighter relies on)."""

from __future__ import annotations

import pytest

from bot.search.tokenize import token_spans, tokenize


def _same(a: str, b: str) -> bool:
    return set(tokenize(a)) == set(tokenize(b))


@pytest.mark.parametrize("word", ["caching", "cached", "Caches", "CACHE"])
def test_stemming_joins_word_forms(word: str) -> None:
    assert set(tokenize(word)) == set(tokenize("cache"))


def test_plural_acronyms_match_singular() -> None:
    assert tokenize("LLMs") == tokenize("LLM") == tokenize("llms") == ["llm"]
    assert tokenize("CNNs") == ["cnn"]


def test_gpt4_spellings_meet() -> None:
    a, b, c = set(tokenize("GPT-4")), set(tokenize("gpt4")), set(tokenize("GPT 4"))
    assert a == b == {"gpt", "4", "gpt4"}
    assert c == {"gpt", "4"} and c <= a


def test_3d_is_one_token() -> None:
    assert tokenize("3D") == ["3d"]
    assert "3d" in tokenize("3-D reconstruction")


def test_hyphenated_words_give_both_parts() -> None:
    toks = tokenize("feature-caching")
    assert set(tokenize("feature")) <= set(toks) and set(tokenize("caching")) <= set(toks)


def test_camelcase_name_kept_whole_and_split() -> None:
    toks = tokenize("ERTACache")
    assert toks[0] == tokenize("ertacache")[0]  # the whole name still matches itself
    assert set(tokenize("cache")) <= set(toks)
    assert "erta" in toks
    assert set(tokenize("DeepWalk")) >= {"deep", "walk"}


def test_unicode_normalization() -> None:
    assert tokenize("ＧＰＴ－４") == tokenize("GPT-4")  # fullwidth forms
    assert tokenize("ﬁnding") == tokenize("finding")  # ligature
    assert tokenize("Schrödinger") == tokenize("Schrodinger") == tokenize("SCHRÖDINGER")
    assert tokenize("Straße") == tokenize("STRASSE")  # casefold, not lower
    assert tokenize("cache\u0301") == tokenize("cache")  # combining mark stays in the word


def test_stopwords_and_punctuation_dropped() -> None:
    assert tokenize("the of and, to; is.") == []
    assert tokenize("") == []
    assert tokenize("model's_output") == tokenize("model output")


def test_token_spans_point_into_the_original_text() -> None:
    text = "Fast ERTACache — for ＧＰＴ-4 diffusion-caching!"
    spans = token_spans(text)
    assert [t for t, _, _ in spans] == tokenize(text)
    by = {}
    for tok, s, e in spans:
        by.setdefault(tok, []).append(text[s:e])
    assert by["fast"] == ["Fast"]
    assert "Cache" in by["cach"] and "caching" in by["cach"]
    assert by["erta"] == ["ERTA"]
    assert by["gpt4"] == ["ＧＰＴ-4"]
    assert by["diffus"] == ["diffusion"]
    for _, s, e in spans:
        assert 0 <= s < e <= len(text)
