"""Typed SQLAlchemy 2.x models. Schema changes go through storage/migrations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.landing import landing_url


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Small key/value facts about this database (its instance id, the writers' lock row)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class Paper(Base):
    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Stable identity: "arxiv:<id>" when the arXiv id is known, else "title:<hash of the
    # normalized title>".
    key: Mapped[str] = mapped_column(String(80), unique=True)
    arxiv_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    title_key: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    published: Mapped[date | None] = mapped_column(Date, index=True)
    url: Mapped[str | None] = mapped_column(Text)
    pdf_url: Mapped[str | None] = mapped_column(Text)
    code_url: Mapped[str | None] = mapped_column(Text)
    upvotes: Mapped[int | None] = mapped_column(Integer)
    categories: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32), index=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Bumped (from a database-wide counter) on every change, so search indexes in any
    # process can catch up with "rev > last seen" without rereading the table.
    rev: Mapped[int] = mapped_column(BigInteger, index=True, default=0)
    # arXiv's daily announcements (issue 18): the latest version seen, and the date and kind
    # (new | cross | replace | replace-cross) of the latest announcement seen.
    version: Mapped[int | None] = mapped_column(Integer)
    announced: Mapped[date | None] = mapped_column(Date, index=True)
    announce_type: Mapped[str | None] = mapped_column(String(16))
    # The Hugging Face daily list's extra fields (issue 18).
    project_page: Mapped[str | None] = mapped_column(Text)
    ai_summary: Mapped[str | None] = mapped_column(Text)
    ai_keywords: Mapped[list[str] | None] = mapped_column(JSON)
    num_comments: Mapped[int | None] = mapped_column(Integer)

    @property
    def link(self) -> str:
        return landing_url(self.url, self.title)


# --- Slack events (issue 3): models below this line belong to the Slack app ---


class SlackReceipt(Base):
    """One row per Slack request we answer once: an event (event_id), a slash command or a
    button click (trigger_id). "claimed" when a process takes it, "answered" once the answer
    is out, so a retry of a claim whose answer was lost (crash, Slack refused it) is answered
    and a retry of an answered one is skipped (storage/events.py). Keyed by workspace like
    every other Slack-side table ("" for receipts carried over from before 0005)."""

    __tablename__ = "slack_receipts"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True, default="")
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # event|command|action
    slack_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # claimed -> answered
    owner: Mapped[str] = mapped_column(String(160))  # host:pid:boot of the claiming process
    attempts: Mapped[int] = mapped_column(Integer, default=1)  # bumped by each take-over
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# The old name (events only, before 0005); tests/test_server.py still counts rows with it.
SlackEventReceipt = SlackReceipt


# --- Feedback (issue 10): saves, hides and reactions, keyed by workspace ---


class Feedback(Base):
    """One signal one user gave one paper in one channel: a save, a hide or a reaction.

    The unique key makes every write idempotent (a retried click or event finds its row
    already there); taking a signal back (un-save, reaction_removed) deletes the row.
    `channel_id` is where it was given, so a channel's model learns only from its own.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint(
            "team_id", "user_id", "channel_id", "paper_id", "signal", "detail",
            name="uq_feedback_signal",
        ),
        Index("ix_feedback_team_user_paper", "team_id", "user_id", "paper_id", "signal"),
        Index("ix_feedback_team_channel", "team_id", "channel_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    signal: Mapped[str] = mapped_column(String(16))  # save | hide | reaction
    detail: Mapped[str] = mapped_column(String(64), default="")  # reaction name, else ""
    value: Mapped[int] = mapped_column(Integer)  # +1 or -1
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PaperMessage(Base):
    """A message PaperBot posted about one paper (a digest's abstract reply, an Abstract
    answer): reactions on it are feedback on that paper."""

    __tablename__ = "paper_messages"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[str] = mapped_column(String(32), primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # digest | abstract | answer
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- Team library (issue 11): every paper shared as a link or saved, per workspace ---


class LibraryItem(Base):
    """A paper in one workspace's library: who brought it in, where, when and how (a link
    shared, or a save). One row per (workspace, paper); un-saving never removes it: the
    library is the team's record of what was discussed, not anyone's bookmarks."""

    __tablename__ = "library_entries"
    __table_args__ = (
        UniqueConstraint("team_id", "paper_id", name="uq_library_entry"),
        Index("ix_library_entries_team_first", "team_id", "first_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    how: Mapped[str] = mapped_column(String(8))  # link | save: how it first joined
    first_user_id: Mapped[str] = mapped_column(String(32))
    first_channel_id: Mapped[str] = mapped_column(String(32))
    first_ts: Mapped[str | None] = mapped_column(String(32))
    first_permalink: Mapped[str | None] = mapped_column(Text)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PaperShare(Base):
    """One message that shared a paper's link: the first one is what a later share's card
    points back to. The unique key makes a retried link_shared event harmless."""

    __tablename__ = "paper_shares"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "ts", "paper_id", name="uq_paper_share"),
        Index("ix_paper_shares_team_paper", "team_id", "paper_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # A public channel when shared (conversations.info); None: unknown, counts as private.
    public: Mapped[bool | None] = mapped_column(Boolean)


# --- Digest (issue 4): models below this line belong to the daily digest ---



class Subscription(Base):
    """A channel's daily digest: optional topic, local posting time and time zone."""

    __tablename__ = "digest_subscriptions"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", name="uq_digest_sub_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32), index=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(Text, default="")
    post_time: Mapped[str] = mapped_column(String(5))  # "HH:MM" in `tz`
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    created_by: Mapped[str] = mapped_column(String(32))
    # A personal digest (`/papers subscribe me`): the user whose DM (channel_id) gets it.
    for_user: Mapped[str | None] = mapped_column(String(32), index=True)
    # arXiv categories ("cs.CL cs.LG"): the day's announcements in them instead of the Hugging
    # Face trending list; None for a trending subscription.
    categories: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    inactive_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DigestRun(Base):
    """One subscription's digest for one local date: the plan, the lease and Slack progress."""

    __tablename__ = "digest_runs"
    __table_args__ = (
        UniqueConstraint("subscription_id", "local_date", name="uq_digest_run_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(String(32), unique=True)  # put in Slack metadata
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("digest_subscriptions.id", ondelete="CASCADE")
    )
    channel_id: Mapped[str] = mapped_column(String(32))
    local_date: Mapped[date] = mapped_column(Date)
    planned: Mapped[list[int]] = mapped_column(JSON, default=list)  # paper ids, in order
    # Saves and reactions the order was learned from (shown in the header); None: trending.
    learned_from: Mapped[int | None] = mapped_column(Integer)
    # planned -> posting -> done | empty (nothing new) | failed (channel gone)
    status: Mapped[str] = mapped_column(String(16), index=True)
    # none -> intent (about to post; state in Slack unknown until checked) -> posted
    parent_state: Mapped[str] = mapped_column(String(8), default="none")
    parent_ts: Mapped[str | None] = mapped_column(String(32))
    lease_owner: Mapped[str | None] = mapped_column(String(96))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DigestItem(Base):
    """A planned paper of a run and the state of its abstract reply in the thread."""

    __tablename__ = "digest_items"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("digest_runs.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(8), default="none")  # none -> intent -> posted
    reply_ts: Mapped[str | None] = mapped_column(String(32))


class ChannelPaper(Base):
    """A paper given to a channel (reserved by a run's plan): never planned there again."""

    __tablename__ = "digest_channel_papers"

    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("digest_runs.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))



# --- Follows and alerts (issue 18): models below this line belong to bot/follows ---


class Follow(Base):
    """An author followed or a phrase watched, for one user (DM) or one channel (`here`).

    `owner` is the user id (scope "user") or the channel id (scope "channel"); `norm` is the
    normalised name or phrase (bot.follows.match), so "Tri Dao" and "tri  dao" are one row.
    """

    __tablename__ = "follows"
    __table_args__ = (
        UniqueConstraint("team_id", "scope", "owner", "kind", "norm", name="uq_follow"),
        Index("ix_follows_team_owner", "team_id", "owner"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(8))  # user | channel
    owner: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))  # author | alert
    text: Mapped[str] = mapped_column(Text)  # as typed (cleaned), for listings and notices
    norm: Mapped[str] = mapped_column(String(400))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FollowNotice(Base):
    """One paper announced to one follow: claimed (unique) before posting, so it goes out at
    most once however many fetches, cycles or processes see the paper."""

    __tablename__ = "follow_notices"
    __table_args__ = (UniqueConstraint("follow_id", "paper_id", name="uq_follow_notice"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    follow_id: Mapped[int] = mapped_column(ForeignKey("follows.id", ondelete="CASCADE"))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(8))  # claimed -> posted | failed
    channel_id: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RevisionNotice(Base):
    """A new version of a paper in a workspace's library, announced once per (workspace,
    paper, version): in the thread it was first shared in, or to the users who saved it."""

    __tablename__ = "revision_notices"
    __table_args__ = (
        UniqueConstraint("team_id", "paper_id", "version", name="uq_revision_notice"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(8))  # claimed -> posted | failed
    target: Mapped[str | None] = mapped_column(Text)  # the thread ("C1 ts"), or the DM'd users
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# Tables defined outside this module (slack_sdk's installation and OAuth state stores),
# registered on Base.metadata for Alembic and the models-vs-migrations test: imported here,
# at the end (it needs Base), so whoever uses Base.metadata has them.
import storage.installations  # noqa: E402, F401
