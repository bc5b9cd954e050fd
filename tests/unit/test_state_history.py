"""The state history's logic with fakes: versions attributed to their jobs and rollbacks, one
version redacted as /state is, and the rollback: a new serial with old content, under the project
lock, released on every path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from core.requests import RollbackRequest
from core.state_versions import md5_digest
from functions.logic import state_history as logic
from functions.logic.state_history import HistoryStores
from functions.models.exceptions import (
    LineageMismatch,
    NothingToShow,
    ProjectBusy,
    ProjectNotFound,
    StateVersionNotFound,
    StoreUnavailable,
)
from tests.support.fakes import FakeJobStore, FakeProjectStore, FakeStateHistory

PROJECT = "p1"


def _state(serial: int, password: str, lineage: str = "lin-1") -> dict[str, Any]:
    return {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": serial,
        "lineage": lineage,
        "outputs": {},
        "resources": [
            {
                "mode": "managed",
                "type": "random_password",
                "name": "db",
                "provider": 'provider["registry.terraform.io/hashicorp/random"]',
                "instances": [{"attributes": {"result": password, "length": 16}}],
            }
        ],
    }


@pytest.fixture
def stores() -> HistoryStores:
    projects, jobs, history = FakeProjectStore(), FakeJobStore(), FakeStateHistory()
    projects.update(PROJECT, {"projectId": PROJECT, "deploymentStatus": "deployed"})
    for serial in (1, 2, 3):
        version = history.add(PROJECT, _state(serial, f"secret-{serial}"))
        jobs.create(
            {
                "jobId": f"deploy-{serial}",
                "projectId": PROJECT,
                "createdAt": serial,
                "stateVersionId": version,
                "stateSerial": serial,
            }
        )
    return HistoryStores(projects=projects, jobs=jobs, history=history)


def _history(stores: HistoryStores) -> FakeStateHistory:
    assert isinstance(stores.history, FakeStateHistory)
    return stores.history


def test_versions_are_listed_newest_first_with_their_jobs(stores: HistoryStores) -> None:
    # When
    listing = logic.list_versions(stores, PROJECT, 2, None)
    # Then
    assert [(v.serial, v.jobId, v.isLatest) for v in listing.versions] == [
        (3, "deploy-3", True),
        (2, "deploy-2", False),
    ]
    assert listing.versions[0].resourceCount == 1 and listing.versions[0].terraformVersion == "1.11.4"
    assert listing.next is not None
    rest = logic.list_versions(stores, PROJECT, 2, listing.next)
    assert [v.serial for v in rest.versions] == [1] and rest.next is None


def test_an_unknown_project_has_no_history(stores: HistoryStores) -> None:
    with pytest.raises(ProjectNotFound):
        logic.list_versions(stores, "nobody", 10, None)


def test_one_version_is_redacted_as_the_state_is(stores: HistoryStores) -> None:
    # Given: the runner recorded random_password.result as sensitive
    stores.projects.update(PROJECT, {"sensitivePathsJson": json.dumps({"random_password": [["result"]]})})
    # When
    out = logic.get_version(stores, PROJECT, 1)
    # Then
    text = json.dumps(out.state)
    assert out.serial == 1 and "secret-1" not in text
    with pytest.raises(StateVersionNotFound):
        logic.get_version(stores, PROJECT, 99)


def test_rollback_writes_old_content_as_the_next_serial(stores: HistoryStores) -> None:
    # When
    out = logic.rollback(stores, PROJECT, 1, by="alice", reason="bad change")
    # Then: a new version, serial 4, with serial 1's content and lineage
    history = _history(stores)
    head = history.versions[PROJECT][0]
    assert out.serial == 4 and out.previousSerial == 3 and out.fromSerial == 1
    assert head.document["serial"] == 4 and head.document["lineage"] == "lin-1"
    assert head.document["resources"] == _state(1, "secret-1")["resources"]
    assert history.digests[PROJECT] == md5_digest(json.dumps(head.document, indent=2).encode() + b"\n")
    # who, why and when: on the project and in the listing
    project = stores.projects.get(PROJECT) or {}
    assert project["lastRollback"]["by"] == "alice" and project["lastRollback"]["reason"] == "bad change"
    assert project["stateSummary"]["serial"] == 4
    assert "activeJobId" not in project  # the lock is free again
    listed = logic.list_versions(stores, PROJECT, 1, None).versions[0]
    assert listed.jobId is None and listed.writtenBy is not None
    assert (listed.writtenBy.kind, listed.writtenBy.by, listed.writtenBy.fromSerial) == (
        "rollback",
        "alice",
        1,
    )
    assert listed.writtenBy.reason == "bad change" and listed.writtenBy.id == out.rollbackId


def test_rollback_to_another_lineage_is_refused(stores: HistoryStores) -> None:
    # Given: the project was destroyed and created again: a new lineage
    _history(stores).add(PROJECT, _state(1, "fresh", lineage="lin-2"))
    # When / Then
    with pytest.raises(LineageMismatch, match=r"lineage lin-1.*lin-2"):
        logic.rollback(stores, PROJECT, 3, by="alice", reason="x")
    assert "activeJobId" not in (stores.projects.get(PROJECT) or {})


def test_rollback_to_an_unknown_serial_is_404_and_frees_the_lock(stores: HistoryStores) -> None:
    with pytest.raises(StateVersionNotFound):
        logic.rollback(stores, PROJECT, 42, by="alice", reason="x")
    assert "activeJobId" not in (stores.projects.get(PROJECT) or {})
    assert len(_history(stores).versions[PROJECT]) == 3


def test_rollback_is_refused_while_a_job_holds_the_project(stores: HistoryStores) -> None:
    stores.projects.acquire(PROJECT, "deploy-9", {"activeAction": "deploy", "lastUpdated": "now"})
    with pytest.raises(ProjectBusy):
        logic.rollback(stores, PROJECT, 1, by="alice", reason="x")
    # the job's lock is untouched
    assert (stores.projects.get(PROJECT) or {})["activeJobId"] == "deploy-9"
    assert len(_history(stores).versions[PROJECT]) == 3


def test_rollback_is_refused_while_terraform_holds_the_state_lock(stores: HistoryStores) -> None:
    _history(stores).locked.add(PROJECT)
    with pytest.raises(ProjectBusy, match="terraform state is locked"):
        logic.rollback(stores, PROJECT, 1, by="alice", reason="x")
    assert "activeJobId" not in (stores.projects.get(PROJECT) or {})


def test_the_lock_is_released_when_the_write_fails(stores: HistoryStores) -> None:
    _history(stores).fail_writes = True
    with pytest.raises(StoreUnavailable):
        logic.rollback(stores, PROJECT, 1, by="alice", reason="x")
    assert "activeJobId" not in (stores.projects.get(PROJECT) or {})


def test_the_lock_is_held_during_the_write(stores: HistoryStores) -> None:
    # Given: a history that looks at the project while the rollback writes
    seen: list[Any] = []
    history = _history(stores)
    write = history.write

    def spying(project_id: str, body: bytes, metadata: dict[str, str]) -> str:
        seen.append((stores.projects.get(project_id) or {}).get("activeJobId"))
        return write(project_id, body, metadata)

    history.write = spying  # type: ignore[method-assign]
    # When
    out = logic.rollback(stores, PROJECT, 2, by="alice", reason="x")
    # Then
    assert seen == [out.rollbackId] and out.rollbackId.startswith("rollback-")


def test_a_project_without_state_has_nothing_to_roll_back() -> None:
    projects = FakeProjectStore()
    projects.update("empty", {"projectId": "empty"})
    stores = HistoryStores(projects=projects, jobs=FakeJobStore(), history=FakeStateHistory())
    with pytest.raises(NothingToShow):
        logic.rollback(stores, "empty", 1, by="alice", reason="x")
    assert "activeJobId" not in (projects.get("empty") or {})


@pytest.mark.parametrize(
    "body", [{"serial": 1, "reason": "   "}, {"serial": 1}, {"serial": -1, "reason": "x"}]
)
def test_a_rollback_needs_a_serial_and_a_reason(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RollbackRequest.model_validate(body)


def test_a_serial_repeated_by_another_lineage_is_refused(stores: HistoryStores) -> None:
    # Given: a new lineage starts again at serial 1
    _history(stores).add(PROJECT, _state(1, "fresh", lineage="lin-2"))
    # When / Then: serial 1 is the old lineage's, not the current version itself
    with pytest.raises(LineageMismatch):
        logic.rollback(stores, PROJECT, 1, by="alice", reason="x")
