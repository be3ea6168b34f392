"""papers: what arXiv's daily announcements and the Hub's daily list say about a paper.

- version: the latest arXiv version number seen (a feed's "arXiv:2412.01234v3"), so a
  "replace" announcement of a known paper shows as a bump;
- announced, announce_type: the date and kind (new, cross, replace, replace-cross) of the
  latest announcement seen, so "papers announced on day D in categories X" and "this paper
  got a new version on day D" are one indexed query;
- project_page, ai_summary, ai_keywords, num_comments: the Hub's extra fields.

All nullable: existing rows and papers from other sources have none of them.

Revision ID: 0012_arxiv_feed
Revises: 0011_share_visibility
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_arxiv_feed"
down_revision = "0011_share_visibility"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("papers") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("announced", sa.Date(), nullable=True))
        batch.add_column(sa.Column("announce_type", sa.String(16), nullable=True))
        batch.add_column(sa.Column("project_page", sa.Text(), nullable=True))
        batch.add_column(sa.Column("ai_summary", sa.Text(), nullable=True))
        batch.add_column(sa.Column("ai_keywords", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("num_comments", sa.Integer(), nullable=True))
    op.create_index("ix_papers_announced", "papers", ["announced"])


def downgrade() -> None:
    op.drop_index("ix_papers_announced", table_name="papers")
    with op.batch_alter_table("papers") as batch:
        for name in (
            "num_comments", "ai_keywords", "ai_summary", "project_page",
            "announce_type", "announced", "version",
        ):
            batch.drop_column(name)
