"""The real handlers behind the local gateway, on the session's emulator (DynamoDB, S3, Step Functions)."""

# Fixtures are registered in tests/conftest.py.

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from functions.dal import aws
from functions.utils import env as env_module
from localmode.emulator import create_state_machine
from localmode.gateway import Gateway, HttpResponse
from tests.support.jobs import Emulated


@dataclass
class Api:
    gateway: Gateway
    emulated: Emulated
    state_machine_arn: str

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        query: str = "",
    ) -> HttpResponse:
        sent_headers = {"Content-Type": "application/json", **(headers or {})}
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        return self.gateway.handle(method, path, sent_headers, query, payload)

    def get(self, path: str, query: str = "") -> HttpResponse:
        return self.call("GET", path, query=query)

    def post(self, path: str, body: Any = None, **options: Any) -> HttpResponse:
        return self.call("POST", path, body, **options)


def api_environment_fixture(emulated: Emulated) -> Iterator[dict[str, str]]:
    arn = create_state_machine(emulated.endpoint_url, emulated.resources)
    values = {
        **emulated.resources.environment(),
        "AWS_ENDPOINT_URL": emulated.endpoint_url,
        "STATE_MACHINE_ARN": arn,
        "DEFAULT_REGION": emulated.resources.region,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "ProvisionerTests",
        "POWERTOOLS_SERVICE_NAME": "provisioner-tests",
        "LOG_LEVEL": "WARNING",
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    clear_environment_caches()
    yield values
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    clear_environment_caches()


def clear_environment_caches() -> None:
    """Handlers cache their clients and environment per container; tests change both."""
    for cached in (aws.dynamodb, aws.s3, aws.secretsmanager, aws.stepfunctions, env_module.environment):
        cached.cache_clear()
