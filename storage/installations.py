"""Slack installations, bot tokens and OAuth states: the tables slack_sdk's SQLAlchemy stores use.

Defined here, on our Base.metadata, with slack_sdk's default names and columns
(SQLAlchemyInstallationStore.build_installations_table / build_bots_table and
SQLAlchemyOAuthStateStore.build_oauth_states_table, slack_sdk 3.48), so that migration
0006 creates them, the models-vs-migrations test covers them, and every replica sharing
DATABASE_URL shares the installations. bot/oauth.py hands these Table objects to the
slack_sdk stores; tests/oauth checks that they still match what slack_sdk builds.

The columns are naive DateTime because slack_sdk writes naive UTC (normalize_datetime_for_db)
and compares installed_at for equality when it saves.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    Table,
    func,
)

from storage.models import Base

INSTALLATIONS = "slack_installations"
BOTS = "slack_bots"
OAUTH_STATES = "slack_oauth_states"

installations = Table(
    INSTALLATIONS,
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index(
        f"{INSTALLATIONS}_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"
    ),
)

bots = Table(
    BOTS,
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index(f"{BOTS}_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

oauth_states = Table(
    OAUTH_STATES,
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)


def forget_team(engine: Engine, client_id: str | None, team_id: str) -> int:
    """Delete a team's installation and bot rows in whatever Enterprise Grid org they were
    stored (team ids are unique across Slack); how many rows went. An org-wide install
    (team_id NULL) is not this team's: it stays."""
    with engine.begin() as conn:
        return sum(
            conn.execute(
                t.delete().where(t.c.client_id == client_id, t.c.team_id == team_id)
            ).rowcount or 0
            for t in (bots, installations)
        )


def forget_enterprise(engine: Engine, client_id: str | None, enterprise_id: str) -> int:
    """Delete every installation and bot row of an Enterprise Grid org (the app left the
    org); how many rows went."""
    with engine.begin() as conn:
        return sum(
            conn.execute(
                t.delete().where(t.c.client_id == client_id, t.c.enterprise_id == enterprise_id)
            ).rowcount or 0
            for t in (bots, installations)
        )
