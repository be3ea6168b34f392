from slack_bolt import App


def register(app: App) -> None:
    """Channel subscriptions (daily digest); filled in by the digest work."""
