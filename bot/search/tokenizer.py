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

`Tokenizer` holds the caches (the work per distinct chunk is cached, so tokenizing a corpus
costs about one regex pass plus a dict lookup per word) and is safe to share between threads;
the module functions `tokenize` and `token_spans` use one shared default. Change
TOKENIZER_VERSION whenever output changes: persisted indexes compare it and rebuild.
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata

import snowballstemmer

from bot.search.stopwords import STOPWORDS

TOKENIZER_VERSION = 2  # 2: derivational conflation after Snowball (see _conflate)

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
# Snowball leaves some derivational families apart that a researcher's query crosses:
# "sparse"/"sparsity" (spars/sparsiti), "math"/"mathematical" (math/mathemat), "use"/"usage",
# "stable"/"stability", "capable"/"capability", "explain"/"explanation". These stems are
# mapped onto their family's stem. A table, not a suffix rule: the rule that joins
# sparsity to sparse would also join density (estimation) to dense (retrieval), and
# probability to probably. tests/search/test_tokenize.py holds the cases.
_CONFLATE = {
    "sparsiti": "spars",
    "mathemat": "math",
    "usag": "use",
    "stabil": "stabl",
    "capabil": "capabl",
    "explan": "explain",
    "generaliz": "general",
}
_CACHE_LIMIT = 400_000


def _fold(s: str) -> str:
    """NFKC + Latin accent folding + casefold (ASCII takes the fast path)."""
    if s.isascii():
        return s.lower()
    s = unicodedata.normalize("NFKD", s)
    s = re.sub(f"[{_MARKS}]", "", s)
    return unicodedata.normalize("NFKC", s).casefold()


Span = tuple[str, int, int]


def _conflate(stem: str) -> str:
    """A Snowball stem mapped onto its derivational family's stem (see _CONFLATE)."""
    return _CONFLATE.get(stem, stem)


