"""feedback: look up one user's signals on one paper by index (team, user, paper, signal).

A Save or Not-for-us click reads "has this user saved / hidden this paper?" under its lock
before writing; with only (team_id, user_id) indexed, that read walked every signal the user
ever gave, so a click got slower with each save. (team_id, user_id, paper_id, signal)
answers it from the index alone and still serves the per-user reads (its first two
columns), so it replaces ix_feedback_team_user.

Revision ID: 0010_feedback_user_paper
Revises: 0009_team_library
"""

from alembic import op

revision = "0010_feedback_user_paper"
down_revision = "0009_team_library"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_feedback_team_user_paper", "feedback", ["team_id", "user_id", "paper_id", "signal"]
    )
    op.drop_index("ix_feedback_team_user", table_name="feedback")


def downgrade() -> None:
    op.create_index("ix_feedback_team_user", "feedback", ["team_id", "user_id"])
    op.drop_index("ix_feedback_team_user_paper", table_name="feedback")
