"""Slack listeners, one module per surface, each with `register(app)`.

commands.py routes `/papers` through one subcommand table, events.py answers @mentions and
the workspace lifecycle events, actions.py the buttons. They share replies.py (building and
delivering answers), workers.py (the lanes that run answers after the ack), receipts.py
(each request answered once) and failures.py (what users see and the log gets when a
dependency fails). No listener depends on registration order.
"""

from __future__ import annotations

from slack_bolt import App


def register_all(app: App) -> None:
    from bot.listeners import actions, commands, events, follows, home

    events.register(app)
    home.register(app)
    actions.register(app)
    commands.register(app)
    follows.register(app)
