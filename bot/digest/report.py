"""What one digest cycle did, for logs and for `paperbot digest --once`."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    fetch_error: str | None = None
    arxiv: str | None = None  # the category subscriptions' feed, as fetched
    fatal: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem() is None

    def summary(self) -> str:
        parts = [
            f"fetched {self.fetched} papers"
            + (f" ({self.skipped_entries} bad entries skipped)" if self.skipped_entries else ""),
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
        """The one line saying what failed, for `paperbot digest --once` and the logs."""
        if self.fatal:
            return f"digest stopped: {self.fatal}"
        if self.fetch_error:
            return f"digest fetch failed, nothing new was planned: {self.fetch_error}"
        if self.deferred:
            return (
                f"{len(self.deferred)} digest(s) could not be posted now and will be retried: "
                + "; ".join(self.deferred[:3])
            )
        if self.bad:
            return (
                f"{len(self.bad)} subscription(s) skipped, their stored settings are unusable: "
                + "; ".join(self.bad[:3])
            )
        return None
