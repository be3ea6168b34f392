"""Answer each Slack request once: events by event_id, commands and clicks by trigger_id.

The middleware claims the request before Bolt acks it (storage/events.py); the answer,
wherever it finishes, settles the receipt: `answered()` when the user got it, or
`unanswered()` when it was lost (Slack refused it, a lane was full), so a retry of the same
request may answer it at once instead of waiting out the claim's grace period.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.listeners.failures import database_trouble
from storage.db import Database
from storage.events import claim, mark_answered, new_owner, owner_is_gone, retire_owner

log = logging.getLogger(__name__)


class Receipt:
    """One claimed request; settle it once with answered() or unanswered()."""

    def __init__(self, db: Database | None, kind: str, slack_id: str,
                 release: Callable[[], None] = lambda: None, team_id: str = "") -> None:
        self.db, self.kind, self.slack_id, self.team_id = db, kind, slack_id, team_id
        self._release = release
        self._settled = False
        self._lock = threading.Lock()

    def _first_settle(self) -> bool:
        with self._lock:
            if self._settled:
                return False
            self._settled = True
            return True

    def answered(self) -> None:
        """Record that the answer is out; a database failure here is logged, not raised.

        The receipt says "answered" before this copy stops counting as in flight: the other
        way round, a concurrent copy of the request on this replica would find our claim
        unanswered with nobody working on it, take it over and answer a second time."""
        if not self._first_settle():
            return
        try:
            if self.db is not None:
                mark_answered(self.db, self.kind, self.slack_id, team_id=self.team_id)
        except SQLAlchemyError as exc:
            database_trouble(exc, "recording an answer")
        finally:
            self._release()

    def unanswered(self) -> None:
        """The answer was lost: a retry of this request may take it over right away."""
        if self._first_settle():
            self._release()


class NoReceipt(Receipt):
    """A request without a receipt (no id, or the database could not record one)."""

    def __init__(self) -> None:
        super().__init__(None, "none", "")


def settle(receipt: Receipt, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run an answer and settle its receipt: False from `fn` means it did not get out."""
    try:
        result = fn(*args, **kwargs)
    except BaseException:
        receipt.unanswered()
        raise
    if result is False:
        receipt.unanswered()
    else:
        receipt.answered()
    return result


def receipt_id(body: dict) -> tuple[str, str, str] | None:
    """(workspace, kind, Slack id) naming one invocation: Slack gives each a unique id, and
    receipts are kept per workspace like everything else a workspace sends us."""
    team = str(body.get("team_id") or (body.get("team") or {}).get("id") or "")[:32]
    if body.get("type") == "event_callback" and body.get("event_id"):
        return team, "event", str(body["event_id"])
    if body.get("command") and body.get("trigger_id"):
        return team, "command", str(body["trigger_id"])
    if body.get("type") == "block_actions" and body.get("trigger_id"):
        return team, "action", str(body["trigger_id"])
    return None


class AnswerOnce:
    """Bolt middleware: claim the request, skip copies that were (or are being) answered."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.owner = new_owner()  # replicas in one process (tests) are told apart
        # Copies of each request this instance is claiming or answering right now. A copy
        # counts itself before it claims, so a concurrent copy never sees a fresh claim of
        # ours as abandoned.
        self._busy: dict[str, int] = {}
        self._lock = threading.Lock()

    def retire(self) -> None:
        """This app stopped: claims it left unanswered may be taken over at once."""
        retire_owner(self.owner)

    def _enter(self, key: str) -> None:
        with self._lock:
            self._busy[key] = self._busy.get(key, 0) + 1

    def _leave(self, key: str) -> None:
        with self._lock:
            left = self._busy.get(key, 1) - 1
            if left:
                self._busy[key] = left
            else:
                self._busy.pop(key, None)

    def _abandoned(self, key: str) -> Callable[[str], bool]:
        """An earlier claim is lost when its claimer is gone, or it is ours and no other copy
        of the request is being claimed or answered here."""
        def check(owner: str) -> bool:
            if owner == self.owner:
                with self._lock:
                    return self._busy.get(key, 0) <= 1  # only the copy asking
            return owner_is_gone(owner)
        return check

    def __call__(
        self, body: dict, request: Any, context: Any, next: Callable[[], Any]
    ) -> BoltResponse | None:
        ident = receipt_id(body)
        if ident is None:
            context["receipt"] = NoReceipt()
            next()
            return None
        team_id, kind, slack_id = ident
        retry = (request.headers.get("x-slack-retry-num") or [None])[0]
        key = f"{team_id}:{kind}:{slack_id}"
        self._enter(key)
        try:
            verdict = claim(
                self.db, kind, slack_id, team_id=team_id, owner=self.owner,
                abandoned=self._abandoned(key),
            )
        except SQLAlchemyError as exc:
            self._leave(key)
            database_trouble(exc, "recording a Slack request")
            if kind == "event" and retry is not None:
                # Slack's first delivery is answered; without receipts a retry could repeat it.
                return BoltResponse(status=200, body="")
            context["receipt"] = NoReceipt()
            next()
            return None
        except BaseException:
            self._leave(key)
            raise
        if not verdict.answer:
            self._leave(key)
            log.info("%s %s %s; skipping (retry %s)", kind, slack_id, verdict.value, retry)
            return BoltResponse(status=200, body="")
        context["receipt"] = Receipt(
            self.db, kind, slack_id, lambda: self._leave(key), team_id=team_id
        )
        next()
        return None
