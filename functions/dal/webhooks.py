"""The outside world of notifications: an HTTP POST to a subscriber, and the SNS topic.

The POST follows no redirect (a 3xx is a failure): a redirect could point anywhere, the
metadata service included, after the URL was checked."""

from __future__ import annotations

import http.client
import json
import ssl
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import boto3

from functions.dal.aws import CLIENT_CONFIG

MAX_RESPONSE_BYTES = 4096


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """(status code, error): a 2xx has no error; a connection failure or timeout has no status."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    finally:
        connection.close()
    if 200 <= status < 300:
        return status, None
    return status, f"the receiver answered {status}"


@cache
def _sns() -> Any:  # no SNS stubs in the dev dependencies
    return boto3.client("sns", config=CLIENT_CONFIG)


def publish(topic_arn: str, payload: dict[str, Any]) -> None:
    """An event to the topic, with its type and project as attributes for filter policies."""
    _sns().publish(
        TopicArn=topic_arn,
        Subject=f"provisioner {payload['type']}"[:100],
        Message=json.dumps(payload, default=str),
        MessageAttributes={
            "type": {"DataType": "String", "StringValue": str(payload["type"])},
            "projectId": {"DataType": "String", "StringValue": str(payload["projectId"])},
        },
    )
