"""Typed SQLAlchemy 2.x models. Schema changes go through storage/migrations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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
    # Stable identity: "arxiv:<id>" when the arXiv id is known, else "title:<hash of normalized title>".
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


# --- Slack events (issue 3): models below this line belong to the Slack app ---


class SlackEventReceipt(Base):
    """One row per Slack event_id answered, so retries and other replicas skip it."""

    __tablename__ = "slack_event_receipts"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


# --- Digest (issue 4): models below this line belong to the daily digest ---
