"""The real ASL executed by moto's interpreter, with the compatibility module and the real runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from moto.core.config import default_user_config

from core.toolchain import Toolchain
from localmode.services import LocalServices, start_local_services
from tests.support.api import Api, clear_environment_caches
from tests.support.jobs import Emulated


@pytest.fixture(scope="module")
def services(
    emulated: Emulated, api: Api, toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServices]:
    port = urlparse(emulated.endpoint_url).port
    assert port is not None
    log_dir: Path = tmp_path_factory.mktemp("builds")
    services = start_local_services(
        emulated.endpoint_url,
        port,
        emulated.resources,
        log_dir,
        sandbox_endpoint_url=emulated.sandbox_url,
        allow_exec=True,
    )
    os.environ["ALLOW_EXEC_CONSTRUCTS"] = "true"
    clear_environment_caches()
    yield services
    # Executions started by other test modules should not run builds.
    default_user_config["stepfunctions"]["execute_state_machine"] = False
    os.environ.pop("ALLOW_EXEC_CONSTRUCTS", None)
    clear_environment_caches()
    services.builds.stop_all(grace_seconds=60)
