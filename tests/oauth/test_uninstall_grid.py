"""Uninstalls in an Enterprise Grid org (issue 17): an event that names only the team, or
only the enterprise, still forgets the installations it is about, and the log says what was
forgotten. Installs over real HTTP, uninstall events signed, rows counted in SQL."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import select

from storage import installations as tables
from tests.listeners.support import Running
from tests.oauth.fake_oauth import OAuthFakeSlack
from tests.oauth.support import install, send_json, uninstall_event


def _installed(running: Running) -> dict[str, set[tuple[str | None, str | None]]]:
    """(enterprise_id, team_id) of every installation and bot row."""
    out = {}
    with running.services.db.engine.connect() as conn:
        for name, table in (("installations", tables.installations), ("bots", tables.bots)):
            rows = conn.execute(select(table.c.enterprise_id, table.c.team_id)).all()
            out[name] = {(r.enterprise_id, r.team_id) for r in rows}
    return out


def _grid(fake: OAuthFakeSlack, served: Running) -> None:
    fake.add_workspace("T0GRID1", "Grid Lab 1", enterprise_id="E0ORG")
    fake.add_workspace("T0GRID2", "Grid Lab 2", enterprise_id="E0ORG")
    for team in ("T0GRID1", "T0GRID2", "T0LAB1"):
        assert install(served, fake, team).status_code == 200
    assert _installed(served)["bots"] == {
        ("E0ORG", "T0GRID1"), ("E0ORG", "T0GRID2"), (None, "T0LAB1")}


def _enterprise_only(kind: str) -> bytes:
    """The event of an org-level uninstall: the enterprise, and no team."""
    body: dict[str, Any] = json.loads(uninstall_event("T0GRID1", kind))
    body["team_id"] = body["context_team_id"] = None
    body["enterprise_id"] = body["context_enterprise_id"] = "E0ORG"
    body["authorizations"] = [{"enterprise_id": "E0ORG", "team_id": None,
                               "user_id": "UBOTT0GRID1", "is_bot": True,
                               "is_enterprise_install": True}]
    return json.dumps(body).encode()


@pytest.mark.parametrize("kind", ["app_uninstalled", "tokens_revoked"])
def test_an_uninstall_naming_only_the_team_forgets_its_grid_installation(
    served: Running, fake: OAuthFakeSlack, kind: str
) -> None:
    _grid(fake, served)
    # uninstall_event names the team only (no enterprise_id anywhere in the body)
    assert send_json(served, uninstall_event("T0GRID1", kind)).status_code == 200
    fake.wait_for(lambda: ("E0ORG", "T0GRID1") not in _installed(served)["bots"])
    assert _installed(served) == {
        "installations": {("E0ORG", "T0GRID2"), (None, "T0LAB1")},
        "bots": {("E0ORG", "T0GRID2"), (None, "T0LAB1")},
    }


@pytest.mark.parametrize("kind", ["app_uninstalled", "tokens_revoked"])
def test_an_uninstall_naming_only_the_enterprise_forgets_the_orgs_installations(
    served: Running, fake: OAuthFakeSlack, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    _grid(fake, served)
    caplog.set_level(logging.INFO)
    assert send_json(served, _enterprise_only(kind)).status_code == 200
    fake.wait_for(lambda: _installed(served)["bots"] == {(None, "T0LAB1")})
    assert _installed(served)["installations"] == {(None, "T0LAB1")}
    lines = [r.getMessage() for r in caplog.records if "forgotten" in r.getMessage()]
    assert lines and all("E0ORG" in line for line in lines)


def test_an_uninstall_with_nothing_installed_does_not_claim_it_forgot_something(
    served: Running, fake: OAuthFakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert send_json(served, uninstall_event("T0NOBODY")).status_code == 200
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "installation forgotten" in m]
    assert any("T0NOBODY" in m and "nothing to forget" in m for m in messages)
