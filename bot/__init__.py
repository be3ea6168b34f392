"""PaperBot: a Slack app that helps research teams keep up with papers."""

__version__ = "0.1.0"
