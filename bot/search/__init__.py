"""Paper search: exact BM25Okapi over titles and abstracts, kept in step with the database."""

from bot.search.documents import TITLE_WEIGHT, paper_tokens
from bot.search.engine import Hit, QueryError, SearchEngine, SearchPage, query_tokens
from bot.search.tokenizer import (
    DEFAULT_TOKENIZER,
    TOKENIZER_VERSION,
    Tokenizer,
    token_spans,
    tokenize,
)

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
