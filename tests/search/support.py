"""Helpers the search tests hand to other processes (importable by spawned build workers)."""

from __future__ import annotations

import time

from bot.search.tokenizer import Tokenizer


class SlowTokenizer(Tokenizer):
    """The real tokenizer, made slow, so a build lasts long enough to be killed mid-way."""

    def tokenize(self, text: str) -> list[str]:
        time.sleep(0.02)  # 549 sample papers: about 20 s of work
        return super().tokenize(text)


BUILD_SCRIPT = """
import sys
from bot.search import SearchEngine, segments
from storage.db import Database
from tests.search.support import SlowTokenizer

if __name__ == "__main__":
    segments.BUILD_BATCH = 10
    engine = SearchEngine(
        Database(sys.argv[1]), tokenizer=SlowTokenizer(), parallel_min_papers=1, build_workers=2
    )
    print("building", flush=True)
    engine.warm()
    print("built", engine.size, flush=True)
"""
