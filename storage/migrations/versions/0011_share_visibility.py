"""paper_shares.public: whether the share's conversation was a public channel when shared.

A card names the conversation of an earlier share ("First discussed in #chan by @user") only
when everyone seeing the card may see it: a public channel, or the card's own conversation.
The link_shared event does not say, and a C… id is no proof (private channels get C… ids
too), so the answer of conversations.info is recorded with the share. Existing rows stay
NULL (unknown), which counts as not public.

Revision ID: 0011_share_visibility
Revises: 0010_feedback_user_paper
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_share_visibility"
down_revision = "0010_feedback_user_paper"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("paper_shares") as batch:
        batch.add_column(sa.Column("public", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("paper_shares") as batch:
        batch.drop_column("public")
