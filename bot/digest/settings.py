"""The digest's settings, read once from bot.config: size, default time, API, lease, interval."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Config, ConfigError
from bot.digest.due import parse_hhmm

DEFAULT_LEASE = 300.0
DEFAULT_INTERVAL = 300.0
FETCH_DAYS = 2  # today's and yesterday's lists (UTC): early time zones still see a full day


@dataclass(frozen=True)
class Settings:
    size: int = 5
    default_time: str = "09:00"
    api_url: str = "https://huggingface.co/api"
    lease: float = DEFAULT_LEASE
    interval: float = DEFAULT_INTERVAL
    fetch_days: int = FETCH_DAYS

    @classmethod
    def from_config(cls, config: Config) -> Settings:
        """Settings from the process config; a bad PAPERBOT_DIGEST_TIME stops here, not
        at every subscribe (cheap guard until Config.from_env validates it)."""
        try:
            parse_hhmm(config.digest_default_time)
        except ValueError:
            raise ConfigError(
                f"PAPERBOT_DIGEST_TIME must be HH:MM (24-hour), got {config.digest_default_time!r}"
            ) from None
        return cls(
            size=config.digest_size,
            default_time=config.digest_default_time,
            api_url=config.hf_api_url,
            lease=config.digest_lease_seconds,
            interval=config.digest_interval_seconds,
        )
