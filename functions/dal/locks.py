"""Terraform's state locks, of both kinds its S3 backend takes: the items it writes in the lock
table (terraform < 1.10, or ``dynamodb_table``), and the lock file beside the state
(``<key>.tflock``, ``use_lockfile``, 1.10+). A lock file's ID here is ``<bucket>/<key>.tflock``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cache

from botocore.exceptions import BotoCoreError, ClientError

from core.records import LOCKFILE_SUFFIX, STATE_PREFIX
from core.state_locks import StateLock, lockfile_lock, state_lock
from core.transitions import lockfile_removed, state_lock_removed
from functions.dal import aws

WHAT = "the lock table"
LOCKFILES = "the state bucket"
GONE = ("NoSuchKey", "404", "NotFound")
CHANGED = ("PreconditionFailed", "412")
__all__ = ["LockStore", "StateLock", "StateLockStore", "lock_store"]


class LockStore(ABC):
    @abstractmethod
    def get(self, lock_id: str) -> StateLock | None:
        """The lock item of that LockID, or the lock file of that ``<bucket>/<key>.tflock``."""

    @abstractmethod
    def held(self) -> list[str]:
        """Every lock ID currently held, of both kinds (digest items, ``...-md5``, are not locks)."""

    @abstractmethod
    def delete(self, lock: StateLock) -> bool:
        """Delete this very lock (not one taken since); False if it was already gone or replaced."""


class StateLockStore(LockStore):
    def __init__(self, table_name: str, state_bucket: str) -> None:
        self.table = aws.dynamodb().Table(table_name)
        self.bucket = state_bucket
        self.s3 = aws.s3()

    def get(self, lock_id: str) -> StateLock | None:
        if lock_id.endswith(LOCKFILE_SUFFIX):
            return self._lockfile(lock_id)
        item = aws.get_item(self.table, {"LockID": lock_id}, WHAT)
        return state_lock(item)

    def held(self) -> list[str]:
        items = aws.scan_all(self.table, WHAT, ProjectionExpression="LockID, Info")
        return [str(item["LockID"]) for item in items if "Info" in item] + self._lockfiles()

    def delete(self, lock: StateLock) -> bool:
        if lock.kind == "dynamodb":
            return aws.apply(self.table, state_lock_removed(lock.lock_id, lock.raw_info), WHAT)
        bucket, key = lock.location
        try:
            self.s3.delete_object(**lockfile_removed(bucket, key, lock.etag or "").arguments())
        except ClientError as exc:
            if aws.error_code(exc) in (*GONE, *CHANGED):
                return False
            raise aws.unavailable(LOCKFILES, exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable(LOCKFILES, exc) from exc
        return True

    def _lockfile(self, lock_id: str) -> StateLock | None:
        bucket, _, key = lock_id.partition("/")
        if bucket != self.bucket:
            return None  # another install's bucket: not ours to read
        try:
            found = self.s3.get_object(Bucket=bucket, Key=key)
            body = found["Body"].read()
        except ClientError as exc:
            if aws.error_code(exc) in GONE:
                return None
            raise aws.unavailable(LOCKFILES, exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable(LOCKFILES, exc) from exc
        return lockfile_lock(bucket, key, body, str(found.get("ETag", "")))

    def _lockfiles(self) -> list[str]:
        """Lock files under the projects' prefix: current objects only (a released lock is a
        delete marker in the versioned bucket, which a listing of objects leaves out)."""
        found: list[str] = []
        with aws.translated(LOCKFILES):
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=STATE_PREFIX)
            for page in pages:
                found += [
                    f"{self.bucket}/{entry['Key']}"
                    for entry in page.get("Contents", [])
                    if entry["Key"].endswith(LOCKFILE_SUFFIX)
                ]
        return found


@cache
def lock_store(table_name: str, state_bucket: str) -> LockStore:
    return StateLockStore(table_name, state_bucket)
