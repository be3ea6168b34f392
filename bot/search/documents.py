"""What the index holds of a paper: its BM25 token list (title weighted) and filter fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.search.segments import Doc
from bot.search.tokenizer import DEFAULT_TOKENIZER, Tokenizer

if TYPE_CHECKING:  # storage.papers loads SQLAlchemy, which searching a saved index skips
    from storage.search_reads import IndexRow

TITLE_WEIGHT = 2  # title tokens are repeated this many times in a paper's BM25 token list


def paper_tokens(title: str, abstract: str, tokenizer: Tokenizer = DEFAULT_TOKENIZER) -> list[str]:
    """A paper's BM25 token list: the title counts TITLE_WEIGHT times, then the abstract."""
    return tokenizer.tokenize(title) * TITLE_WEIGHT + tokenizer.tokenize(abstract or "")


def row_doc(row: IndexRow, tokenizer: Tokenizer = DEFAULT_TOKENIZER) -> Doc:
    """A database row as the index's document."""
    return Doc(row.id, paper_tokens(row.title, row.abstract, tokenizer), row.published, row.source)
