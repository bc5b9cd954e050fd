"""Shared fixtures, and the layers tests are marked with.

Importing this file is cheap: the emulator (moto's server) and local mode are imported only by
the fixtures that start them, so the fast lane (``make unit``) never pays for them.

Layers (markers, set here from what a test uses, so no test has to remember them):
- ``emulator``: the in-process AWS emulator (``emulated``, ``api`` fixtures);
- ``terraform``: real terraform (the ``toolchain`` fixture, or the module says so);
- ``local_server``: ``make local``'s server in a subprocess (every module of those directories,
  unless it says ``IN_PROCESS = True``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from core.toolchain import Toolchain
    from tests.support.api import Api
    from tests.support.jobs import Emulated

EMULATOR_FIXTURES = frozenset({"emulated", "api", "api_environment", "services"})
# Directories whose tests drive make local's server over HTTP (or sit beside those that do).
LOCAL_SERVER_DIRECTORIES = ("reliability", "e2e", "cli", "security")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & EMULATOR_FIXTURES:
            item.add_marker(pytest.mark.emulator)
        if "toolchain" in fixtures:
            item.add_marker(pytest.mark.terraform)
        parts = Path(str(item.fspath)).relative_to(root).parts
        # A module that says IN_PROCESS = True needs no server of its own (a fake in the test's process).
        in_process = getattr(getattr(item, "module", None), "IN_PROCESS", False)
        if parts and parts[0] in LOCAL_SERVER_DIRECTORIES and not in_process:
            item.add_marker(pytest.mark.local_server)
    # moto's backends are one per process, so leaving a mock_aws block empties the session's
    # emulator too: modules that never touch the emulator (the only ones that use mock_aws) run
    # before every module that does. The sort is stable, so each group keeps its order.
    touches_emulator = {item.path for item in items if item.get_closest_marker("emulator")}
    items.sort(key=lambda item: item.path in touches_emulator)


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
    from localmode.emulator import EmulatorServer, ServiceResources, create_service_resources  # noqa: PLC0415
    from localmode.sandbox import SandboxProcess  # noqa: PLC0415
    from tests.support.jobs import Emulated  # noqa: PLC0415

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
    from tooling.toolchain import ensure_toolchain  # noqa: PLC0415

    return ensure_toolchain()


@pytest.fixture(scope="session")
def api_environment(emulated: Emulated) -> Iterator[dict[str, str]]:
    from tests.support.api import api_environment_fixture  # noqa: PLC0415

    yield from api_environment_fixture(emulated)


@pytest.fixture(scope="session")
def api(api_environment: dict[str, str], emulated: Emulated) -> Api:
    from localmode.gateway import Gateway  # noqa: PLC0415
    from tests.support.api import Api  # noqa: PLC0415

    return Api(Gateway(), emulated, api_environment["STATE_MACHINE_ARN"])
