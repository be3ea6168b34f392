"""One engine and session factory per process; sessions are scoped to a unit of work.

SQLite (the embedded default) runs in WAL mode with a busy timeout so the web process,
the scheduler and a CLI import can share the file. Writers take `lock_writes()` first:
on PostgreSQL an advisory lock, on SQLite the database write lock. Serialized writers
make the papers' `rev` counter commit in order, which is what lets every replica's
search index follow changes with a simple `rev > last_seen` query.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Meta

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 15_000
WRITE_LOCK_KEY = 0x5041504552  # "PAPER": the advisory lock id shared by all writers


class DatabaseError(RuntimeError):
    """The database cannot be reached or used; the message says what to do."""


def redact_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


PG_CONNECT_ARGS = {
    "connect_timeout": 3,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
}


def _normalize_url(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Engine:
    url = _normalize_url(url)
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        # A down or black-holed server must fail a request within seconds (the receipt claim
        # runs before Slack's 3-second ack), not after the OS's TCP timeouts. Settings given
        # in the URL's query win.
        fail_fast = {k: v for k, v in PG_CONNECT_ARGS.items() if k not in u.query}
        return create_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=10, pool_timeout=10,
            connect_args=fail_fast,
        )

    if u.database and u.database != ":memory:":
        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (SQLAlchemy's
        # documented recipe), so reads inside a unit of work share one snapshot.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # "BEGIN IMMEDIATE" (write lock up front) where a caller asks for it, e.g. migrations.
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))

    return engine


class Database:
    """The process's engine + session factory. Build one and pass it around."""

    def __init__(self, url: str, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
        self.url = _normalize_url(url)
        self.engine = make_engine(self.url, busy_timeout_ms=busy_timeout_ms)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._migrated = False
        self._migrate_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def migrate(self) -> bool:
        """Bring the schema to the newest migration (safe when replicas start together).

        Returns True when the database had no PaperBot schema before this call, i.e. it was
        created just now: callers decide whether that is expected (the embedded default) or
        a sign of a wrong or lost DATABASE_URL.
        """
        with self._migrate_lock:
            if self._migrated:
                return False
            from storage.migrate import upgrade_to_head

            try:
                with self.engine.connect() as conn:
                    created = not inspect(conn).has_table("papers")
                upgrade_to_head(self)
            except OperationalError as exc:
                raise DatabaseError(
                    f"cannot open the database at {self.safe_url}: {explain(exc)}"
                ) from None
            self._migrated = True
            return created

    def instance_id(self) -> str:
        """A random id minted with the schema: tells persisted indexes which database they fit."""
        with self.session() as s:
            value = s.scalar(select(Meta.value).where(Meta.key == "instance_id"))
            if value:
                return value
        # A fresh transaction that locks before reading: on SQLite, upgrading a read
        # snapshot to a write fails at once if another process wrote in between.
        with self.session() as s:
            lock_writes(s)
            value = s.scalar(select(Meta.value).where(Meta.key == "instance_id"))
            if not value:
                value = uuid.uuid4().hex
                s.add(Meta(key="instance_id", value=value))
            return value

    def dispose(self) -> None:
        self.engine.dispose()


def explain(exc: OperationalError) -> str:
    """One line for users: the driver's reason, plus what to do about a lock."""
    reason = (str(exc.orig).strip().splitlines() or ["unknown error"])[0] if exc.orig else str(exc)
    if "locked" in reason or "busy" in reason:
        reason += ". Another process holds the write lock; try again when it has finished"
    return reason


def lock_writes(session: Session) -> None:
    """Serialize writers for the rest of this transaction (see module docstring)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
    else:
        # Any write takes SQLite's single write lock (waiting up to busy_timeout).
        session.execute(text("UPDATE meta SET value = value WHERE key = 'write_lock'"))
