"""Recommendations that learn from the team's saves, hides and reactions (no Slack code)."""

from bot.recommend.model import (
    MIN_SIGNALS,
    Pick,
    Signal,
    more_like_this,
    rank_candidates,
    recommend,
)

__all__ = ["MIN_SIGNALS", "Pick", "Signal", "more_like_this", "rank_candidates", "recommend"]
