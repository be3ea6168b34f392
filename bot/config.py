"""Every setting PaperBot reads from the environment, in one place.

Defaults give the embedded mode: a SQLite file in the user's data directory and
no Slack credentials (the CLI works; `paperbot serve` asks for them).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_HF_API_URL = "https://huggingface.co/api"
DEFAULT_ARXIV_API_URL = "https://export.arxiv.org/api"
DEFAULT_ARXIV_RSS_URL = "https://rss.arxiv.org/rss"
DEFAULT_ARXIV_OAI_URL = "https://oaipmh.arxiv.org/oai"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
# URL schemes PaperBot can open: postgres(ql):// is mapped to psycopg 3 by storage.db.
_DRIVERS = frozenset(
    {"sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg"}
)


class Secret(str):
    """A string that never shows its value in repr/logs (tokens, signing secret)."""

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"


def default_home(env: Mapping[str, str]) -> Path:
    if env.get("PAPERBOT_HOME"):
        return Path(env["PAPERBOT_HOME"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "paperbot"


def _int(env: Mapping[str, str], name: str, default: int, lo: int = 1, hi: int = 1_000_000) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _seconds(
    env: Mapping[str, str], name: str, default: float, hi: float = 86_400.0
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    # float() also accepts "nan" and "inf", which would make every timer meaningless.
    if not math.isfinite(value) or not 0 < value <= hi:
        raise ConfigError(f"{name} must be a number of seconds between 0 and {hi:g}, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool | None:
    """True/False for the usual spellings, None when unset; anything else is a typo to report
    (a silent "yes" for "flase" would run a scheduler or seed a database nobody asked for)."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of 1/true/yes/on or 0/false/no/off, got {raw!r}")


def _http_url(env: Mapping[str, str], name: str, default: str) -> str:
    """An http(s) base URL; the error never repeats the value (it may carry credentials)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise ConfigError(f"{name} is not a valid URL (expected e.g. {default})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http:// or https:// URL with a host, e.g. {default}")
    return raw


def _hhmm(env: Mapping[str, str], name: str, default: str) -> str:
    """A 24-hour HH:MM, normalised to two digits each ("7:30" -> "07:30")."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", raw)
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise ConfigError(f"{name} must be a 24-hour time HH:MM such as 09:00, got {raw!r}")
    return f"{int(m[1]):02d}:{m[2]}"


