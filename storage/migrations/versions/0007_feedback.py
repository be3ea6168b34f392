"""Feedback (saves, hides, reactions) and the message-to-paper map, keyed by workspace.

Revision ID: 0007_feedback
Revises: 0006_installations
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_feedback"
down_revision = "0006_installations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32), nullable=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column(
            "paper_id", sa.Integer(), sa.ForeignKey("papers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("signal", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "team_id", "user_id", "channel_id", "paper_id", "signal", "detail",
            name="uq_feedback_signal",
        ),
    )
    op.create_index("ix_feedback_team_user", "feedback", ["team_id", "user_id"])
    op.create_index("ix_feedback_team_channel", "feedback", ["team_id", "channel_id"])
    op.create_table(
        "paper_messages",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("channel_id", sa.String(32), primary_key=True),
        sa.Column("ts", sa.String(32), primary_key=True),
        sa.Column(
            "paper_id", sa.Integer(), sa.ForeignKey("papers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("paper_messages")
    op.drop_index("ix_feedback_team_channel", table_name="feedback")
    op.drop_index("ix_feedback_team_user", table_name="feedback")
    op.drop_table("feedback")
