"""The state history's S3/DynamoDB port against moto: a versioned bucket listed newest first and
paged, the service's writes carrying who wrote them, terraform's digest item kept in step."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from core.records import state_key, state_lock_id, state_lockfile_key
from core.state_versions import encode, md5_digest, read_writer, writer_metadata
from functions.dal.state_history import S3StateHistory
from functions.models.exceptions import InvalidRequest
from tests.support.moto_state import state_bucket_and_lock_table

BUCKET, TABLE, PROJECT = "state-test", "locks-test", "p1"


@pytest.fixture
def history(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3StateHistory]:
    with state_bucket_and_lock_table(monkeypatch, BUCKET, TABLE):
        yield S3StateHistory(BUCKET, TABLE)


def _terraform_writes(serial: int, project: str = PROJECT) -> str:
    body = json.dumps({"version": 4, "serial": serial, "lineage": "lin", "resources": []}).encode()
    return str(boto3.client("s3").put_object(Bucket=BUCKET, Key=state_key(project), Body=body)["VersionId"])


def _serials(versions: list[Any]) -> list[int]:
    return [int(v.document["serial"]) for v in versions]


def test_versions_are_listed_newest_first_and_paged(history: S3StateHistory) -> None:
    # Given: five versions, and another project's beside them
    ids = [_terraform_writes(serial) for serial in range(1, 6)]
    _terraform_writes(7, "p10")
    # When
    first, token = history.page(PROJECT, 2, None)
    second, token2 = history.page(PROJECT, 2, token)
    third, token3 = history.page(PROJECT, 2, token2)
    # Then
    assert _serials(first) == [5, 4] and first[0].is_latest and not first[1].is_latest
    assert _serials(second) == [3, 2] and _serials(third) == [1] and token3 is None
    assert [v.version_id for v in first + second + third] == ids[::-1]
    assert first[0].size > 0 and first[0].last_modified.endswith("Z")
    assert _serials(list(history.all(PROJECT))) == [5, 4, 3, 2, 1]
    current = history.current(PROJECT)
    assert current is not None and current.version_id == ids[-1]


def test_a_token_of_another_project_is_refused(history: S3StateHistory) -> None:
    _terraform_writes(1)
    _terraform_writes(2)
    _, token = history.page(PROJECT, 1, None)
    assert token is not None
    with pytest.raises(InvalidRequest):
        history.page("p2", 1, token)
    with pytest.raises(InvalidRequest):
        history.page(PROJECT, 1, "not-a-token!")


def test_no_state_no_versions(history: S3StateHistory) -> None:
    assert history.page(PROJECT, 10, None) == ([], None)
    assert history.current(PROJECT) is None


def test_a_write_is_a_new_version_with_its_writer_and_terraform_digest(history: S3StateHistory) -> None:
    # Given
    _terraform_writes(1)
    body = encode({"version": 4, "serial": 2, "lineage": "lin", "resources": []})
    metadata = writer_metadata(
        by="arn:aws:iam::1:user/ops",
        writer="rollback",
        reason="bad: änderung",
        from_serial=1,
        at="t",
        writer_id="r1",
    )
    # When
    version_id = history.write(PROJECT, body, metadata)
    # Then: the current version, its writer readable back (non-ASCII reasons too)
    current = history.current(PROJECT)
    assert current is not None and current.version_id == version_id
    assert current.document["serial"] == 2
    writer = read_writer(current.metadata)
    assert writer is not None and writer["reason"] == "bad: änderung" and writer["written-by"].endswith("ops")
    # and the item terraform's S3 backend checks the state against
    item = (
        boto3.resource("dynamodb")
        .Table(TABLE)
        .get_item(Key={"LockID": f"{state_lock_id(BUCKET, PROJECT)}-md5"})["Item"]
    )
    assert item["Digest"] == md5_digest(body)
    # a version terraform wrote has no writer
    assert read_writer(history.page(PROJECT, 2, None)[0][1].metadata) is None


def test_the_state_lock_is_seen_but_the_digest_is_not_a_lock(history: S3StateHistory) -> None:
    table = boto3.resource("dynamodb").Table(TABLE)
    lock_id = state_lock_id(BUCKET, PROJECT)
    table.put_item(Item={"LockID": f"{lock_id}-md5", "Digest": "x"})
    assert not history.state_locked(PROJECT)
    table.put_item(Item={"LockID": lock_id, "Info": json.dumps({"ID": "1"})})
    assert history.state_locked(PROJECT)


def test_a_lock_file_is_a_lock_and_its_versions_are_not_state_versions(history: S3StateHistory) -> None:
    # Given two state versions, and terraform 1.10+'s lock file taken and released beside them
    _terraform_writes(1)
    s3 = boto3.client("s3")
    lockfile = state_lockfile_key(PROJECT)
    s3.put_object(Bucket=BUCKET, Key=lockfile, Body=json.dumps({"ID": "a"}).encode(), IfNoneMatch="*")
    assert history.state_locked(PROJECT)
    s3.delete_object(Bucket=BUCKET, Key=lockfile)
    assert not history.state_locked(PROJECT)
    _terraform_writes(2)
    s3.put_object(Bucket=BUCKET, Key=lockfile, Body=json.dumps({"ID": "b"}).encode(), IfNoneMatch="*")

    # Then the held lock file is a lock
    assert history.state_locked(PROJECT)
    # and the history holds the state's two versions only, whatever the page size
    assert _serials(list(history.all(PROJECT))) == [2, 1]
    first, token = history.page(PROJECT, 2, None)
    assert _serials(first) == [2, 1]
    rest = history.page(PROJECT, 2, token)[0] if token else []
    assert rest == []
    current = history.current(PROJECT)
    assert current is not None and current.document["serial"] == 2
