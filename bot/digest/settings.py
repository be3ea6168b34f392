"""The digest cycle's settings, read once from bot.config: size, API, lease, interval."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Config

DEFAULT_LEASE = 300.0
DEFAULT_INTERVAL = 300.0
FETCH_DAYS = 2  # today's and yesterday's lists (UTC): early time zones still see a full day
# A category subscription's post (`/papers subscribe arxiv cs.CL`): a field's day is hundreds
# of new papers where the trending list is ~50, so it shows 10, or PAPERBOT_DIGEST_SIZE when
# that is larger (the trending digest keeps PAPERBOT_DIGEST_SIZE, default 5).
CATEGORY_SIZE = 10


@dataclass(frozen=True)
class Settings:
    size: int = 5
    api_url: str = "https://huggingface.co/api"
    lease: float = DEFAULT_LEASE
    interval: float = DEFAULT_INTERVAL
    fetch_days: int = FETCH_DAYS
    category_size: int = CATEGORY_SIZE

    @classmethod
    def from_config(cls, config: Config) -> Settings:
        return cls(
            size=config.digest_size,
            api_url=config.hf_api_url,
            lease=config.digest_lease_seconds,
            interval=config.digest_interval_seconds,
            category_size=max(CATEGORY_SIZE, config.digest_size),
        )

    def size_for(self, categories: str | None) -> int:
        """How many papers a subscription's day shows (category subscriptions: see above)."""
        return self.category_size if categories else self.size
