"""Paper search: exact BM25Okapi over titles and abstracts, kept in step with the database.

The names below are imported on first use (PEP 562), so importing a light submodule such as
`bot.search.limits` does not pull in numpy and SQLAlchemy (the CLI's start-up time).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.search.documents import TITLE_WEIGHT, paper_tokens
    from bot.search.engine import Hit, QueryError, SearchEngine, SearchPage, query_tokens
    from bot.search.tokenizer import (
        DEFAULT_TOKENIZER,
        TOKENIZER_VERSION,
        Tokenizer,
        token_spans,
        tokenize,
    )

_WHERE = {
    "TITLE_WEIGHT": "documents",
    "paper_tokens": "documents",
    "Hit": "engine",
    "QueryError": "engine",
    "SearchEngine": "engine",
    "SearchPage": "engine",
    "query_tokens": "engine",
    "DEFAULT_TOKENIZER": "tokenizer",
    "TOKENIZER_VERSION": "tokenizer",
    "Tokenizer": "tokenizer",
    "token_spans": "tokenizer",
    "tokenize": "tokenizer",
}

__all__ = [
    "DEFAULT_TOKENIZER",
    "TITLE_WEIGHT",
    "TOKENIZER_VERSION",
    "Hit",
    "QueryError",
    "SearchEngine",
    "SearchPage",
    "Tokenizer",
    "paper_tokens",
    "query_tokens",
    "token_spans",
    "tokenize",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
