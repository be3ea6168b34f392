"""OAuth mode: any workspace installs PaperBot with "Add to Slack"; each keeps its own token.

Bolt serves /slack/install (a state stored in the database, the same value in a cookie, and a
link to Slack's oauth/v2/authorize with the manifest's scopes) and /slack/oauth_redirect
(state checked and consumed, code exchanged through oauth.v2.access, installation saved).
Installations and states live in slack_sdk's SQLAlchemy stores on DATABASE_URL (tables from
storage/installations.py, created by migration 0006), so every replica sees every install.

Every Slack call, OAuth included, goes to SLACK_API_URL: the authorize page is derived from
it ("https://slack.com/api/" -> "https://slack.com/oauth/v2/authorize"), and the clients that
exchange codes and refresh tokens are ours (bot.slack_api.make_client).

Token rotation: when the app has it on, oauth.v2.access answers with a refresh token and an
expiry; Bolt refreshes a listener's token (InstallationStoreAuthorize) and the digest
refreshes through `Installations.bot_token` (slack_sdk's TokenRotator) once the token is
within ROTATE_BEFORE_MINUTES of expiring, saving the new pair for every replica.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from slack_bolt import BoltContext, BoltResponse
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation.rotator import TokenRotator
from sqlalchemy import desc, select
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Config
from bot.slack_api import make_client
from storage import installations as tables
from storage.db import Database

log = logging.getLogger(__name__)
# Database-outage replies on response_urls, off Bolt's ack threads (bounded: 2 at a time).
_outage_replies = ThreadPoolExecutor(2, thread_name_prefix="paperbot-oauth-outage")

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# The bot scopes of manifest.yml, in its order: what "Add to Slack" asks for. A scope added
# there goes here too (tests/oauth/test_install.py fails until they agree).
SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "app_mentions:read",
    "channels:join",
    "channels:read",
    "groups:read",
    "users:read",
    "channels:history",
    "groups:history",
    "reactions:read",
    "im:write",
    "im:history",
    "links:read",
    "links:write",
    "files:write",
)
STATE_SECONDS = 600  # how long an install link stays usable (Bolt's default)
ROTATE_BEFORE_MINUTES = 120  # refresh a rotating token this long before it expires
# Events that end our access to a workspace: its installation is forgotten.
UNINSTALL_EVENTS = ("app_uninstalled", "tokens_revoked")


def authorization_url(api_url: str) -> str:
    """Slack's authorize page on the same host as the Web API (the fake Slack in tests)."""
    parts = urlsplit(api_url)
    path = parts.path.rstrip("/")
    if path.endswith("/api"):
        path = path[: -len("/api")]
    return urlunsplit((parts.scheme, parts.netloc, path + "/oauth/v2/authorize", "", ""))


class Installations(SQLAlchemyInstallationStore):
    """slack_sdk's SQLAlchemy installation store on our engine and our migrated tables.

    Never call create_tables(): migration 0006 owns the schema.
    """

    def __init__(self, config: Config, db: Database) -> None:
        super().__init__(client_id=config.slack_client_id, engine=db.engine, logger=log)
        self.metadata = tables.installations.metadata
        self.installations = tables.installations
        self.bots = tables.bots
        self._rotator = TokenRotator(
            client_id=config.slack_client_id,
            client_secret=str(config.slack_client_secret),
            client=make_client(None, config.slack_api_url, retry_connections=False),
        )

    def forget(self, enterprise_id: str | None, team_id: str | None) -> int:
        """Uninstalled or bot token revoked: drop the installation and bot rows it is about,
        so nothing answers or posts there until it is installed again. How many rows went.

        slack_sdk's delete_* match enterprise_id and team_id exactly (None as IS NULL), but
        Slack's uninstall events do not always name both: a team's event may lack the
        Enterprise Grid org its installation was stored with, and an org-level one names
        no team. So: a team id (unique across Slack) forgets that team's rows whatever
        their org; an enterprise id alone forgets every row of that org."""
        if team_id:
            return tables.forget_team(self.engine, self.client_id, team_id)
        if enterprise_id:
            return tables.forget_enterprise(self.engine, self.client_id, enterprise_id)
        return 0

    def team_bot(self, team_id: str) -> Bot | None:
        """The latest bot installed in `team_id`, whichever Enterprise Grid org it sits in
        (subscriptions know their team only)."""
        c = tables.bots.c
        query = (
            select(c.enterprise_id)
            .where(c.client_id == self.client_id, c.team_id == team_id, c.bot_token.is_not(None))
            .order_by(desc(c.installed_at))
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return self.find_bot(enterprise_id=row.enterprise_id, team_id=team_id)

    def bot_token(self, team_id: str) -> str | None:
        """The workspace's bot token for calls outside a request (the digest), refreshed
        first when it rotates and is close to expiring; None when not installed."""
        bot = self.team_bot(team_id)
        if bot is None:
            return None
        if bot.bot_refresh_token:
            fresh = self._rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=ROTATE_BEFORE_MINUTES
            )
            if fresh is not None:
                self.save_bot(fresh)
                bot = fresh
        return bot.bot_token


