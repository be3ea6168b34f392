"""OAuth mode end to end: install over real HTTP, answer with the workspace's own token,
survive a restart, refuse forged states, forget uninstalled workspaces, rotate tokens."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, func, select

from bot import oauth
from storage import installations as tables
from tests.conftest import POSTGRES_SKIP_REASON
from tests.listeners.support import Running, make_services, start
from tests.oauth.fake_oauth import CLIENT_ID, OAuthFakeSlack, token_of
from tests.oauth.support import (
    COOKIE,
    authorize_query,
    command_from,
    install,
    mention_from,
    oauth_services,
    send_json,
    uninstall_event,
)

ROOT = Path(__file__).resolve().parents[2]


def _answers(fake: OAuthFakeSlack, team_id: str) -> list:
    return fake.calls_with(team_id, "chat.postMessage")


def _rows(running: Running, table) -> int:
    with running.services.db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_install_then_a_mention_is_answered_with_that_workspaces_token(
    served: Running, fake: OAuthFakeSlack
) -> None:
    done = install(served, fake, "T0LAB2")
    assert done.status_code == 200 and "Thank you" in done.text, done.text

    # The authorize link: the manifest's scopes, our client id, a state; on SLACK_API_URL's host.
    (asked,) = fake.authorize_requests
    query = authorize_query(asked)
    assert query["client_id"] == CLIENT_ID
    assert query["scope"].split(",") == list(oauth.SCOPES)
    assert query["state"]
    # The code was exchanged once, with the app's credentials, on the fake.
    (exchange,) = fake.calls_to("oauth.v2.access")
    assert exchange.params["code"].startswith("code-T0LAB2-")
    (token,) = fake.tokens_of("T0LAB2")
    assert _rows(served, tables.installations) == 1 and _rows(served, tables.bots) == 1
    assert _rows(served, tables.oauth_states) == 0  # consumed

    send_json(served, mention_from("T0LAB2", "diffusion"))
    (answer,) = fake.wait_for(lambda: _answers(fake, "T0LAB2"))
    assert token_of(answer) == token and answer.params["channel"] == "C0GENERAL"
    # Nothing went out with any other token.
    assert {token_of(c) for c in fake.calls_to("chat.postMessage")} == {token}


def test_the_installation_survives_a_restart(
    db_url: str, tmp_path: Path, fake: OAuthFakeSlack
) -> None:
    first = start(oauth_services(db_url, tmp_path / "home", fake))
    try:
        assert install(first, fake, "T0LAB1").status_code == 200
    finally:
        first.stop()
    (token,) = fake.tokens_of("T0LAB1")
    again = start(oauth_services(db_url, tmp_path / "home", fake))
    try:
        send_json(again, mention_from("T0LAB1", "transformers"))
        (answer,) = fake.wait_for(lambda: _answers(fake, "T0LAB1"))
        assert token_of(answer) == token
    finally:
        again.stop()


@pytest.mark.parametrize("case", ["forged", "missing", "other_browser", "reused"])
def test_a_forged_or_missing_state_is_refused(
    served: Running, fake: OAuthFakeSlack, case: str
) -> None:
    import httpx

    code = fake.grant("T0LAB1")
    url = f"{served.url}/slack/oauth_redirect"
    with httpx.Client(timeout=10) as browser:
        if case == "forged":
            r = browser.get(url, params={"code": code, "state": "forged"},
                            headers={"Cookie": f"{COOKIE}=forged"})
        elif case == "missing":
            r = browser.get(url, params={"code": code})
        else:
            page = browser.get(f"{served.url}/slack/install")
            state = page.headers["set-cookie"].split(";")[0].split("=", 1)[1]
            if case == "other_browser":  # a real state, but not this browser's cookie
                r = browser.get(url, params={"code": code, "state": state})
            else:
                first = browser.get(url, params={"code": code, "state": state},
                                    headers={"Cookie": f"{COOKIE}={state}"})
                assert first.status_code == 200
                r = browser.get(url, params={"code": fake.grant("T0LAB1"), "state": state},
                                headers={"Cookie": f"{COOKIE}={state}"})
    assert r.status_code in (400, 401), r.status_code
    expected_exchanges = 1 if case == "reused" else 0
    assert len(fake.calls_to("oauth.v2.access")) == expected_exchanges
    assert _rows(served, tables.installations) == expected_exchanges


def test_a_workspace_without_an_installation_is_not_answered(
    served: Running, fake: OAuthFakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert send_json(served, mention_from("T0LAB1", "diffusion")).status_code == 200
    r = served.sender.send(
        command_from("T0LAB1", "diffusion", response_url=fake.response_url("nobody")),
        "application/x-www-form-urlencoded",
    )
    assert r.status_code == 200 and r.text == ""
    lines = [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert lines == [
        "no PaperBot installation for team T0LAB1 (enterprise -); request not answered"
    ] * 2
    assert not fake.calls_to("chat.postMessage") and not fake.response_posts
    assert not fake.calls_to("auth.test")


@pytest.mark.parametrize("kind", ["app_uninstalled", "tokens_revoked"])
def test_uninstall_forgets_the_workspace_and_reinstalling_works(
    served: Running, fake: OAuthFakeSlack, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    install(served, fake, "T0LAB1")
    install(served, fake, "T0LAB2")
    send_json(served, mention_from("T0LAB1", "diffusion"))
    fake.wait_for(lambda: _answers(fake, "T0LAB1"))

    fake.revoke_team("T0LAB1")
    assert send_json(served, uninstall_event("T0LAB1", kind)).status_code == 200
    fake.wait_for(lambda: _rows(served, tables.bots) == 1)
    assert _rows(served, tables.installations) == 1  # the other workspace's
    caplog.clear()
    send_json(served, mention_from("T0LAB1", "attention"))
    send_json(served, mention_from("T0LAB2", "attention"))
    fake.wait_for(lambda: _answers(fake, "T0LAB2"))
    assert len(_answers(fake, "T0LAB1")) == 1  # only the answer from before the uninstall
    assert any("no PaperBot installation for team T0LAB1" in r.getMessage() for r in caplog.records)

    assert install(served, fake, "T0LAB1").status_code == 200
    new_token = fake.tokens_of("T0LAB1")[-1]
    send_json(served, mention_from("T0LAB1", "retrieval"))
    fake.wait_for(lambda: len(_answers(fake, "T0LAB1")) == 2)
    assert token_of(_answers(fake, "T0LAB1")[-1]) == new_token


def test_a_rotating_token_is_refreshed_before_it_expires(
    served: Running, fake: OAuthFakeSlack
) -> None:
    fake.workspaces["T0LAB1"].rotating = True
    fake.workspaces["T0LAB1"].expires_in = 600  # inside the 2-hour refresh window
    install(served, fake, "T0LAB1")
    fake.workspaces["T0LAB1"].expires_in = 43_200  # the refreshed token lasts 12 hours
    (first,) = fake.tokens_of("T0LAB1")
    send_json(served, mention_from("T0LAB1", "diffusion"))
    (answer,) = fake.wait_for(lambda: _answers(fake, "T0LAB1"))
    refreshes = [c for c in fake.calls_to("oauth.v2.access")
                 if c.params.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1
    assert token_of(answer) != first and token_of(answer) in fake.tokens_of("T0LAB1")
    # The refreshed pair was saved: the digest's lookup finds the new token without a refresh.
    store = oauth.Installations(served.services.config, served.services.db)
    assert store.bot_token("T0LAB1") == token_of(answer)


def test_single_workspace_mode_has_no_install_pages(
    db_url: str, tmp_path: Path, fake: OAuthFakeSlack
) -> None:
    import httpx

    one = start(make_services(db_url, tmp_path / "home", fake))  # SLACK_BOT_TOKEN set
    try:
        assert one.app.oauth_flow is None and one.app.paperbot_installations is None
        assert httpx.get(f"{one.url}/slack/install").status_code == 404
        assert httpx.get(f"{one.url}/slack/oauth_redirect").status_code == 404
    finally:
        one.stop()


def test_install_pages_take_get_only(served: Running) -> None:
    import httpx

    assert httpx.post(f"{served.url}/slack/install").status_code == 405


def test_tables_are_the_ones_slack_sdk_builds() -> None:
    """Our frozen copies (storage/installations.py, migration 0006) match slack_sdk's."""
    md = MetaData()
    theirs = [
        SQLAlchemyInstallationStore.build_installations_table(md, tables.INSTALLATIONS),
        SQLAlchemyInstallationStore.build_bots_table(md, tables.BOTS),
        SQLAlchemyOAuthStateStore.build_oauth_states_table(md, tables.OAUTH_STATES),
    ]
    for table in theirs:
        ours = tables.installations.metadata.tables[table.name]
        assert [(c.name, repr(c.type), c.nullable, c.primary_key) for c in table.columns] == [
            (c.name, repr(c.type), c.nullable, c.primary_key) for c in ours.columns
        ]
        assert {(i.name, tuple(c.name for c in i.columns)) for i in table.indexes} == {
            (i.name, tuple(c.name for c in i.columns)) for i in ours.indexes
        }


