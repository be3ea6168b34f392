"""The team library: papers shared as links or saved, per workspace, with who, where and when.

Revision ID: 0009_team_library
Revises: 0008_personal_digests
"""

revision = "0009_team_library"
down_revision = "0008_personal_digests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
