"""Personal (DM) digests and learned channel digests.

digest_subscriptions.for_user: set for a personal digest (`/papers subscribe me`), the
user whose DM with the bot (channel_id) gets it; NULL for a channel's digest. The unique
(team_id, channel_id) still holds: a DM channel belongs to one user.
digest_runs.learned_from: how many saves and reactions the day's order was learned from
(frozen with the plan, shown in the header); NULL when the day is in trending order.

Revision ID: 0008_personal_digests
Revises: 0007_feedback
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_personal_digests"
down_revision = "0007_feedback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("digest_subscriptions", sa.Column("for_user", sa.String(32), nullable=True))
    op.create_index(
        "ix_digest_subscriptions_for_user", "digest_subscriptions", ["for_user"]
    )
    op.add_column("digest_runs", sa.Column("learned_from", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digest_runs") as batch:
        batch.drop_column("learned_from")
    op.drop_index("ix_digest_subscriptions_for_user", "digest_subscriptions")
    with op.batch_alter_table("digest_subscriptions") as batch:
        batch.drop_column("for_user")
