"""What one digest cycle did, for logs and for `paperbot digest --once`.

The two sources fail apart: Hugging Face's list feeds the trending digests, arXiv's feed
the category digests, and either failing leaves only its own digests for the next cycle;
`problem()` names each failure (any problem makes `digest --once` exit 1). Follow and
revision notices of both sources' papers are counted in one total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.follows.notify import NotifyReport


@dataclass
class CycleReport:
    fetched: int = 0
    skipped_entries: int = 0
    planned: int = 0
    empty: int = 0
    done: int = 0
    posts: int = 0
    busy: int = 0
    had_today: int = 0  # `--now`: subscriptions that already had today's digest
    deactivated: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)  # subscriptions with unusable settings
    fetch_error: str | None = None  # Hugging Face's list: the trending digests wait
    arxiv: str | None = None  # the category subscriptions' feed, as fetched
    arxiv_error: str | None = None  # arXiv's feed: the category digests wait
    arxiv_waiting: int = 0  # category subscriptions due now that wait for the next cycle
    notices: NotifyReport | None = None  # after the Hub's and arXiv's papers were stored
    fatal: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem() is None

    def summary(self) -> str:
        parts = [
            f"fetched {self.fetched} papers"
            + (f" ({self.skipped_entries} bad entries skipped)" if self.skipped_entries else ""),
            *([self.notices.render()] if self.notices and not self.notices.quiet else []),
            *([self.arxiv] if self.arxiv else []),
            f"planned {self.planned} digests ({self.empty} with nothing new)",
            f"completed {self.done} with {self.posts} messages",
        ]
        if self.had_today:
            parts.append(f"{self.had_today} already had today's digest")
        if self.busy:
            parts.append(f"{self.busy} in progress elsewhere")
        if self.deactivated:
            parts.append(f"deactivated {', '.join(self.deactivated)}")
        if self.bad:
            parts.append(f"skipped {len(self.bad)} with unusable settings")
        return "digest: " + "; ".join(parts)

    def problem(self) -> str | None:
        """The line saying what failed, for `paperbot digest --once` and the logs: a fatal
        stop alone, else every failure, the sources' first."""
        if self.fatal:
            return f"digest stopped: {self.fatal}"
        lines: list[str] = []
        if self.fetch_error:
            lines.append(f"digest fetch failed, no trending digest was planned: {self.fetch_error}")
        if self.arxiv_error:
            n = self.arxiv_waiting
            lines.append(
                f"arXiv feed failed, {n} category digest{'s' if n != 1 else ''} "
                f"{'wait' if n != 1 else 'waits'} for the next cycle: {self.arxiv_error}"
            )
        if self.deferred:
            lines.append(
                f"{len(self.deferred)} digest(s) could not be posted now and will be retried: "
                + "; ".join(self.deferred[:3])
            )
        if self.bad:
            lines.append(
                f"{len(self.bad)} subscription(s) skipped, their stored settings are unusable: "
                + "; ".join(self.bad[:3])
            )
        return " | ".join(lines) or None
