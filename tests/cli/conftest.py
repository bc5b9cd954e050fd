"""The command line's tests sit beside those that drive make local's server, so tests/conftest.py
marks them all ``local_server``. A module that says ``IN_PROCESS = True`` talks only to a fake in
the test's own process (``tests.cli.fake_api``): its tests lose that marker and run with the fast
ones (``-m "not local_server and not terraform and not emulator"``)."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)  # after tests/conftest.py has set the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        if getattr(module, "IN_PROCESS", False):
            item.own_markers[:] = [mark for mark in item.own_markers if mark.name != "local_server"]
