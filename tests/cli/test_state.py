"""The state history from the command line, against the fake of the contract in the test's
process (tests.cli.fake_api): state versions, state rollback, backup and restore."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.fake_api import PROJECT, FakeApi
from tests.cli.helpers import Run, invoke

# The fake API runs in this process: the fast lane runs these (tests/conftest.py).
IN_PROCESS = True

PASSPHRASE = "correct horse battery staple"
STATE = f"/api/deploy/state/{PROJECT}"


def cli(fake: FakeApi, *argv: str) -> Run:
    return invoke(*argv, endpoint=fake.url)


def version(serial: int, **fields: Any) -> dict[str, Any]:
    return {
        "serial": serial,
        "lineage": "lin-1",
        "versionId": f"v{serial}",
        "lastModified": "2026-12-02T07:00:00Z",
        "size": 100 + serial,
        "terraformVersion": "1.11.4",
        "resourceCount": 1,
        "isLatest": False,
        "jobId": None,
        "writtenBy": None,
    } | fields


def test_state_versions_lists_what_wrote_each(fake: FakeApi) -> None:
    rollback = {
        "kind": "rollback",
        "id": "rollback-1",
        "by": "carol",
        "reason": "bad",
        "at": "t",
        "fromSerial": 1,
    }
    listing = {
        "projectId": PROJECT,
        "versions": [version(3, isLatest=True, writtenBy=rollback), version(2, jobId="deploy-2")],
        "next": "tok",
    }
    fake.route("GET", f"{STATE}/versions?limit=20", (200, listing))

    run = cli(fake, "state", "versions", PROJECT)

    assert run.code == 0, run.err
    assert "rollback of serial 1 by carol: bad" in run.out and "deploy-2" in run.out
    assert "3 *" in run.out  # the current version is marked
    assert "--next tok" in run.err
    as_json = cli(fake, "--json", "state", "versions", PROJECT)
    assert as_json.code == 0 and as_json.json() == listing


def test_state_rollback_sends_the_serial_and_the_reason(fake: FakeApi) -> None:
    path = f"{STATE}/rollback"
    answer = {
        "projectId": PROJECT,
        "rollbackId": "rollback-1",
        "serial": 4,
        "previousSerial": 3,
        "fromSerial": 1,
        "lineage": "lin-1",
        "versionId": "v4",
        "rolledBackBy": "carol",
        "reason": "bad change",
        "rolledBackAt": "t",
        "message": "State rolled back to the content of serial 1 as serial 4",
    }
    fake.route("POST", path, (200, answer))

    run = cli(fake, "state", "rollback", PROJECT, "1", "--reason", "bad change")

    assert run.code == 0, run.err
    assert "as serial 4" in run.out
    assert fake.sent("POST", path) == [{"serial": 1, "reason": "bad change"}]
    # A reason is required, and not blank; nothing more is sent
    assert cli(fake, "state", "rollback", PROJECT, "1").code == 2
    assert cli(fake, "state", "rollback", PROJECT, "1", "--reason", "  ").code == 2
    assert len(fake.sent("POST", path)) == 1


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (409, "lineage_mismatch", "state version 1 has lineage a, the current state b"),
        (409, "conflict", "project p has a job in progress (deploy-9)"),
        (404, "state_version_not_found", "project p has no state version with serial 9"),
    ],
)
def test_a_refused_rollback_exits_1_with_the_reason(
    fake: FakeApi, status: int, error: str, message: str
) -> None:
    fake.route("POST", f"{STATE}/rollback", (status, {"error": error, "message": message}))
    run = cli(fake, "state", "rollback", PROJECT, "1", "--reason", "r")
    assert run.code == 1 and message in run.err


def test_backup_then_restore_through_a_file(
    fake: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = {"format": "provisioner-backup/1", "projectId": PROJECT, "state": {"serial": 3, "sealed": {}}}
    fake.route("GET", f"/api/deploy/backup/{PROJECT}", (200, bundle))
    fake.route("POST", "/api/deploy/restore/p2", (200, {"projectId": "p2", "message": "restored into p2"}))
    out = tmp_path / "p.backup.json"
    # No passphrase: a usage error, nothing asked of the API
    assert cli(fake, "backup", PROJECT, "--out", str(out)).code == 2 and not fake.requests
    monkeypatch.setenv("PROVISIONER_BACKUP_PASSPHRASE", PASSPHRASE)

    saved = cli(fake, "backup", PROJECT, "--out", str(out))
    restored = cli(fake, "restore", "p2", str(out))

    assert saved.code == 0, saved.err
    assert json.loads(out.read_text()) == bundle and out.stat().st_mode & 0o077 == 0
    assert restored.code == 0 and "restored into p2" in restored.out
    # The passphrase goes in a header, never in the URL or the file
    [get, post] = fake.requests
    assert get.headers.get("X-Backup-Passphrase") == PASSPHRASE and PASSPHRASE not in get.path
    assert post.body == {"bundle": bundle} and post.headers.get("X-Backup-Passphrase") == PASSPHRASE
    assert PASSPHRASE not in out.read_text()
