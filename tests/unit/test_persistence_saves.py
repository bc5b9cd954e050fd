"""Local mode's data directory saves only what changed: the buckets written since the last save
(every bucket when a write cannot be placed), and no file whose content is the same again."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from localmode.emulator import (
    EmulatorServer,
    ServiceResources,
    create_service_resources,
    emulator_session,
    written_tables,
)
from localmode.persistence import DataDirectory
from tests.support.jobs import Emulated


def _saved(root: Path, bucket: str, key: str) -> Path:
    return root / "buckets" / bucket / key


def test_a_save_lists_only_the_buckets_written_and_rewrites_nothing_unchanged(
    emulated: Emulated, tmp_path: Path
) -> None:
    resources = emulated.resources
    s3 = emulated.client("s3")
    data = DataDirectory(tmp_path, emulated.endpoint_url, resources)
    data.save()  # the first save lists every bucket
    jobs_file = tmp_path / "tables" / f"{resources.jobs_table}.json"
    first_write = jobs_file.stat().st_mtime_ns

    # Given a write to the workspaces bucket the emulator reported, and one to the logs bucket it did not
    workspace_key, log_key = f"persistence/{uuid.uuid4().hex}.zip", f"persistence/{uuid.uuid4().hex}.log"
    s3.put_object(Bucket=resources.workspaces_bucket, Key=workspace_key, Body=b"code")
    data.on_write("PUT", f"/{resources.workspaces_bucket}/{workspace_key}")
    s3.put_object(Bucket=resources.logs_bucket, Key=log_key, Body=b"log")
    data.save()
    # Then the reported bucket's object is saved, the other bucket was not listed again
    assert _saved(tmp_path, resources.workspaces_bucket, workspace_key).read_bytes() == b"code"
    assert not _saved(tmp_path, resources.logs_bucket, log_key).exists()
    # and a table whose items did not change was not written again
    assert jobs_file.stat().st_mtime_ns == first_write

    # When a write cannot be placed (not a path-style request to one of the service's buckets)
    data.on_write("POST", "/2015-03-31/functions/x/invocations")
    data.save()
    # Then every bucket is listed, and the missed object is saved after all
    assert _saved(tmp_path, resources.logs_bucket, log_key).read_bytes() == b"log"


def test_a_changed_table_is_written_again(emulated: Emulated, tmp_path: Path) -> None:
    resources = emulated.resources
    data = DataDirectory(tmp_path, emulated.endpoint_url, resources)
    data.save()
    jobs_file = tmp_path / "tables" / f"{resources.jobs_table}.json"
    before = jobs_file.read_text()
    job_id = f"persistence-{uuid.uuid4().hex}"
    emulated.table(resources.jobs_table).put_item(Item={"jobId": job_id, "projectId": "persistence"})
    data.on_write("POST", "PutItem")
    data.save()
    after = jobs_file.read_text()
    assert job_id not in before and job_id in after


def test_binary_attributes_are_saved_and_restored(emulated: Emulated, tmp_path: Path) -> None:
    resources = emulated.resources
    job_id = f"persistence-binary-{uuid.uuid4().hex}"
    item = {
        "jobId": job_id,
        "blob": b"\x00\xff",
        "blobs": {b"a", b"\x01"},
        # An attribute named like the type keys, holding text and binary, inside a map and a list.
        "nested": {"B": "not base64", "BS": [b"\x02", "text"]},
    }
    emulated.table(resources.jobs_table).put_item(Item=item)
    DataDirectory(tmp_path, emulated.endpoint_url, resources).save()

    fresh = EmulatorServer()
    endpoint = fresh.start()
    try:
        create_service_resources(endpoint, resources)
        assert DataDirectory(tmp_path, endpoint, resources).restore()["items"] >= 1
        table = (
            emulator_session(resources.region)
            .resource("dynamodb", endpoint_url=endpoint)
            .Table(resources.jobs_table)
        )
        restored: dict[str, Any] = dict(table.get_item(Key={"jobId": job_id})["Item"])
    finally:
        fresh.stop()
    assert restored["blob"].value == b"\x00\xff"
    assert {b.value for b in restored["blobs"]} == {b"a", b"\x01"}
    assert restored["nested"]["B"] == "not base64"
    assert restored["nested"]["BS"][0].value == b"\x02" and restored["nested"]["BS"][1] == "text"


def _scans(data: DataDirectory) -> list[str]:
    """The tables each save of ``data`` scans, in order."""
    scanned: list[str] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        scanned.append(str(params["TableName"]))

    data.dynamodb.meta.events.register("provide-client-params.dynamodb.Scan", note)
    return scanned


def test_a_save_scans_only_the_tables_written_and_lists_secrets_only_after_a_secret_write(
    emulated: Emulated, tmp_path: Path
) -> None:
    resources = emulated.resources
    data = DataDirectory(tmp_path, emulated.endpoint_url, resources)
    scanned = _scans(data)
    listed: list[str] = []
    data.secrets.meta.events.register(
        "provide-client-params.secrets-manager.ListSecrets", lambda **_: listed.append("listed")
    )
    data.save()  # the first save reads everything
    assert set(scanned) == set(data._tables()) and len(listed) == 1
    scanned.clear()
    listed.clear()

    # Given a write to the projects table, one to the state locks (not kept), and a save
    project_id = f"persistence-{uuid.uuid4().hex}"
    emulated.table(resources.projects_table).put_item(Item={"projectId": project_id})
    data.on_write("POST", "PutItem", frozenset({resources.projects_table}))
    data.on_write("POST", "PutItem", frozenset({resources.lock_table}))
    data.save()
    # Then only the projects table was read, and no secret
    assert scanned == [resources.projects_table] and listed == []
    assert project_id in (tmp_path / "tables" / f"{resources.projects_table}.json").read_text()

    # When a write names no table it can be placed in, or a secret is written
    scanned.clear()
    data.on_write("POST", "PutItem")
    data.on_write("POST", "CreateSecret")
    data.save()
    # Then every table is read again, and the secrets are listed
    assert set(scanned) == set(data._tables()) and len(listed) == 1


@pytest.mark.parametrize(
    ("operation", "body", "tables"),
    [
        ("PutItem", {"TableName": "jobs", "Item": {}}, {"jobs"}),
        ("BatchWriteItem", {"RequestItems": {"jobs": [], "projects": []}}, {"jobs", "projects"}),
        (
            "TransactWriteItems",
            {"TransactItems": [{"Put": {"TableName": "jobs"}}, {"Update": {"TableName": "locks"}}]},
            {"jobs", "locks"},
        ),
        ("TransactWriteItems", {"TransactItems": [{"Put": {}}]}, None),
        ("UpdateItem", {}, None),
        ("Scan", {"TableName": "jobs"}, None),
    ],
)
def test_the_tables_a_write_names(operation: str, body: dict[str, Any], tables: set[str] | None) -> None:
    expected = None if tables is None else frozenset(tables)
    assert written_tables(operation, json.dumps(body).encode()) == expected


def test_a_body_that_is_not_json_names_no_table() -> None:
    assert written_tables("PutItem", b"{not json") is None


@pytest.mark.emulator
def test_the_emulator_reports_the_tables_a_write_names_and_still_applies_it() -> None:
    reported: list[tuple[str, frozenset[str] | None]] = []
    server = EmulatorServer(on_write=lambda _method, operation, tables: reported.append((operation, tables)))
    endpoint = server.start()
    try:
        resources = ServiceResources()
        create_service_resources(endpoint, resources)
        reported.clear()
        dynamodb = emulator_session(resources.region).client("dynamodb", endpoint_url=endpoint)
        dynamodb.put_item(TableName=resources.jobs_table, Item={"jobId": {"S": "reported"}})
        dynamodb.get_item(TableName=resources.jobs_table, Key={"jobId": {"S": "reported"}})
        # the body read for the report reached moto whole: the item is there
        item = dynamodb.get_item(TableName=resources.jobs_table, Key={"jobId": {"S": "reported"}})
        assert item["Item"]["jobId"] == {"S": "reported"}
        assert ("PutItem", frozenset({resources.jobs_table})) in reported
        assert ("GetItem", None) in reported  # a read is reported (a POST) without tables
    finally:
        server.stop()
