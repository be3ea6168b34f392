"""Core schema: papers and meta.

Revision ID: 0001_core
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False, server_default=""),
    )
    op.bulk_insert(
        sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text)),
        [{"key": "write_lock", "value": ""}],
    )
    op.create_table(
        "papers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(80), nullable=False, unique=True),
        sa.Column("arxiv_id", sa.String(40), nullable=True, unique=True),
        sa.Column("title_key", sa.String(40), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("published", sa.Date(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("pdf_url", sa.Text(), nullable=True),
        sa.Column("code_url", sa.Text(), nullable=True),
        sa.Column("upvotes", sa.Integer(), nullable=True),
        sa.Column("categories", sa.Text(), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rev", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.create_index("ix_papers_title_key", "papers", ["title_key"])
    op.create_index("ix_papers_published", "papers", ["published"])
    op.create_index("ix_papers_source", "papers", ["source"])
    op.create_index("ix_papers_rev", "papers", ["rev"])


def downgrade() -> None:
    op.drop_table("papers")
    op.drop_table("meta")
