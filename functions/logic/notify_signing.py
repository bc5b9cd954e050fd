"""Webhook signatures, Stripe style: ``X-Provisioner-Signature: t=<unix seconds>,v1=<hex>`` where
v1 is HMAC-SHA256 with the subscription's secret over ``"<t>.<raw body>"``. The timestamp is
signed too, so a captured delivery cannot be replayed later with a fresh timestamp."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Provisioner-Signature"
DELIVERY_HEADER = "X-Provisioner-Delivery"
EVENT_HEADER = "X-Provisioner-Event"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of generated secrets, as Stripe marks its own
# A receiver should refuse a signature older than this (what Stripe's libraries default to).
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, now: int, tolerance: int = DEFAULT_TOLERANCE_SECONDS
) -> bool:
    """What a receiver does: parse t and every v1, recompute, compare in constant time, and
    refuse a timestamp outside the tolerance."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
