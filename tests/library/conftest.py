"""The fake Slack Web API and a running PaperBot (the listeners' fixtures, shared)."""

from tests.listeners.conftest import fake_slack_fixture, paperbot_fixture

__all__ = ["fake_slack_fixture", "paperbot_fixture"]
