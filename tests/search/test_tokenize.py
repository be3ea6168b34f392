"""The tokenizer's promises for scientific text (and the spans the highlighter relies on)."""

from __future__ import annotations

import random
import sys
import threading

import pytest

from bot.search.tokenizer import (
    DEFAULT_TOKENIZER,
    TOKENIZER_VERSION,
    Tokenizer,
    token_spans,
    tokenize,
)


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


def _generated_words(n: int, seed: int = 11) -> list[str]:
    """n distinct English-looking words with suffixes the stemmer must work on."""
    rng = random.Random(seed)
    onsets = ["b", "br", "c", "ch", "d", "f", "g", "gl", "k", "l", "m", "n", "p", "pr", "r",
              "s", "st", "t", "tr", "v", "w", "z"]
    vowels = ["a", "e", "i", "o", "u", "ea", "ou", "y"]
    suffixes = ["", "s", "es", "ing", "ed", "ation", "ations", "ness", "ly", "ies", "ement",
                "ful", "ive", "ize", "izing", "ational", "ousness", "er", "est"]
    words: set[str] = set()
    while len(words) < n:
        stem = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(2, 4)))
        words.add(stem + rng.choice(suffixes))
    return sorted(words)


def test_tokenizer_is_thread_safe_and_caches_no_wrong_stems() -> None:
    """8 threads tokenizing distinct words on one Tokenizer give the single-thread output.

    A stemmer object shared by threads returned wrong stems (and raised IndexError), and the
    wrong stems were cached. Switching threads every few microseconds makes that reliable.
    """
    words = _generated_words(40_000)
    reference = Tokenizer()
    expected = {w: reference.tokenize(w) for w in words}
    shared = Tokenizer()
    n_threads = 8
    slices = [words[i::n_threads] for i in range(n_threads)]
    results: list[dict[str, list[str]]] = [{} for _ in range(n_threads)]
    errors: list[BaseException] = []
    start = threading.Barrier(n_threads)

    def work(i: int) -> None:
        start.wait()
        try:
            for w in slices[i]:
                results[i][w] = shared.tokenize(w)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        sys.setswitchinterval(old_interval)
    assert not errors, f"{len(errors)} errors, first: {errors[0]!r}"
    got = {w: toks for r in results for w, toks in r.items()}
    wrong = [w for w in words if got.get(w) != expected[w]]
    assert not wrong, f"{len(wrong)} words tokenized wrongly, e.g. {wrong[:5]}"
    # nothing wrong stayed in the caches either: later calls (any thread) are right too
    assert shared._stem_cache == reference._stem_cache
    assert [shared.tokenize(w) for w in words] == [expected[w] for w in words]


def test_module_functions_use_the_default_tokenizer() -> None:
    text = "ERTACache speeds up GPT-4 diffusion-caching"
    assert tokenize(text) == DEFAULT_TOKENIZER.tokenize(text) == Tokenizer().tokenize(text)
    assert token_spans(text) == Tokenizer().token_spans(text)
    assert DEFAULT_TOKENIZER.version == TOKENIZER_VERSION


def test_tokenizer_pickles_without_its_caches() -> None:
    import pickle

    t = Tokenizer(cache_limit=1000)
    t.tokenize("warm the caches")
    copy = pickle.loads(pickle.dumps(t))
    assert type(copy) is Tokenizer and copy.cache_limit == 1000
    assert copy._stem_cache == {}
    assert copy.tokenize("warm the caches") == t.tokenize("warm the caches")


def test_c_stemmer_agrees_with_pure_python_snowball() -> None:
    """PyStemmer (C) is a dependency for speed; snowballstemmer falls back to pure Python
    without it. Both must stem alike, or indexes would differ by install."""
    import json
    import re
    from pathlib import Path

    import snowballstemmer
    from snowballstemmer.english_stemmer import EnglishStemmer

    sample = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample_papers.jsonl"
    words = set()
    for line in sample.read_text(encoding="utf-8").splitlines():
        paper = json.loads(line)
        text = f"{paper['title']} {paper['abstract']}"
        words.update(w.lower() for w in re.findall(r"[A-Za-z]+", text))
    fast, reference = snowballstemmer.stemmer("english"), EnglishStemmer()
    assert type(fast).__module__ == "Stemmer"  # the C one is installed and used
    assert len(words) > 5000
    assert [fast.stemWord(w) for w in sorted(words)] == [
        reference.stemWord(w) for w in sorted(words)
    ]
