"""Slack OAuth installations, bots and OAuth states (issue: any workspace can install it).

Revision ID: 0006_installations
Revises: 0005_slack_receipts
"""

revision = "0006_installations"
down_revision = "0005_slack_receipts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
