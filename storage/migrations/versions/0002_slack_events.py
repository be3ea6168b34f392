"""Slack event receipts: each event_id is answered once, across retries and replicas.

Revision ID: 0002_slack_events
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_slack_events"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_event_receipts",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_slack_event_receipts_received_at", "slack_event_receipts", ["received_at"]
    )


def downgrade() -> None:
    op.drop_table("slack_event_receipts")
