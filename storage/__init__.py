"""Database layer: engine/session factory, typed models, migrations and repositories."""

# Tables defined outside storage/models.py, registered on Base.metadata for Alembic and the
# models-vs-migrations test (slack_sdk's installation and OAuth state stores).
import storage.installations  # noqa: F401
