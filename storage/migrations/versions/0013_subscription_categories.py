"""digest_subscriptions.categories: the arXiv categories a channel's daily post takes
(`/papers subscribe arxiv cs.CL cs.LG …`), space-separated arXiv terms; NULL for a
subscription to the Hugging Face trending list, as every subscription before this was.

Revision ID: 0013_subscription_categories
Revises: 0012_arxiv_feed
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_subscription_categories"
down_revision = "0012_arxiv_feed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digest_subscriptions") as batch:
        batch.add_column(sa.Column("categories", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digest_subscriptions") as batch:
        batch.drop_column("categories")
