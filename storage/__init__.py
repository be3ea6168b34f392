"""Database layer: engine/session factory, typed models, migrations and repositories."""
