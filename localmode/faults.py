"""Fault injection for local mode: AWS errors the emulator answers instead of serving a request.

A rule names a service (from the request's SigV4 credential scope), optionally an operation and a
client (a User-Agent substring: the handlers say ``provisioner-api``, the runner
``provisioner-runner``, terraform ``Terraform``), the AWS error code, and how many requests fail.
The errors are shaped as each protocol shapes them, so SDK retry logic sees the real thing.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request")
THROTTLING_STATUS = {
    "SlowDown": 503,
    "ServiceUnavailable": 503,
    "InternalServerError": 500,
    "InternalError": 500,
}


@dataclass
class FaultRule:
    service: str
    error: str
    count: int = 1
    operation: str | None = None
    client: str | None = None
    status: int | None = None

    def http_status(self) -> int:
        return self.status or THROTTLING_STATUS.get(self.error, 400)


@dataclass(frozen=True)
class RequestFacts:
    service: str
    operation: str
    user_agent: str


def request_facts(environ: dict[str, Any]) -> RequestFacts:
    match = _CREDENTIAL_SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    service = match["service"] if match else ""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    operation = target.partition(".")[2] if target else str(environ.get("REQUEST_METHOD", ""))
    return RequestFacts(service, operation, str(environ.get("HTTP_USER_AGENT", "")))


class Faults:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self.injected = 0

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(vars(rule)) for rule in self._rules]

    def take(self, facts: RequestFacts) -> FaultRule | None:
        """The first matching rule, with one use spent; None to serve the request normally."""
        with self._lock:
            for rule in self._rules:
                if rule.service not in ("*", facts.service):
                    continue
                if rule.operation and rule.operation != facts.operation:
                    continue
                if rule.client and rule.client not in facts.user_agent:
                    continue
                rule.count -= 1
                if rule.count <= 0:
                    self._rules.remove(rule)
                self.injected += 1
                return rule
        return None


def error_response(rule: FaultRule, facts: RequestFacts) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and body of the AWS error, in the request's protocol."""
    status = rule.http_status()
    message = f"injected fault: {rule.error}"
    if facts.service == "s3":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{rule.error}</Code>'
            f"<Message>{message}</Message></Error>"
        ).encode()
        content_type = "application/xml"
    else:
        body = json.dumps({"__type": rule.error, "message": message}).encode()
        content_type = "application/x-amz-json-1.0"
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("x-amzn-ErrorType", rule.error),
    ]
    return f"{status} Injected", headers, body
