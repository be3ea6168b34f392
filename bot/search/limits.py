"""Query limits, in a module of their own so the CLI can build its parser without importing
the search engine (numpy, SQLAlchemy): `paperbot --help` stays instant."""

MAX_QUERY_CHARS = 500
MAX_LIMIT = 100