class States(SQLAlchemyOAuthStateStore):
    """slack_sdk's OAuth state store on our engine and migrated table (one use, 10 minutes).

    slack_sdk deletes a state only when it is used; each visit of the (public) install page
    adds one, so expired ones are deleted whenever a new one is issued: the table holds at
    most ten minutes of visits.
    """

    def __init__(self, db: Database) -> None:
        super().__init__(expiration_seconds=STATE_SECONDS, engine=db.engine, logger=log)
        self.metadata = tables.oauth_states.metadata
        self.oauth_states = tables.oauth_states

    def issue(self, *args: Any, **kwargs: Any) -> str:
        now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC, as slack_sdk writes it
        c = self.oauth_states.c
        with self.engine.begin() as conn:
            conn.execute(self.oauth_states.delete().where(c.expire_at <= now))
        return super().issue(*args, **kwargs)


def oauth_settings(config: Config, store: Installations, db: Database) -> OAuthSettings:
    """Bolt's install and redirect pages for this deployment (everything explicit: Bolt
    would otherwise read SLACK_SCOPES / SLACK_REDIRECT_URI from the environment itself)."""
    return OAuthSettings(
        client_id=config.slack_client_id,
        client_secret=str(config.slack_client_secret),
        scopes=list(SCOPES),
        user_scopes=[],
        redirect_uri=config.slack_redirect_uri,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=authorization_url(config.slack_api_url),
        installation_store=store,
        state_store=States(db),
        state_expiration_seconds=STATE_SECONDS,
        token_rotation_expiration_minutes=ROTATE_BEFORE_MINUTES,
        logger=log,
    )


def authorize(config: Config, store: Installations) -> InstallationStoreAuthorize:
    """Bolt's per-request token lookup (with token rotation), its refresh calls on our
    Slack client; the auth.test behind each token is cached per token."""
    return InstallationStoreAuthorize(
        logger=log,
        installation_store=store,
        client_id=config.slack_client_id,
        client_secret=str(config.slack_client_secret),
        token_rotation_expiration_minutes=ROTATE_BEFORE_MINUTES,
        cache_enabled=True,
        client=make_client(None, config.slack_api_url, retry_connections=False),
    )


def _uninstalls(body: dict) -> bool:
    """app_uninstalled, or tokens_revoked naming the bot token (user tokens are not ours)."""
    event = body.get("event") or {}
    if body.get("type") != "event_callback" or event.get("type") not in UNINSTALL_EVENTS:
        return False
    return event["type"] == "app_uninstalled" or bool((event.get("tokens") or {}).get("bot"))


def _needs_no_token(body: dict) -> bool:
    return body.get("type") in ("url_verification", "ssl_check") or (
        body.get("type") == "event_callback"
        and (body.get("event") or {}).get("type") in (*UNINSTALL_EVENTS, "team_access_revoked")
    )


def installed_only(
    store: Installations,
) -> Callable[[dict, BoltContext, Callable[[], BoltResponse]], BoltResponse | None]:
    """Bolt's before_authorize middleware: a request from a workspace with no installation
    gets an empty 200 and one log line, and no answer (Bolt would reply "please install"
    to commands and log a line that does not say which workspace)."""

    def middleware(
        body: dict, context: BoltContext, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        if _needs_no_token(body) or (context.team_id is None and context.enterprise_id is None):
            return next()
        try:
            bot = store.find_bot(
                enterprise_id=context.enterprise_id,
                team_id=context.team_id,
                is_enterprise_install=context.is_enterprise_install,
            )
        except SQLAlchemyError as exc:
            return _database_down(exc, context)
        if bot is None:
            log.warning(
                "no PaperBot installation for team %s (enterprise %s); request not answered",
                context.team_id, context.enterprise_id or "-",
            )
            return BoltResponse(status=200, body="")
        return next()

    return middleware


def _database_down(exc: SQLAlchemyError, context: BoltContext) -> BoltResponse:
    """The tokens live in the database: with it down, a command or click still gets the
    database message on its response_url (no token needed, sent off the ack path), and an
    event gets a 503 so that Slack re-sends it later. One throttled log line, no traceback."""
    from bot.listeners.failures import DATABASE_DOWN, database_trouble

    database_trouble(exc, "looking up the workspace's installation")
    respond = context.respond
    if context.response_url and respond is not None:
        _outage_replies.submit(_tell, respond, DATABASE_DOWN)
        return BoltResponse(status=200, body="")
    return BoltResponse(status=503, body="")


def _tell(respond: Callable[..., Any], text: str) -> None:
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as exc:  # Slack unreachable too: nothing more to do
        log.warning("could not send the database message (%s)", type(exc).__name__)


def forget_uninstalled(
    store: Installations,
) -> Callable[[dict, BoltContext, Callable[[], BoltResponse]], BoltResponse | None]:
    """App middleware: app_uninstalled / tokens_revoked (bot) forget the installation before
    the listeners in bot/listeners/events.py switch the workspace's digests off. Deleting
    twice is harmless, so Slack's retries and other replicas may run it again."""

    def middleware(
        body: dict, context: BoltContext, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        if _uninstalls(body):
            team_id = context.team_id or body.get("team_id")
            enterprise_id = context.enterprise_id or body.get("enterprise_id")
            kind = (body.get("event") or {}).get("type")
            rows = store.forget(enterprise_id, team_id)
            if rows:
                log.warning("team %s: %s; installation forgotten (enterprise %s, %d rows)",
                            team_id or "-", kind, enterprise_id or "-", rows)
            else:
                log.info("team %s: %s; nothing to forget (enterprise %s: not installed)",
                         team_id or "-", kind, enterprise_id or "-")
        return next()

    return middleware
