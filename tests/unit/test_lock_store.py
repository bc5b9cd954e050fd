"""Terraform's state locks of both kinds against moto: lock items in the table, and the lock files
terraform 1.10+ writes beside the state, as the API's store reads, lists and clears them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from core.records import state_lock_id, state_lockfile_key
from functions.dal.locks import StateLockStore
from tests.support.moto_state import state_bucket_and_lock_table

BUCKET, TABLE = "state-test", "locks-test"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[StateLockStore]:
    with state_bucket_and_lock_table(monkeypatch, BUCKET, TABLE):
        yield StateLockStore(TABLE, BUCKET)


def info(lock_uuid: str, project: str = "p1") -> str:
    """Terraform's lock info, as 1.11.4 writes it in a lock file (and in a lock item's Info)."""
    return json.dumps(
        {
            "ID": lock_uuid,
            "Operation": "OperationTypeApply",
            "Info": "",
            "Who": "root@build",
            "Version": "1.11.4",
            "Created": "2026-12-02T18:28:11.456221711Z",
            "Path": f"{BUCKET}/projects/{project}/terraform.tfstate",
        }
    )


def take_lockfile(project: str, lock_uuid: str) -> None:
    """As terraform takes it: written only where none is."""
    boto3.client("s3").put_object(
        Bucket=BUCKET,
        Key=state_lockfile_key(project),
        Body=info(lock_uuid, project).encode(),
        IfNoneMatch="*",
    )


def test_a_lock_file_is_read_with_its_lock_info_and_cannot_be_taken_twice(store: StateLockStore) -> None:
    # Given a run holding the lock file
    take_lockfile("p1", "first")
    lock_id = f"{BUCKET}/projects/p1/terraform.tfstate.tflock"

    # Then the store reads it as a lock of its kind
    lock = store.get(lock_id)
    assert lock is not None
    assert (lock.kind, lock.id, lock.created) == ("lockfile", "first", "2026-12-02T18:28:11.456221711Z")
    assert lock.etag and lock.location == (BUCKET, "projects/p1/terraform.tfstate.tflock")
    # and a second run cannot write over it (the emulator honours If-None-Match: *, as S3 does)
    with pytest.raises(ClientError) as second:
        take_lockfile("p1", "second")
    assert second.value.response["Error"]["Code"] == "PreconditionFailed"
    assert store.get(lock_id) == lock
    # and nothing is read outside the install's state bucket
    assert store.get("other-bucket/projects/p1/terraform.tfstate.tflock") is None


def test_held_lists_both_kinds_and_not_digests_released_or_other_objects(store: StateLockStore) -> None:
    # Given a lock item, its digest item, a held lock file, a released one, and states beside them
    table = boto3.resource("dynamodb").Table(TABLE)
    table.put_item(Item={"LockID": state_lock_id(BUCKET, "p1"), "Info": info("item")})
    table.put_item(Item={"LockID": f"{state_lock_id(BUCKET, 'p1')}-md5", "Digest": "d"})
    take_lockfile("p2", "held")
    take_lockfile("p3", "released")
    s3 = boto3.client("s3")
    s3.delete_object(Bucket=BUCKET, Key=state_lockfile_key("p3"))  # terraform's unlock: a delete marker
    s3.put_object(Bucket=BUCKET, Key="projects/p2/terraform.tfstate", Body=b"{}")

    # Then exactly the two held locks are listed
    assert sorted(store.held()) == [
        f"{BUCKET}/projects/p1/terraform.tfstate",
        f"{BUCKET}/projects/p2/terraform.tfstate.tflock",
    ]


def test_a_lock_file_is_cleared_only_as_it_was_read(store: StateLockStore) -> None:
    # Given a stale lock file read by the reaper, then released and taken again by a new run
    take_lockfile("p1", "old")
    lock_id = f"{BUCKET}/projects/p1/terraform.tfstate.tflock"
    old = store.get(lock_id)
    assert old is not None
    boto3.client("s3").delete_object(Bucket=BUCKET, Key=state_lockfile_key("p1"))
    take_lockfile("p1", "new")

    # When the old one is deleted, then nothing is: the new run keeps its lock
    assert store.delete(old) is False
    new = store.get(lock_id)
    assert new is not None and new.id == "new"

    # When the current one is deleted, then it is gone (a delete marker, as terraform's unlock leaves)
    assert store.delete(new) is True
    assert store.get(lock_id) is None and store.held() == []
    assert store.delete(new) is False  # already gone
    # and the next run can take it again
    take_lockfile("p1", "next")
