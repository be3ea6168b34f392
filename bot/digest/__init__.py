"""The daily trending digest: fetch Hugging Face daily papers, post each channel's digest once.

One cycle (cycle.py) reads top to bottom, one module per step, imports going one way:

    due.py     which subscriptions are due now (each checked on its own), when each is next
    source.py  fetch: the daily-papers lists, validated
    store.py   store: upsert them into the library, rank the day's candidates
    plan.py    plan: a subscription's day, decided once (topic filter via topics.py)
    post.py    post: claim a run and post what is left of it, exactly once (blocks.py)

around them: settings.py and report.py (what a cycle uses and says), poster.py (the only
Slack code), scheduler.py (runs cycles on a timer), once.py (`paperbot digest --once`),
subscriptions.py (`/papers subscribe|unsubscribe|subscriptions`). Queries live in
storage/digest.py.
"""
