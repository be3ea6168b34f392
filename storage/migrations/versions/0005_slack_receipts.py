"""Slack receipts with a kind and a state: events, slash commands and buttons answered once.

Replaces slack_event_receipts (event_id only, written before answering): a receipt is now
"claimed" when a process takes the request and "answered" once the answer is out, keyed by
(workspace, kind, Slack id) so a replayed command (same trigger_id) is answered once too.
Existing event receipts are carried over as answered, with an empty workspace.

Revision ID: 0005_slack_receipts
Revises: 0004_single_head
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_slack_receipts"
down_revision = "0004_single_head"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_receipts",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("slack_id", sa.String(128), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(160), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_slack_receipts_claimed_at", "slack_receipts", ["claimed_at"])
    op.execute(
        "INSERT INTO slack_receipts (team_id, kind, slack_id, state, owner, attempts, "
        "claimed_at, answered_at) SELECT '', 'event', event_id, 'answered', 'migrated', 1, "
        "received_at, received_at FROM slack_event_receipts"
    )
    op.drop_table("slack_event_receipts")


def downgrade() -> None:
    op.create_table(
        "slack_event_receipts",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_slack_event_receipts_received_at", "slack_event_receipts", ["received_at"]
    )
    op.execute(
        "INSERT INTO slack_event_receipts (event_id, received_at) SELECT slack_id, claimed_at "
        "FROM slack_receipts WHERE kind = 'event' AND length(slack_id) <= 64"
    )
    op.drop_table("slack_receipts")
