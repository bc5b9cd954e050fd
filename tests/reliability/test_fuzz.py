"""schemathesis against the OpenAPI document the local server publishes: no 5xx, and every
response matches the schema documented for it."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.reliability.conftest import SOAK
from tests.support.local_server import LocalServer


@pytest.fixture(scope="module")
def api_schema(strict_server: LocalServer) -> Any:
    return schemathesis.openapi.from_url(f"{strict_server.url}/api/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=200 if SOAK else 25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not SOAK,
)
def test_every_documented_operation_answers_within_its_schema(case: Any) -> None:
    case.call_and_validate()
