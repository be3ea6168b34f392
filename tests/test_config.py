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


# --- every setting is checked at start-up, with a one-line error naming it -----------------

SECRET = "hunter2pw"  # must never be echoed back


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """The process environment `paperbot` reads, emptied of settings and pointed at tmp."""
    import os

    for name in list(os.environ):
        if name.startswith(("SLACK_", "PAPERBOT_", "HF_")) or name in (
            "DATABASE_URL", "LOG_LEVEL", "PORT"
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PAPERBOT_HOME", str(tmp_path / "home"))
    return monkeypatch


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAPERBOT_DIGEST_TIME", "25:00"),
        ("PAPERBOT_DIGEST_TIME", "9am"),
        ("LOG_LEVEL", "LOUD"),
        ("SLACK_API_URL", f"ftp://bot:{SECRET}@slack.example/api/"),
        ("SLACK_API_URL", "slack.com/api"),
        ("HF_API_URL", f"https://bot:{SECRET}@hf.example:port/api"),
        ("HF_API_URL", "huggingface.co/api"),
        ("DATABASE_URL", f"mysql://bob:{SECRET}@db/papers"),
        ("DATABASE_URL", f"postgresql+psycopg2://bob:{SECRET}@db/papers"),
        ("DATABASE_URL", f"{SECRET} is not a url"),
        ("DATABASE_URL", f"postgresql://bob:{SECRET}@db:notaport/papers"),
        ("PAPERBOT_SCHEDULER", "flase"),
        ("PAPERBOT_SEED", "maybe"),
        ("PAPERBOT_DIGEST_LEASE", "nan"),
        ("PAPERBOT_DIGEST_INTERVAL", "-5"),
        ("PORT", "eighty"),
        ("PAPERBOT_RESULTS", "0"),
        ("PAPERBOT_DIGEST_SIZE", "many"),
        ("PAPERBOT_DB_BUSY_TIMEOUT_MS", "-1"),
        ("SLACK_BOT_TOKEN", f"xoxp-1-{SECRET}"),
        ("SLACK_APP_TOKEN", f"xoxb-1-{SECRET}"),
    ],
)
def test_bad_setting_stops_paperbot_with_one_line_naming_it(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    from bot.cli import main

    clean_env.setenv(name, value)
    assert main(["migrate"]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("paperbot: ") and out.err.count("\n") == 1, out.err
    assert name in out.err
    assert SECRET not in out.err


def test_settings_are_normalised(tmp_path: Path) -> None:
    cfg = Config.from_env({
        "PAPERBOT_HOME": str(tmp_path),
        "SLACK_API_URL": "http://127.0.0.1:8080/api",
        "HF_API_URL": "http://127.0.0.1:8081/api/",
        "PAPERBOT_DIGEST_TIME": "7:30",
        "LOG_LEVEL": "warn",
        "PAPERBOT_SCHEDULER": "off",
        "PAPERBOT_SEED": "Yes",
    })
    assert cfg.slack_api_url == "http://127.0.0.1:8080/api/"
    assert cfg.hf_api_url == "http://127.0.0.1:8081/api"
    assert cfg.digest_default_time == "07:30"
    assert cfg.log_level == "WARNING"
    assert cfg.run_scheduler is False and cfg.seed_sample_corpus is True


def test_only_the_embedded_default_is_seeded_unless_asked(tmp_path: Path) -> None:
    home = {"PAPERBOT_HOME": str(tmp_path)}
    embedded = Config.from_env(home)
    assert embedded.embedded_database and embedded.seed_sample_corpus
    configured = Config.from_env({**home, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert not configured.embedded_database and not configured.seed_sample_corpus
    opted_in = Config.from_env({**home, "DATABASE_URL": "postgres://u@h/db", "PAPERBOT_SEED": "1"})
    assert opted_in.seed_sample_corpus and not opted_in.embedded_database
    assert not Config.from_env({**home, "PAPERBOT_SEED": "0"}).seed_sample_corpus


def test_oauth_mode_needs_client_id_and_secret_and_no_bot_token() -> None:
    oauth = {"SLACK_CLIENT_ID": "1111111111.2222222222", "SLACK_CLIENT_SECRET": "abc123secret"}
    cfg = Config.from_env(oauth)
    assert cfg.oauth and cfg.slack_client_id == "1111111111.2222222222"
    assert "abc123secret" not in repr(cfg)
    # A bot token wins: the single-workspace deployment keeps working as before.
    assert not Config.from_env({**oauth, "SLACK_BOT_TOKEN": "xoxb-1-2-abc"}).oauth
    assert not Config.from_env({}).oauth
    with pytest.raises(ConfigError, match="SLACK_CLIENT_SECRET is not") as err:
        Config.from_env({"SLACK_CLIENT_ID": "1111111111.2222222222"})
    with pytest.raises(ConfigError, match="SLACK_CLIENT_ID is not") as err:
        Config.from_env({"SLACK_CLIENT_SECRET": "abc123secret"})
    assert "abc123secret" not in str(err.value)
    with pytest.raises(ConfigError, match="SLACK_CLIENT_ID must look like"):
        Config.from_env({**oauth, "SLACK_CLIENT_ID": "my-app"})


def test_redirect_uri_is_optional_and_checked() -> None:
    assert Config.from_env({}).slack_redirect_uri is None
    url = "https://papers.example.org/slack/oauth_redirect"
    assert Config.from_env({"SLACK_REDIRECT_URI": url}).slack_redirect_uri == url
    with pytest.raises(ConfigError, match="SLACK_REDIRECT_URI"):
        Config.from_env({"SLACK_REDIRECT_URI": "papers.example.org/slack/oauth_redirect"})
