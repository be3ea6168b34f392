"""Every setting PaperBot reads from the environment, in one place.

Defaults give the embedded mode: a SQLite file in the user's data directory and
no Slack credentials (the CLI works; `paperbot serve` asks for them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_HF_API_URL = "https://huggingface.co/api"


class Secret(str):
    """A string that never shows its value in repr/logs (tokens, signing secret)."""

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"


def default_home(env: Mapping[str, str]) -> Path:
    if env.get("PAPERBOT_HOME"):
        return Path(env["PAPERBOT_HOME"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "paperbot"


def _int(env: Mapping[str, str], name: str, default: int, lo: int = 1, hi: int = 1_000_000) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


class ConfigError(ValueError):
    """A setting is present but unusable; the message names the variable."""


@dataclass(frozen=True)
class Config:
    home: Path
    database_url: str
    index_dir: Path
    slack_bot_token: Secret = field(default=Secret(""), repr=False)
    slack_signing_secret: Secret = field(default=Secret(""), repr=False)
    slack_app_token: Secret = field(default=Secret(""), repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    hf_api_url: str = DEFAULT_HF_API_URL
    port: int = 3000
    results_per_page: int = 5
    digest_size: int = 5
    digest_default_time: str = "09:00"
    digest_lease_seconds: float = 300.0
    digest_interval_seconds: float = 300.0
    run_scheduler: bool = True
    seed_sample_corpus: bool = True
    log_level: str = "INFO"
    db_busy_timeout_ms: int = 15_000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        home = default_home(env)
        database_url = env.get("DATABASE_URL", "").strip() or f"sqlite:///{home / 'paperbot.db'}"
        index_dir = Path(env["PAPERBOT_INDEX_DIR"]).expanduser() if env.get(
            "PAPERBOT_INDEX_DIR"
        ) else home / "index"
        return cls(
            home=home,
            database_url=database_url,
            index_dir=index_dir,
            slack_bot_token=Secret(env.get("SLACK_BOT_TOKEN", "").strip()),
            slack_signing_secret=Secret(env.get("SLACK_SIGNING_SECRET", "").strip()),
            slack_app_token=Secret(env.get("SLACK_APP_TOKEN", "").strip()),
            slack_api_url=env.get("SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL,
            hf_api_url=(env.get("HF_API_URL", "").strip() or DEFAULT_HF_API_URL).rstrip("/"),
            port=_int(env, "PORT", 3000, 1, 65535),
            results_per_page=_int(env, "PAPERBOT_RESULTS", 5, 1, 20),
            digest_size=_int(env, "PAPERBOT_DIGEST_SIZE", 5, 1, 20),
            digest_default_time=env.get("PAPERBOT_DIGEST_TIME", "").strip() or "09:00",
            digest_lease_seconds=_seconds(env, "PAPERBOT_DIGEST_LEASE", 300.0),
            digest_interval_seconds=_seconds(env, "PAPERBOT_DIGEST_INTERVAL", 300.0),
            run_scheduler=env.get("PAPERBOT_SCHEDULER", "1").strip().lower()
            not in ("0", "false", "no", "off"),
            seed_sample_corpus=env.get("PAPERBOT_SEED", "1").strip().lower()
            not in ("0", "false", "no", "off"),
            log_level=env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO",
            db_busy_timeout_ms=_int(env, "PAPERBOT_DB_BUSY_TIMEOUT_MS", 15_000, 0, 600_000),
        )
