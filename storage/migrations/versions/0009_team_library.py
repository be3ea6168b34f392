"""The team library: papers shared as links or saved, per workspace, with who, where and when.

library_entries: one row per (workspace, paper), how and by whom it first joined.
paper_shares: every message that shared a paper's link (the first is cited by later cards).

Revision ID: 0009_team_library
Revises: 0008_personal_digests
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_team_library"
down_revision = "0008_personal_digests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32), nullable=True),
        sa.Column(
            "paper_id", sa.Integer(), sa.ForeignKey("papers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("how", sa.String(8), nullable=False),
        sa.Column("first_user_id", sa.String(32), nullable=False),
        sa.Column("first_channel_id", sa.String(32), nullable=False),
        sa.Column("first_ts", sa.String(32), nullable=True),
        sa.Column("first_permalink", sa.Text(), nullable=True),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("team_id", "paper_id", name="uq_library_entry"),
    )
    op.create_index(
        "ix_library_entries_team_first", "library_entries", ["team_id", "first_at"]
    )
    op.create_table(
        "paper_shares",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32), nullable=True),
        sa.Column(
            "paper_id", sa.Integer(), sa.ForeignKey("papers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("permalink", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("team_id", "channel_id", "ts", "paper_id", name="uq_paper_share"),
    )
    op.create_index("ix_paper_shares_team_paper", "paper_shares", ["team_id", "paper_id"])


def downgrade() -> None:
    op.drop_index("ix_paper_shares_team_paper", table_name="paper_shares")
    op.drop_table("paper_shares")
    op.drop_index("ix_library_entries_team_first", table_name="library_entries")
    op.drop_table("library_entries")
