"""Every version of a project's terraform state (the versioned state bucket), and the writes the
service itself makes to the state: a rollback's or a restore's new version, with terraform's
digest item in the lock table updated in the same step."""

from __future__ import annotations

import base64
import binascii
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from core.records import state_key, state_lock_id, state_lockfile_key
from core.state_versions import md5_digest
from functions.dal import aws
from functions.models.exceptions import InvalidRequest

WHAT = "the state bucket"
LOCKS = "the lock table"
MISSING = ("NoSuchKey", "NoSuchVersion", "404", "NotFound")


@dataclass(frozen=True)
class StoredVersion:
    """One version of the state object, as S3 lists it and as its content reads."""

    version_id: str
    last_modified: str
    size: int
    is_latest: bool
    document: dict[str, Any]
    metadata: dict[str, str]


class StateHistory(ABC):
    @abstractmethod
    def page(self, project_id: str, limit: int, token: str | None) -> tuple[list[StoredVersion], str | None]:
        """Versions newest first (delete markers left out), and the token of the next page."""

    @abstractmethod
    def all(self, project_id: str) -> Iterator[StoredVersion]:
        """Every version, newest first."""

    @abstractmethod
    def current(self, project_id: str) -> StoredVersion | None: ...

    @abstractmethod
    def write(self, project_id: str, body: bytes, metadata: dict[str, str]) -> str:
        """A new current version, and terraform's digest of it; returns its S3 version id."""

    @abstractmethod
    def state_locked(self, project_id: str) -> bool:
        """Whether a terraform process holds the project's state lock (lock file or lock item)."""


def _encode_token(key_marker: str, version_marker: str) -> str:
    raw = json.dumps({"k": key_marker, "v": version_marker}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, key: str) -> str:
    try:
        marker = json.loads(base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()))
    except (ValueError, binascii.Error) as exc:
        raise InvalidRequest("the next token is not one this API issued", "next") from exc
    if not isinstance(marker, dict) or marker.get("k") != key or not isinstance(marker.get("v"), str):
        raise InvalidRequest("the next token is not one this API issued", "next")
    return str(marker["v"])


class S3StateHistory(StateHistory):
    def __init__(self, bucket: str, lock_table: str) -> None:
        self.bucket = bucket
        self.client = aws.s3()
        self.locks = aws.dynamodb().Table(lock_table)

    def _read(self, key: str, version_id: str) -> tuple[dict[str, Any], dict[str, str]] | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key, VersionId=version_id)
            body = response["Body"].read()
        except ClientError as exc:
            if aws.error_code(exc) in MISSING:
                return None  # expired by the lifecycle rule between the listing and the read
            raise aws.unavailable(WHAT, exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable(WHAT, exc) from exc
        try:
            document = json.loads(body)
        except ValueError:
            document = {}
        return (document if isinstance(document, dict) else {}), dict(response.get("Metadata") or {})

    def page(self, project_id: str, limit: int, token: str | None) -> tuple[list[StoredVersion], str | None]:
        key = state_key(project_id)
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Prefix": key, "MaxKeys": limit}
        if token:
            arguments |= {"KeyMarker": key, "VersionIdMarker": _decode_token(token, key)}
        with aws.translated(WHAT):
            listing = self.client.list_object_versions(**arguments)
        versions: list[StoredVersion] = []
        for entry in listing.get("Versions", []):
            if entry.get("Key") != key:
                continue  # the lock file (``<key>.tflock``, listed after the state's versions)
            read = self._read(key, str(entry["VersionId"]))
            if read is None:
                continue
            document, metadata = read
            versions.append(
                StoredVersion(
                    version_id=str(entry["VersionId"]),
                    last_modified=entry["LastModified"].isoformat().replace("+00:00", "Z"),
                    size=int(entry.get("Size", 0)),
                    is_latest=bool(entry.get("IsLatest")),
                    document=document,
                    metadata=metadata,
                )
            )
        following = None
        if listing.get("IsTruncated") and listing.get("NextKeyMarker") == key:
            following = _encode_token(key, str(listing.get("NextVersionIdMarker", "")))
        return versions, following

    def all(self, project_id: str) -> Iterator[StoredVersion]:
        token: str | None = None
        while True:
            versions, token = self.page(project_id, 100, token)
            yield from versions
            if token is None:
                return

    def current(self, project_id: str) -> StoredVersion | None:
        versions, _ = self.page(project_id, 1, None)
        latest = versions[0] if versions else None
        return latest if latest is not None and latest.is_latest else None

    def write(self, project_id: str, body: bytes, metadata: dict[str, str]) -> str:
        # The bucket's default encryption (the service key) applies, as to terraform's own writes.
        with aws.translated(WHAT):
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=state_key(project_id),
                Body=body,
                ContentType="application/json",
                Metadata=metadata,
            )
        digest = {"LockID": f"{state_lock_id(self.bucket, project_id)}-md5", "Digest": md5_digest(body)}
        with aws.translated(LOCKS):
            self.locks.put_item(Item=digest)
        return str(response.get("VersionId", ""))

    def state_locked(self, project_id: str) -> bool:
        """Either kind of terraform's lock: the lock file (1.10+) or the lock table's item."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=state_lockfile_key(project_id))
            return True
        except ClientError as exc:
            if aws.error_code(exc) not in MISSING:
                raise aws.unavailable(WHAT, exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable(WHAT, exc) from exc
        item = aws.get_item(self.locks, {"LockID": state_lock_id(self.bucket, project_id)}, LOCKS)
        return item is not None and "Info" in item


@cache
def state_history(bucket: str, lock_table: str) -> StateHistory:
    return S3StateHistory(bucket, lock_table)
