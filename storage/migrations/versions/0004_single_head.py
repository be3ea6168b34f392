"""Join the two branches (0002 Slack events, 0003 digest) into one line of history.

Both revised 0001 when they shipped; this merge changes no table. Every later migration
revises the one before it, and tests/storage/test_migrations.py fails on a second head.

Revision ID: 0004_single_head
Revises: 0002_slack_events, 0003_digest
"""

revision = "0004_single_head"
down_revision = ("0002_slack_events", "0003_digest")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
