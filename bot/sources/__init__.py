"""Paper sources beyond the Hugging Face daily list: arXiv's daily announcement feeds (RSS)
and its OAI-PMH interface for backfills. Requests to arXiv are spaced by a pacer shared by
every process on the database (pacing.py); what is fetched is upserted by bare arXiv id
(storage.papers), so a paper from HF, a link and a feed is one row."""