class Tokenizer:
    """The tokenizer with its caches; safe to share between threads.

    Snowball stemmers keep the word being stemmed in the object, so one stemmer shared by
    threads (answer threads, the index refresher, the digest's reindex) returns wrong stems
    or raises IndexError, and the caches would keep the wrong stems. Each thread therefore
    gets its own stemmer; the caches hold only finished results (dict reads and writes are
    atomic), and a result is never read back from a cache another thread may have cleared.
    `version` is saved with a persisted index: an index made by another version is rebuilt.
    """

    version: int = TOKENIZER_VERSION

    def __init__(self, cache_limit: int = _CACHE_LIMIT) -> None:
        self.cache_limit = cache_limit
        self._local = threading.local()
        self._stem_cache: dict[str, str] = {}
        # chunk text -> (term, start, end) relative to the chunk, and just the terms
        self._chunk_cache: dict[str, tuple[Span, ...]] = {}
        self._terms_cache: dict[str, tuple[str, ...]] = {}

    def __reduce__(self) -> tuple[type[Tokenizer], tuple[int]]:
        """Pickled (for build worker processes) without its caches and stemmers."""
        return type(self), (self.cache_limit,)

    # ----- public API ---------------------------------------------------------------------

    def tokenize(self, text: str) -> list[str]:
        """Index terms of `text`, in order, with repeats (what BM25 counts)."""
        chunks = _CHUNK.findall(text)
        parts = list(map(self._terms_cache.get, chunks))
        if None in parts:
            for i, c in enumerate(chunks):
                if parts[i] is None:
                    parts[i] = self._chunk_tokens(c)[1]
        return list(itertools.chain.from_iterable(parts))  # type: ignore[arg-type]

    def token_spans(self, text: str) -> list[Span]:
        """(term, start, end) for every term of `text`, spans in the original string.

        For the snippet highlighter: bold text[start:end] when term is in SearchPage.terms.
        Derived tokens (joined or camel parts) point at the characters they came from.
        """
        out: list[Span] = []
        for m in _CHUNK.finditer(text):
            base = m.start()
            spans = self._chunk_cache.get(m.group())
            if spans is None:
                spans = self._chunk_tokens(m.group())[0]
            out.extend((t, base + s, base + e) for t, s, e in spans)
        return out

    # ----- internals ----------------------------------------------------------------------

    def _stemmer(self) -> snowballstemmer.stemmer:
        """This thread's own stemmer (a stemmer object is not safe to share)."""
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            stemmer = self._local.stemmer = snowballstemmer.stemmer("english")
        return stemmer

    def _stem(self, word: str) -> str:
        """Snowball stem of a casefolded letters-only word; vowel-less plurals ("llms") lose
        the s."""
        out = self._stem_cache.get(word)
        if out is None:
            if len(word) >= 4 and word.endswith("s") and not _VOWELS.intersection(word[:-1]):
                out = word[:-1]
            else:
                out = _conflate(self._stemmer().stemWord(word))
            if len(self._stem_cache) > self.cache_limit:
                self._stem_cache.clear()
            self._stem_cache[word] = out
        return out

    def _norm_word(self, folded: str) -> str | None:
        """A folded word (no hyphen) as an index term, or None for stopwords/empties."""
        if not folded or folded in STOPWORDS:
            return None
        if folded.isalpha():
            return self._stem(folded)
        return folded

    def _part_tokens(self, raw: str, start: int) -> list[Span]:
        """Tokens of one hyphen-free part (raw text, start offset within the chunk)."""
        end = start + len(raw)
        if _PLURAL_ACRONYM.match(raw):
            return [(_fold(raw[:-1]), start, end)]
        folded = _fold(raw)
        whole = self._norm_word(folded)
        if whole is None:
            return []
        out = [(whole, start, end)]
        same_len = len(folded) == len(raw)
        if not folded.isalpha() and not folded.isdigit():
            pieces = [(m.group(), m.start()) for m in _ALNUM_PIECES.finditer(folded)]
            if all(p.isdigit() or len(p) >= 2 for p, _ in pieces):
                for p, off in pieces:
                    tok = self._norm_word(p)
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
                        tok = self._norm_word(p.lower())
                        if tok is not None and tok != whole:
                            out.append((tok, start + off, start + off + len(p)))
        return out

    def _chunk_tokens(self, chunk: str) -> tuple[tuple[Span, ...], tuple[str, ...]]:
        """(spans, terms) of one chunk, computed and cached (returned, never re-read: another
        thread may clear the cache in between)."""
        text = chunk.replace("\u00ad", "") if "\u00ad" in chunk else chunk
        shifted = text is not chunk  # soft hyphens removed: spans fall back to the whole chunk
        out: list[Span] = []
        parts: list[tuple[str, int]] = []
        pos = 0
        for m in _HYPHEN_SPLIT.finditer(text):
            parts.append((text[pos : m.start()], pos))
            pos = m.end()
        parts.append((text[pos:], pos))
        for raw, off in parts:
            out.extend(self._part_tokens(raw, off))
        if len(parts) > 1 and "_" not in text:
            folded = [_fold(p) for p, _ in parts]
            if any(len(f) <= 2 or any(c.isdigit() for c in f) for f in folded):
                joined = self._norm_word("".join(folded))
                if joined and len(joined) <= _MAX_JOINED and joined not in {t for t, _, _ in out}:
                    out.append((joined, 0, len(text)))
        if shifted:
            out = [(t, 0, len(chunk)) for t, _, _ in out]
        spans = tuple(out)
        terms = tuple(t for t, _, _ in spans)
        if len(self._chunk_cache) > self.cache_limit:
            self._chunk_cache.clear()
            self._terms_cache.clear()
        self._chunk_cache[chunk] = spans
        self._terms_cache[chunk] = terms
        return spans, terms


DEFAULT_TOKENIZER = Tokenizer()


def tokenize(text: str) -> list[str]:
    """Index terms of `text` with the default tokenizer (see Tokenizer.tokenize)."""
    return DEFAULT_TOKENIZER.tokenize(text)


def token_spans(text: str) -> list[Span]:
    """(term, start, end) spans of `text` with the default tokenizer (see
    Tokenizer.token_spans); what the snippet highlighter bolds."""
    return DEFAULT_TOKENIZER.token_spans(text)
