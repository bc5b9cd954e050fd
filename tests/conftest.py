"""Shared fixtures: one in-process AWS emulator per test session, with the service's resources in it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from core.toolchain import Toolchain
from localmode.emulator import EmulatorServer, ServiceResources, create_service_resources
from localmode.gateway import Gateway
from localmode.sandbox import SandboxProcess
from tests.support.api import Api, api_environment_fixture
from tests.support.jobs import Emulated
from tooling.toolchain import ensure_toolchain


@pytest.fixture(scope="session", autouse=True)
def _offline_aws_environment() -> Iterator[None]:
    """No test may reach real AWS: fake credentials, a fixed region, no shared config files."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def emulated() -> Iterator[Emulated]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = EmulatorServer()
    endpoint = server.start()
    resources = ServiceResources()
    create_service_resources(endpoint, resources)
    sandbox = SandboxProcess()
    yield Emulated(endpoint, resources, sandbox.endpoint_url)
    sandbox.stop()
    server.stop()


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    return ensure_toolchain()


@pytest.fixture(scope="session")
def api_environment(emulated: Emulated) -> Iterator[dict[str, str]]:
    yield from api_environment_fixture(emulated)


@pytest.fixture(scope="session")
def api(api_environment: dict[str, str], emulated: Emulated) -> Api:
    return Api(Gateway(), emulated, api_environment["STATE_MACHINE_ARN"])
