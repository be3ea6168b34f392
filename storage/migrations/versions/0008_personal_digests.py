"""Personal (DM) digests and learned channel digests.

Revision ID: 0008_personal_digests
Revises: 0007_feedback
"""

revision = "0008_personal_digests"
down_revision = "0007_feedback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
