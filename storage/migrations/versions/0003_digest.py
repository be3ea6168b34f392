"""Daily digest: subscriptions, runs (plan + lease + Slack progress), items, channel papers.

Revision ID: 0003_digest
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_digest"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False, server_default=""),
        sa.Column("post_time", sa.String(5), nullable=False),
        sa.Column("tz", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("inactive_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("team_id", "channel_id", name="uq_digest_sub_channel"),
    )
    op.create_index("ix_digest_subscriptions_team_id", "digest_subscriptions", ["team_id"])
    op.create_index("ix_digest_subscriptions_active", "digest_subscriptions", ["active"])
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_key", sa.String(32), nullable=False, unique=True),
        sa.Column(
            "subscription_id",
            sa.Integer(),
            sa.ForeignKey("digest_subscriptions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("planned", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parent_state", sa.String(8), nullable=False, server_default="none"),
        sa.Column("parent_ts", sa.String(32), nullable=True),
        sa.Column("lease_owner", sa.String(96), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("subscription_id", "local_date", name="uq_digest_run_day"),
    )
    op.create_index("ix_digest_runs_status", "digest_runs", ["status"])
    op.create_table(
        "digest_items",
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("digest_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("paper_id", sa.Integer(), sa.ForeignKey("papers.id"), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False, server_default="none"),
        sa.Column("reply_ts", sa.String(32), nullable=True),
    )
    op.create_table(
        "digest_channel_papers",
        sa.Column("channel_id", sa.String(32), primary_key=True),
        sa.Column("paper_id", sa.Integer(), sa.ForeignKey("papers.id"), primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("digest_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("digest_channel_papers")
    op.drop_table("digest_items")
    op.drop_table("digest_runs")
    op.drop_index("ix_digest_subscriptions_active", "digest_subscriptions")
    op.drop_index("ix_digest_subscriptions_team_id", "digest_subscriptions")
    op.drop_table("digest_subscriptions")
