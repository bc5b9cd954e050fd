"""Backup and restore with fakes: the state leaves only sealed, a wrong passphrase or an altered
bundle is refused before anything is written, and a restore never overwrites a state."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from core.state_versions import read_writer
from functions.logic.backup import BackupStores, export_project, restore_project
from functions.logic.state_history import HistoryStores
from functions.models.exceptions import InvalidRequest, ProjectBusy, RestoreRefused, WrongPassphrase
from functions.utils.sealing import seal, unseal
from tests.support.fakes import FakeCodeStore, FakeJobStore, FakeProjectStore, FakeStateHistory

PASSPHRASE = "a long enough passphrase"
SECRET = "Sup3r-Secret-Value"


def _state(serial: int) -> dict[str, Any]:
    return {
        "version": 4,
        "serial": serial,
        "lineage": "lin-1",
        "terraform_version": "1.11.4",
        "resources": [
            {
                "mode": "managed",
                "type": "null_resource",
                "name": "m",
                "instances": [{"attributes": {"t": SECRET}}],
            }
        ],
    }


@pytest.fixture(autouse=True)
def _cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    # The cost travels with each seal, so a cheaper one here tests the same code, faster.
    monkeypatch.setattr("functions.utils.sealing.SCRYPT_N", 2**10)


@pytest.fixture
def stores() -> BackupStores:
    projects, jobs, history, code = FakeProjectStore(), FakeJobStore(), FakeStateHistory(), FakeCodeStore()
    projects.update(
        "src",
        {"projectId": "src", "codeJobId": "deploy-2", "variablesRef": {"secretId": "s", "versionId": "v"}},
    )
    code.put("src", "deploy-2", {"main.tf": 'resource "null_resource" "m" {}\n'})
    for serial in (1, 2):
        version = history.add("src", _state(serial))
        jobs.create(
            {"jobId": f"deploy-{serial}", "projectId": "src", "createdAt": serial, "stateVersionId": version}
        )
    return BackupStores(history=HistoryStores(projects=projects, jobs=jobs, history=history), code=code)


def _history(stores: BackupStores) -> FakeStateHistory:
    assert isinstance(stores.history.history, FakeStateHistory)
    return stores.history.history


def test_seal_round_trip_and_a_wrong_passphrase() -> None:
    sealed = seal(b"state", PASSPHRASE)
    assert unseal(sealed, PASSPHRASE) == b"state"
    with pytest.raises(WrongPassphrase):
        unseal(sealed, "another passphrase")
    tampered = dict(sealed, ciphertext=seal(b"other", PASSPHRASE)["ciphertext"])
    with pytest.raises(WrongPassphrase):
        unseal(tampered, PASSPHRASE)
    with pytest.raises(InvalidRequest):
        unseal(dict(sealed, scrypt={"n": 2**30, "r": 8, "p": 1}), PASSPHRASE)  # unbounded cost refused
    with pytest.raises(InvalidRequest):
        unseal({"algorithm": "none"}, PASSPHRASE)


def test_the_backup_has_code_history_and_only_a_sealed_state(stores: BackupStores) -> None:
    bundle = export_project(stores, "src", PASSPHRASE, by="alice").model_dump()
    assert SECRET not in json.dumps(bundle)
    assert bundle["code"] == {"jobId": "deploy-2", "files": {"main.tf": 'resource "null_resource" "m" {}\n'}}
    assert bundle["variablesRef"] == {"secretId": "s", "versionId": "v"}
    assert [(v["serial"], v["jobId"]) for v in bundle["history"]] == [(2, "deploy-2"), (1, "deploy-1")]
    assert json.loads(unseal(bundle["state"]["sealed"], PASSPHRASE))["serial"] == 2


def test_restore_into_a_new_project(stores: BackupStores) -> None:
    bundle = export_project(stores, "src", PASSPHRASE, by="alice").model_dump()
    # When
    out = restore_project(stores, "dst", bundle, PASSPHRASE, by="bob")
    # Then: the state (serial and lineage kept), the code, the record; the lock free again
    head = _history(stores).versions["dst"][0]
    assert head.document == _state(2) and out.serial == 2 and out.lineage == "lin-1"
    writer = read_writer(head.metadata)
    assert writer is not None and writer["writer"] == "restore" and writer["written-by"] == "bob"
    assert stores.code.read("dst", out.restoreId) == bundle["code"]["files"]
    project = stores.history.projects.get("dst") or {}
    assert project["codeJobId"] == out.restoreId and project["deploymentStatus"] == "deployed"
    assert project["lastRestore"]["sourceProjectId"] == "src" and "activeJobId" not in project
    assert "variablesRef" not in project  # another install's secret: the next deploy gives the values


def test_a_wrong_passphrase_writes_nothing(stores: BackupStores) -> None:
    bundle = export_project(stores, "src", PASSPHRASE, by="alice").model_dump()
    with pytest.raises(WrongPassphrase):
        restore_project(stores, "dst", bundle, "not the passphrase", by="bob")
    assert "dst" not in _history(stores).versions and stores.history.projects.get("dst") is None


def test_a_restore_never_overwrites_a_state(stores: BackupStores) -> None:
    bundle = export_project(stores, "src", PASSPHRASE, by="alice").model_dump()
    with pytest.raises(RestoreRefused, match="already has terraform state"):
        restore_project(stores, "src", bundle, PASSPHRASE, by="bob")
    assert len(_history(stores).versions["src"]) == 2
    assert "activeJobId" not in (stores.history.projects.get("src") or {})


def test_a_restore_into_a_busy_project_is_refused(stores: BackupStores) -> None:
    bundle = export_project(stores, "src", PASSPHRASE, by="alice").model_dump()
    stores.history.projects.acquire("dst", "deploy-7", {"activeAction": "deploy", "lastUpdated": "now"})
    with pytest.raises(ProjectBusy):
        restore_project(stores, "dst", bundle, PASSPHRASE, by="bob")
    assert "dst" not in _history(stores).versions


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b.pop("state"),
        lambda b: b["state"].update(sha256="0" * 64),
        lambda b: b["code"].update(files={"../escape.tf": "x"}),
        lambda b: b.update(format="other/1"),
    ],
)
def test_a_malformed_bundle_is_a_400(stores: BackupStores, change: Any) -> None:
    bundle = copy.deepcopy(export_project(stores, "src", PASSPHRASE, by="alice").model_dump())
    change(bundle)
    with pytest.raises(InvalidRequest):
        restore_project(stores, "dst", bundle, PASSPHRASE, by="bob")
    assert "dst" not in _history(stores).versions
