"""The fake API for the command line's tests: one server per test module, emptied for each test,
status polls every 10 ms and no terminal unless a test says so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from provisioner.cli import watch
from tests.cli import fake_api
from tests.cli.fake_api import FakeApi


@pytest.fixture(scope="module")
def served() -> Iterator[FakeApi]:
    yield from fake_api.serve()


@pytest.fixture
def fake(served: FakeApi, monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    served.requests.clear()
    served.routes.clear()
    served.statuses.clear()
    monkeypatch.setattr(watch, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(watch, "can_review", lambda: False)
    monkeypatch.delenv("PROVISIONER_BACKUP_PASSPHRASE", raising=False)
    return served
