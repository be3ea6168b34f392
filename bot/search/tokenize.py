"""Tokenization for scientific titles and abstracts (shared by indexing, queries and snippets).

A raw text is cut into *chunks*: runs of letters/digits joined by hyphens ("feature-caching",
"GPT-4"). Each chunk becomes tokens:

* every hyphen part, normalized (NFKC, Latin accents folded, casefolded), stopwords dropped,
  pure-letter words Snowball-stemmed ("caching", "cached", "cache" -> "cach");
* a joined form when a part is a number or very short, so "GPT-4", "GPT4" and "gpt 4" meet
  ("gpt4" + "gpt" + "4"), and "t-SNE" also gives "tsne";
* letter/digit mixes keep the whole token and, when both sides are real words, the pieces
  ("ResNet50" -> "resnet50", "resnet", "res", "net", "50"); "3D" stays "3d";
* CamelCase and acronym compounds keep the whole token plus their parts
  ("ERTACache" -> "ertacach", "erta", "cach"), plural acronyms lose the "s" ("LLMs" -> "llm").

The work per distinct chunk is cached, so tokenizing a corpus costs about one regex pass
plus a dict lookup per word. Change TOKENIZER_VERSION whenever output changes: persisted
indexes compare it and rebuild.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

import snowballstemmer

from bot.search.stopwords import STOPWORDS

TOKENIZER_VERSION = 1

_HYPHENS = "\\-\u2010\u2011\u2012\uff0d"
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u00ad"
_WORD = f"[\\w{_MARKS}]+"  # "_" is cut later, like a hyphen but never joined
_CHUNK = re.compile(f"{_WORD}(?:[{_HYPHENS}]{_WORD})*")
_HYPHEN_SPLIT = re.compile(f"[{_HYPHENS}_]")
# Camel/acronym parts of a letters-only part: "ERTACache" -> ERTA, Cache; "DeepWalk" -> Deep, Walk.
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[^A-Za-z]+")
_PLURAL_ACRONYM = re.compile(r"^[A-Z]{2,}s$")
_ALNUM_PIECES = re.compile(r"\d+|\D+")
_VOWELS = frozenset("aeiouy")
_MAX_JOINED = 24
_CACHE_LIMIT = 400_000

_stemmer = snowballstemmer.stemmer("english")
_stem_cache: dict[str, str] = {}
# chunk text -> tuple of (token, start, end) relative to the chunk, and just the tokens
_chunk_cache: dict[str, tuple[tuple[str, int, int], ...]] = {}
_terms_cache: dict[str, tuple[str, ...]] = {}


def _fold(s: str) -> str:
    """NFKC + Latin accent folding + casefold (ASCII takes the fast path)."""
    if s.isascii():
        return s.lower()
    s = unicodedata.normalize("NFKD", s)
    s = re.sub(f"[{_MARKS}]", "", s)
    return unicodedata.normalize("NFKC", s).casefold()


def _stem(word: str) -> str:
    """Snowball stem of a casefolded letters-only word; vowel-less plurals ("llms") lose the s."""
    out = _stem_cache.get(word)
    if out is None:
        if len(word) >= 4 and word.endswith("s") and not _VOWELS.intersection(word[:-1]):
            out = word[:-1]
        else:
            out = _stemmer.stemWord(word)
        if len(_stem_cache) > _CACHE_LIMIT:
            _stem_cache.clear()
        _stem_cache[word] = out
    return out


def _norm_word(folded: str) -> str | None:
    """A folded word (no hyphen) as an index term, or None for stopwords/empties."""
    if not folded or folded in STOPWORDS:
        return None
    if folded.isalpha():
        return _stem(folded)
    return folded


def _part_tokens(raw: str, start: int) -> list[tuple[str, int, int]]:
    """Tokens of one hyphen-free part (raw text, start offset within the chunk)."""
    end = start + len(raw)
    if _PLURAL_ACRONYM.match(raw):
        return [(_fold(raw[:-1]), start, end)]
    folded = _fold(raw)
    whole = _norm_word(folded)
    if whole is None:
        return []
    out = [(whole, start, end)]
    same_len = len(folded) == len(raw)
    if not folded.isalpha() and not folded.isdigit():
        pieces = [(m.group(), m.start()) for m in _ALNUM_PIECES.finditer(folded)]
        if all(p.isdigit() or len(p) >= 2 for p, _ in pieces):
            for p, off in pieces:
                tok = _norm_word(p)
                if tok is not None:
                    out.append(
                        (
                            tok,
                            start + off if same_len else start,
                            start + off + len(p) if same_len else end,
                        )
                    )
    if raw.isascii() and not raw.islower() and not raw.isupper():
        pieces = [(m.group(), m.start()) for m in _CAMEL.finditer(raw)]
        if len(pieces) > 1:
            for p, off in pieces:
                if len(p) < 2:
                    continue
                if p.isalpha():
                    tok = _norm_word(p.lower())
                    if tok is not None and tok != whole:
                        out.append((tok, start + off, start + off + len(p)))
    return out


def _chunk_tokens(chunk: str) -> tuple[tuple[str, int, int], ...]:
    cached = _chunk_cache.get(chunk)
    if cached is not None:
        return cached
    text = chunk.replace("\u00ad", "") if "\u00ad" in chunk else chunk
    shifted = text is not chunk  # soft hyphens removed: spans fall back to the whole chunk
    out: list[tuple[str, int, int]] = []
    parts: list[tuple[str, int]] = []
    pos = 0
    for m in _HYPHEN_SPLIT.finditer(text):
        parts.append((text[pos : m.start()], pos))
        pos = m.end()
    parts.append((text[pos:], pos))
    for raw, off in parts:
        out.extend(_part_tokens(raw, off))
    if len(parts) > 1 and "_" not in text:
        folded = [_fold(p) for p, _ in parts]
        if any(len(f) <= 2 or any(c.isdigit() for c in f) for f in folded):
            joined = _norm_word("".join(folded))
            if joined and len(joined) <= _MAX_JOINED and joined not in {t for t, _, _ in out}:
                out.append((joined, 0, len(text)))
    if shifted:
        out = [(t, 0, len(chunk)) for t, _, _ in out]
    result = tuple(out)
    if len(_chunk_cache) > _CACHE_LIMIT:
        _chunk_cache.clear()
        _terms_cache.clear()
    _chunk_cache[chunk] = result
    _terms_cache[chunk] = tuple(t for t, _, _ in result)
    return result


def tokenize(text: str) -> list[str]:
    """Index terms of `text`, in order, with repeats (what BM25 counts)."""
    chunks = _CHUNK.findall(text)
    parts = list(map(_terms_cache.get, chunks))
    if None in parts:
        for i, c in enumerate(chunks):
            if parts[i] is None:
                _chunk_tokens(c)
                parts[i] = _terms_cache[c]
    return list(itertools.chain.from_iterable(parts))  # type: ignore[arg-type]


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """(term, start, end) for every term of `text`, spans in the original string.

    For the snippet highlighter: bold text[start:end] when term is in SearchPage.terms.
    Derived tokens (joined or camel parts) point at the characters they came from.
    """
    out: list[tuple[str, int, int]] = []
    for m in _CHUNK.finditer(text):
        base = m.start()
        out.extend((t, base + s, base + e) for t, s, e in _chunk_tokens(m.group()))
    return out
