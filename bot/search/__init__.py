"""Paper search: exact BM25Okapi over titles and abstracts, kept in step with the database."""

from bot.search.engine import Hit, QueryError, SearchEngine, SearchPage
from bot.search.tokenizer import TOKENIZER_VERSION, token_spans, tokenize

__all__ = [
    "TOKENIZER_VERSION",
    "Hit",
    "QueryError",
    "SearchEngine",
    "SearchPage",
    "token_spans",
    "tokenize",
]
