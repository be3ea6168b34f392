"""Database layer: engine/session factory, typed models, migrations and repositories.

Importing the package imports nothing else: storage.search_reads (sqlite3 only) must load
without SQLAlchemy (see bot.services.open_search_only)."""