def _manifest_list(text: str, key: str) -> list[str]:
    """The `- item` lines under `key:` in manifest.yml (no YAML parser in the test deps)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"{key}:")
    items = []
    for line in lines[start + 1:]:
        if not line.strip().startswith("- "):
            break
        items.append(line.strip()[2:].strip())
    return items


def test_scopes_and_redirect_url_are_the_manifests() -> None:
    text = (ROOT / "manifest.yml").read_text()
    assert list(oauth.SCOPES) == _manifest_list(text, "bot")
    assert [u for u in _manifest_list(text, "redirect_urls") if u.endswith(oauth.REDIRECT_PATH)]


def test_authorize_page_follows_slack_api_url() -> None:
    assert oauth.authorization_url("https://slack.com/api/") == (
        "https://slack.com/oauth/v2/authorize"
    )
    assert oauth.authorization_url("http://127.0.0.1:9/api/") == (
        "http://127.0.0.1:9/oauth/v2/authorize"
    )


def test_an_expired_state_is_refused_and_forgotten(
    served: Running, fake: OAuthFakeSlack
) -> None:
    """An install link left open longer than ten minutes no longer works, and abandoned
    states do not pile up: the next visit of the install page deletes expired ones."""
    import httpx

    url = f"{served.url}/slack/oauth_redirect"
    with httpx.Client(timeout=10) as browser:
        page = browser.get(f"{served.url}/slack/install")
        old = page.headers["set-cookie"].split(";")[0].split("=", 1)[1]
        assert _rows(served, tables.oauth_states) == 1
        # The link was opened eleven minutes ago (slack_sdk stores naive UTC).
        issued = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=11)
        with served.services.db.engine.begin() as conn:
            conn.execute(tables.oauth_states.update().values(
                expire_at=issued + timedelta(seconds=oauth.STATE_SECONDS)))
        r = browser.get(url, params={"code": fake.grant("T0LAB1"), "state": old},
                        headers={"Cookie": f"{COOKIE}={old}"})
        assert r.status_code == 401
        browser.get(f"{served.url}/slack/install")
    with served.services.db.engine.connect() as conn:
        states = conn.execute(select(tables.oauth_states.c.state)).scalars().all()
    assert len(states) == 1 and old not in states
    assert not fake.calls_to("oauth.v2.access")


@pytest.mark.skipif(bool(POSTGRES_SKIP_REASON), reason=POSTGRES_SKIP_REASON or "")
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_database_down_commands_get_the_message_and_events_are_left_for_a_retry(
    db_url: str, tmp_path: Path, fake: OAuthFakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """The workspace tokens live in the database: with PostgreSQL gone, a command still
    gets the database message on its response_url, a mention gets a 503 so Slack re-sends
    it, and the log gets one line, no traceback."""
    from sqlalchemy.engine import make_url

    from bot.listeners.failures import DATABASE_DOWN, throttled
    from tests.fakes.tcp_proxy import TcpProxy
    from tests.listeners.support import responses, texts

    throttled._seen.clear()
    url = make_url(db_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    running = start(oauth_services(through, tmp_path / "home", fake))
    try:
        install(running, fake, "T0LAB1")
        proxy.close()
        caplog.clear()
        caplog.set_level(logging.INFO)
        for i in range(3):
            body = command_from("T0LAB1", "diffusion", response_url=fake.response_url(f"d{i}"))
            r = running.sender.send(body, "application/x-www-form-urlencoded")
            assert r.status_code == 200
        assert send_json(running, mention_from("T0LAB1", "diffusion")).status_code == 503
        fake.wait_for(lambda: all(responses(fake, f"d{i}") for i in range(3)), timeout=20)
    finally:
        running.stop()
        proxy.close()
    for i in range(3):
        [answer] = responses(fake, f"d{i}")
        assert DATABASE_DOWN in " ".join(texts(answer))
    assert not fake.calls_to("chat.postMessage")
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert len(problems) == 1 and "database unreachable" in problems[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info]
