"""Sign requests exactly the way Slack does (v0 HMAC-SHA256 over "v0:{ts}:{body}")."""

from __future__ import annotations

import hashlib
import hmac
import time

TEST_SIGNING_SECRET = "test-signing-secret-0123456789abcdef"


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes, *, secret: str = TEST_SIGNING_SECRET, timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(secret, ts, body),
    }
