"""Importers: listing text, Hugging Face daily-papers JSON(L), arXiv metadata JSONL.

Public API: `import_paths` (the CLI's `paperbot import`), `seed_sample_corpus`,
`hf_entry_to_record` (shared with the daily digest fetcher), and the errors
`ImportFailed` (a file cannot be imported; names file and line) and `RecordError`
(one entry is unusable).
"""

from bot.importers.errors import BadRecord, ImportFailed, RecordError

__all__ = ["BadRecord", "ImportFailed", "RecordError"]
