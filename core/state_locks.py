"""Terraform's lock on a project's state, as the service reads it back: from the lock table's item
or from the lock file beside the state. Plain data: the runner reads these on its hot path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from core.records import stored_json

LockKind = Literal["dynamodb", "lockfile"]


@dataclass(frozen=True)
class StateLock:
    """Terraform's lock on a state: an item its S3 backend wrote in the lock table (terraform <
    1.10, or ``dynamodb_table``) or the lock file beside the state (``use_lockfile``, 1.10+); both
    hold the same lock info JSON."""

    lock_id: str  # the item's LockID, or the lock file as "<bucket>/<key>.tflock"
    raw_info: str  # as terraform wrote it: a delete is conditional on this exact text (or its ETag)
    info: dict[str, Any]  # parsed: ID, Operation, Who, Version, Created, Path
    kind: LockKind = "dynamodb"
    etag: str | None = None  # a lock file's: its delete is conditional on it (If-Match)

    @property
    def id(self) -> str:
        return str(self.info.get("ID", ""))

    @property
    def created(self) -> str:
        return str(self.info.get("Created", ""))

    @property
    def location(self) -> tuple[str, str]:
        """A lock file's (bucket, key)."""
        bucket, _, key = self.lock_id.partition("/")
        return bucket, key


def state_lock(item: dict[str, Any] | None) -> StateLock | None:
    """The lock an item holds; None for no item or a digest item (``...-md5``, no Info)."""
    if not item or "Info" not in item:
        return None
    raw = str(item["Info"])
    return StateLock(str(item["LockID"]), raw, stored_json(raw, {}))


def lockfile_lock(bucket: str, key: str, body: bytes, etag: str) -> StateLock:
    """The lock a lock file holds, read as ``s3://bucket/key`` with its ETag."""
    raw = body.decode("utf-8", "replace")
    return StateLock(f"{bucket}/{key}", raw, stored_json(raw, {}), kind="lockfile", etag=etag)
