"""Reliability tests run against make local's server, as a user's client or an operator would."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.toolchain import Toolchain
from tests.support.local_server import LocalServer

SOAK = os.environ.get("SOAK", "") == "1"

# The figures README's "What we test" quotes, shown at the end of every run (no `-s` needed).
FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture
def record_figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    return request.config.stash.setdefault(FIGURES, []).append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    figures = config.stash.get(FIGURES, [])
    if figures:
        terminalreporter.section("reliability figures")
        for figure in figures:
            terminalreporter.write_line(figure)


def start_server(tmp: Path, **env: str) -> LocalServer:
    server = LocalServer(tmp / "data", extra_env=env)
    server.start()
    return server


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Iterator[LocalServer]:
    """The default install: exec constructs refused."""
    server = start_server(tmp_path_factory.mktemp("strict"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fault_server(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Iterator[LocalServer]:
    """Fault injection on, a fast reaper, and local-exec allowed (slow steps to interrupt)."""
    server = start_server(
        tmp_path_factory.mktemp("faults"),
        LOCAL_FAULT_INJECTION="true",
        REAPER_INTERVAL_SECONDS="2",
        ALLOW_EXEC_CONSTRUCTS="true",
    )
    yield server
    server.stop()
