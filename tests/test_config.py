"""Settings come from the environment in one place, with embedded-mode defaults."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import Config, ConfigError
from bot.logging_setup import RedactSecrets


def test_defaults_are_the_embedded_mode(tmp_path: Path) -> None:
    cfg = Config.from_env({"PAPERBOT_HOME": str(tmp_path)})
    assert cfg.database_url == f"sqlite:///{tmp_path / 'paperbot.db'}"
    assert cfg.index_dir == tmp_path / "index"
    assert cfg.port == 3000 and cfg.results_per_page == 5
    assert cfg.slack_api_url == "https://slack.com/api/"
    assert cfg.hf_api_url == "https://huggingface.co/api"


def test_home_defaults_to_xdg_data_dir_not_the_working_directory(tmp_path: Path) -> None:
    cfg = Config.from_env({"XDG_DATA_HOME": str(tmp_path)})
    assert cfg.database_url == f"sqlite:///{tmp_path / 'paperbot' / 'paperbot.db'}"


def test_bad_numbers_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="PORT"):
        Config.from_env({"PORT": "eighty"})
    with pytest.raises(ConfigError, match="PAPERBOT_RESULTS"):
        Config.from_env({"PAPERBOT_RESULTS": "500"})


def test_secrets_do_not_show_in_repr() -> None:
    cfg = Config.from_env(
        {"SLACK_BOT_TOKEN": "xoxb-123-456-abcdef", "SLACK_SIGNING_SECRET": "s3cr3tvalue"}
    )
    assert cfg.slack_bot_token == "xoxb-123-456-abcdef"
    assert "xoxb" not in repr(cfg) and "s3cr3t" not in repr(cfg)
    assert "xoxb" not in repr(cfg.slack_bot_token)


def test_log_filter_scrubs_tokens_and_configured_secrets() -> None:
    f = RedactSecrets(("s3cr3tvalue",))
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "token %s secret %s", ("xoxb-1-2-abc", "s3cr3tvalue"), None
    )
    f.filter(record)
    assert "xoxb-1-2-abc" not in record.getMessage()
    assert "s3cr3tvalue" not in record.getMessage()
