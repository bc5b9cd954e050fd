"""Who asked: the identity API Gateway authenticated, for the record and for second-person rules."""

from __future__ import annotations


def caller(current_event_identity: dict[str, object] | None) -> str:
    """The IAM principal or Cognito user API Gateway authenticated (local mode's user locally)."""
    identity = current_event_identity or {}
    for key in ("userArn", "cognitoIdentityId", "user", "caller", "sourceIp"):
        value = identity.get(key)
        if value:
            return str(value)
    return "unknown"
