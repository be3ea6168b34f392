"""follows, follow_notices, revision_notices (issue 18, items 4 and 5).

- follows: an author followed or a phrase watched (`/papers follow author …`, `/papers alert
  …`), for a user (DM) or a channel (`here`), keyed by workspace first;
- follow_notices: one row per (follow, paper) announced, claimed before posting (once);
- revision_notices: one row per (workspace, paper, version) announced as a new version.

Revision ID: 0014_follows
Revises: 0013_subscription_categories
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_follows"
down_revision = "0013_subscription_categories"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32), nullable=True),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("owner", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("norm", sa.String(400), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("team_id", "scope", "owner", "kind", "norm", name="uq_follow"),
    )
    op.create_index("ix_follows_team_owner", "follows", ["team_id", "owner"])
    op.create_table(
        "follow_notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column(
            "follow_id", sa.Integer(), sa.ForeignKey("follows.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "paper_id", sa.Integer(), sa.ForeignKey("papers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=True),
        sa.Column("ts", sa.String(32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("follow_id", "paper_id", name="uq_follow_notice"),
    )
    op.create_table(
        "revision_notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column(
            "paper_id", sa.Integer(), sa.ForeignKey("papers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("team_id", "paper_id", "version", name="uq_revision_notice"),
    )


def downgrade() -> None:
    op.drop_table("revision_notices")
    op.drop_table("follow_notices")
    op.drop_index("ix_follows_team_owner", table_name="follows")
    op.drop_table("follows")