def _log_level(env: Mapping[str, str], name: str) -> str:
    raw = env.get(name, "").strip().upper()
    if not raw:
        return "INFO"
    raw = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(raw, raw)
    if raw not in LOG_LEVELS:
        raise ConfigError(f"{name} must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return raw


def _database_url(env: Mapping[str, str], name: str) -> str | None:
    """The configured URL, checked now so a typo fails at start-up with the variable's name
    rather than deep inside SQLAlchemy (the message never repeats it: it may hold a password)."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if raw.startswith("sqlite:///") and not any(c in raw for c in "?%#"):
        return raw  # a plain SQLite file: nothing to check, and no SQLAlchemy to import
    # Imported here: a SQLite search must not pay for SQLAlchemy at start-up (it answers
    # without it, see bot.services.open_search_only).
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(raw)
        backend = url.get_backend_name()
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"{name} is not a database URL (expected e.g. sqlite:///path/to/paperbot.db "
            "or postgresql://user@host/dbname)"
        ) from None
    if backend == "postgres":  # the Heroku spelling, mapped to postgresql+psycopg by storage
        backend = "postgresql"
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"{name} uses the unsupported backend {backend!r}; PaperBot runs on sqlite:///… "
            "or postgresql://…"
        )
    if url.drivername not in _DRIVERS:
        raise ConfigError(
            f"{name} asks for the driver {url.drivername!r}, which PaperBot does not ship; use "
            "sqlite:///… or postgresql://… (PaperBot connects with psycopg 3)"
        )
    return raw


def _token(env: Mapping[str, str], name: str, prefix: str) -> Secret:
    """A Slack token; a wrong kind (e.g. a user token for the bot token) is named, not shown."""
    raw = env.get(name, "").strip()
    if raw and not raw.startswith(prefix):
        raise ConfigError(f"{name} must be a Slack token starting with {prefix}")
    return Secret(raw)


def _oauth_credentials(env: Mapping[str, str]) -> tuple[str, Secret]:
    """SLACK_CLIENT_ID and SLACK_CLIENT_SECRET: both or neither (one alone is a half-done
    set-up that would otherwise surface as a failed install much later)."""
    client_id = env.get("SLACK_CLIENT_ID", "").strip()
    secret = Secret(env.get("SLACK_CLIENT_SECRET", "").strip())
    if client_id and not secret:
        raise ConfigError(
            "SLACK_CLIENT_ID is set but SLACK_CLIENT_SECRET is not; OAuth needs both "
            "(Basic Information → App Credentials at https://api.slack.com/apps)"
        )
    if secret and not client_id:
        raise ConfigError(
            "SLACK_CLIENT_SECRET is set but SLACK_CLIENT_ID is not; OAuth needs both "
            "(Basic Information → App Credentials at https://api.slack.com/apps)"
        )
    if client_id and not re.fullmatch(r"[0-9]+\.[0-9]+", client_id):
        raise ConfigError(
            "SLACK_CLIENT_ID must look like 1234567890.1234567890 (Basic Information → "
            "App Credentials → Client ID)"
        )
    return client_id, secret


class ConfigError(ValueError):
    """A setting is present but unusable; the message names the variable."""


def _arxiv_categories(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """arXiv categories separated by commas or spaces (cs.CL cs.LG), in order, once each."""
    from bot.sources.taxonomy import UnknownCategory, category

    words = [w for w in re.split(r"[\s,+]+", env.get(name, "").strip()) if w]
    try:
        return tuple(dict.fromkeys(category(w) for w in words))
    except UnknownCategory as exc:
        raise ConfigError(
            f"{name} must be arXiv categories separated by commas, e.g. cs.CL,cs.LG: {exc}"
        ) from None


def _reactions(env: Mapping[str, str], name: str, default: str) -> frozenset[str]:
    """A comma-separated set of emoji names (as Slack sends them: `+1`, `fire`, no colons)."""
    raw = env.get(name, "").strip() or default
    names = {n.strip().strip(":").lower() for n in raw.split(",") if n.strip().strip(":")}
    if not names or any(not re.fullmatch(r"[a-z0-9_+\-']{1,64}(::skin-tone-\d)?", n)
                        for n in names):
        raise ConfigError(f"{name} must be emoji names separated by commas, e.g. {default}")
    return frozenset(names)


@dataclass(frozen=True)
class Config:
    """Every setting, validated: `from_env` raises ConfigError naming the bad variable."""

    home: Path
    database_url: str
    index_dir: Path
    # True when DATABASE_URL is unset and the SQLite file under `home` is used: only that
    # database is a personal sandbox that may be filled with the sample corpus by itself.
    embedded_database: bool = True
    slack_bot_token: Secret = field(default=Secret(""), repr=False)
    slack_signing_secret: Secret = field(default=Secret(""), repr=False)
    slack_app_token: Secret = field(default=Secret(""), repr=False)
    # OAuth (distributed app): with both set and no SLACK_BOT_TOKEN, any workspace installs
    # PaperBot through /slack/install and each gets its own bot token (bot/oauth.py).
    slack_client_id: str = ""
    slack_client_secret: Secret = field(default=Secret(""), repr=False)
    slack_redirect_uri: str | None = None  # else Slack uses the app's only redirect URL
    slack_api_url: str = DEFAULT_SLACK_API_URL
    hf_api_url: str = DEFAULT_HF_API_URL
    arxiv_api_url: str = DEFAULT_ARXIV_API_URL  # paper links: metadata not on the Hub
    # arXiv's daily announcements (bot/sources): RSS feeds, OAI-PMH backfill, the categories
    # `paperbot fetch-arxiv` reads by default, and the spacing of requests to arXiv shared
    # by every process on the database (arXiv's terms: one request every 3 s).
    arxiv_rss_url: str = DEFAULT_ARXIV_RSS_URL
    arxiv_oai_url: str = DEFAULT_ARXIV_OAI_URL
    arxiv_categories: tuple[str, ...] = ()
    arxiv_pace_seconds: float = 3.0
    port: int = 3000
    results_per_page: int = 5
    digest_size: int = 5
    digest_default_time: str = "09:00"
    digest_lease_seconds: float = 300.0
    digest_interval_seconds: float = 300.0
    run_scheduler: bool = True
    # Load the sample corpus into an empty database: PAPERBOT_SEED when set, else only for
    # the embedded database (a configured one that is empty is reported, never filled).
    seed_sample_corpus: bool = True
    log_level: str = "INFO"
    db_busy_timeout_ms: int = 15_000
    # Recommendations and feedback (issue 10)
    recommend_days: int = 30
    positive_reactions: frozenset[str] = frozenset({"+1", "thumbsup", "heart", "fire", "star"})
    negative_reactions: frozenset[str] = frozenset({"-1", "thumbsdown"})

    @property
    def oauth(self) -> bool:
        """OAuth mode: tokens come from the installation store, one per workspace.

        SLACK_BOT_TOKEN wins when it is set too, so a single-workspace deployment that also
        carries the app's client id and secret keeps working as before."""
        return bool(self.slack_client_id and self.slack_client_secret) and not self.slack_bot_token

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        home = default_home(env)
        configured_url = _database_url(env, "DATABASE_URL")
        database_url = configured_url or f"sqlite:///{home / 'paperbot.db'}"
        index_dir = Path(env["PAPERBOT_INDEX_DIR"]).expanduser() if env.get(
            "PAPERBOT_INDEX_DIR"
        ) else home / "index"
        seed = _bool(env, "PAPERBOT_SEED")
        scheduler = _bool(env, "PAPERBOT_SCHEDULER")
        slack_api_url = _http_url(env, "SLACK_API_URL", DEFAULT_SLACK_API_URL)
        client_id, client_secret = _oauth_credentials(env)
        redirect_uri = (
            _http_url(env, "SLACK_REDIRECT_URI", "https://YOUR-HOST/slack/oauth_redirect")
            if env.get("SLACK_REDIRECT_URI", "").strip()
            else None
        )
        return cls(
            home=home,
            database_url=database_url,
            index_dir=index_dir,
            embedded_database=configured_url is None,
            slack_bot_token=_token(env, "SLACK_BOT_TOKEN", "xoxb-"),
            slack_signing_secret=Secret(env.get("SLACK_SIGNING_SECRET", "").strip()),
            slack_app_token=_token(env, "SLACK_APP_TOKEN", "xapp-"),
            slack_client_id=client_id,
            slack_client_secret=client_secret,
            slack_redirect_uri=redirect_uri,
            # The Slack SDK joins method names onto the base: without the slash,
            # ".../api" + "chat.postMessage" would call ".../apichat.postMessage".
            slack_api_url=slack_api_url.rstrip("/") + "/",
            hf_api_url=_http_url(env, "HF_API_URL", DEFAULT_HF_API_URL).rstrip("/"),
            arxiv_api_url=_http_url(env, "ARXIV_API_URL", DEFAULT_ARXIV_API_URL).rstrip("/"),
            arxiv_rss_url=_http_url(
                env, "PAPERBOT_ARXIV_RSS_URL", DEFAULT_ARXIV_RSS_URL
            ).rstrip("/"),
            arxiv_oai_url=_http_url(env, "PAPERBOT_ARXIV_OAI_URL", DEFAULT_ARXIV_OAI_URL),
            arxiv_categories=_arxiv_categories(env, "PAPERBOT_ARXIV_CATEGORIES"),
            arxiv_pace_seconds=_seconds(env, "PAPERBOT_ARXIV_PACE", 3.0, hi=60.0),
            port=_int(env, "PORT", 3000, 1, 65535),
            results_per_page=_int(env, "PAPERBOT_RESULTS", 5, 1, 20),
            digest_size=_int(env, "PAPERBOT_DIGEST_SIZE", 5, 1, 20),
            digest_default_time=_hhmm(env, "PAPERBOT_DIGEST_TIME", "09:00"),
            digest_lease_seconds=_seconds(env, "PAPERBOT_DIGEST_LEASE", 300.0),
            digest_interval_seconds=_seconds(env, "PAPERBOT_DIGEST_INTERVAL", 300.0),
            run_scheduler=True if scheduler is None else scheduler,
            seed_sample_corpus=configured_url is None if seed is None else seed,
            log_level=_log_level(env, "LOG_LEVEL"),
            db_busy_timeout_ms=_int(env, "PAPERBOT_DB_BUSY_TIMEOUT_MS", 15_000, 0, 600_000),
            recommend_days=_int(env, "PAPERBOT_RECOMMEND_DAYS", 30, 1, 3650),
            positive_reactions=_reactions(
                env, "PAPERBOT_POSITIVE_REACTIONS", "+1,thumbsup,heart,fire,star"
            ),
            negative_reactions=_reactions(env, "PAPERBOT_NEGATIVE_REACTIONS", "-1,thumbsdown"),
        )
