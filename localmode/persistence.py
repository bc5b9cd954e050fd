"""Local mode's data directory: the service's records, code, logs, plans, state and variables
survive a restart of the emulator (which keeps everything in memory).

Every write the emulator serves for the service's tables, buckets and secrets schedules a save,
debounced, so a crash loses at most the last fraction of a second. Saves are atomic per file.
The emulated sandbox resources themselves (what user code created) are not kept: after a
restart terraform finds them gone and creates them again on the next deploy.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from localmode.emulator import ServiceResources, emulator_session

SAVE_DEBOUNCE_SECONDS = 0.2
SECRETS_PREFIX = "provisioner/"
DYNAMODB_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
SECRETS_WRITES = ("CreateSecret", "PutSecretValue", "UpdateSecret", "DeleteSecret", "RestoreSecret")


class DataDirectory:
    def __init__(self, root: Path, endpoint_url: str, resources: ServiceResources) -> None:
        self.root = root
        self.resources = resources
        session = emulator_session(resources.region)
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
        self.s3 = session.client("s3", endpoint_url=endpoint_url)
        self.secrets = session.client("secretsmanager", endpoint_url=endpoint_url)
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._saver = threading.Thread(target=self._save_loop, name="data-saver", daemon=True)
        self.saves = 0
        # Saves run every fraction of a second while jobs write, and used to list every bucket and
        # rewrite (and fsync) every file each time, competing with the emulator for the CPU.
        # Now only the buckets written since the last save are listed (all of them when a write
        # cannot be placed), and a file whose content has not changed is not written again.
        self._marks = threading.Lock()
        self._dirty_buckets: set[str] = set(resources.buckets())
        # Tables likewise: every save scanned all five (and listed the secrets), and a scan holds
        # the emulator's DynamoDB lock, so the requests of a job being submitted waited for it.
        self._dirty_tables: set[str] = set(self._tables())
        self._dirty_secrets = True
        self._written: dict[Path, bytes] = {}

    # --- what counts as a write ---------------------------------------------------------------

    def on_write(self, method: str, operation: str, tables: frozenset[str] | None = None) -> None:
        """Called by the emulator for every mutating request; reads (Scan, GetItem) do not count.
        ``tables``: those a DynamoDB write names (None: not known, so every table is read again)."""
        if operation.startswith("/"):
            self._mark_bucket(operation)
            self._dirty.set()
        elif operation in DYNAMODB_WRITES:
            kept = set(self._tables())
            with self._marks:
                self._dirty_tables.update(kept if tables is None else kept & tables)
            # A write to a table not kept (terraform's state locks) needs no save.
            if tables is None or kept & tables:
                self._dirty.set()
        elif operation in SECRETS_WRITES:
            with self._marks:
                self._dirty_secrets = True
            self._dirty.set()

    def _mark_bucket(self, path: str) -> None:
        """A path-style S3 write names its bucket first; any other path (another service's REST
        call, a virtual-hosted request) could be any bucket's, so every bucket is listed again."""
        bucket = path[1:].split("/", 1)[0]
        buckets = self.resources.buckets()
        with self._marks:
            self._dirty_buckets.update((bucket,) if bucket in buckets else buckets)

    # --- background saving --------------------------------------------------------------------

    def start(self) -> None:
        self._saver.start()

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()
        if self._saver.is_alive():
            self._saver.join()
        self.save()

    def _save_loop(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.is_set():
                return
            time.sleep(SAVE_DEBOUNCE_SECONDS)
            self._dirty.clear()
            try:
                self.save()
            except Exception as exc:
                print(f"local data: save failed ({type(exc).__name__}: {exc}); retrying on the next write")
                self._dirty.set()

    # --- save ---------------------------------------------------------------------------------

    def save(self) -> None:
        with self._lock:
            with self._marks:
                buckets, self._dirty_buckets = self._dirty_buckets, set()
                tables, self._dirty_tables = self._dirty_tables, set()
                secrets, self._dirty_secrets = self._dirty_secrets, False
            try:
                for table in self._tables():
                    if table not in tables:
                        continue
                    items = []
                    for page in self.dynamodb.get_paginator("scan").paginate(TableName=table):
                        items += page.get("Items", [])
                    self._write_json(self.root / "tables" / f"{table}.json", _binary_as_text(items))
                    tables.discard(table)
                for bucket in sorted(buckets):
                    self._save_bucket(bucket)
                    buckets.discard(bucket)
                if secrets:
                    self._write_json(self.root / "secrets.json", self._secret_values(), private=True)
                    secrets = False
            finally:
                with self._marks:  # what a failed save did not reach
                    self._dirty_buckets |= buckets
                    self._dirty_tables |= tables
                    self._dirty_secrets = self._dirty_secrets or secrets
            self.saves += 1

    def _write_json(self, path: Path, value: Any, *, private: bool = False) -> None:
        content = json.dumps(value).encode()
        digest = hashlib.blake2b(content, digest_size=16).digest()
        if self._written.get(path) == digest and path.is_file():
            return
        _write_bytes(path, content, private=private)
        self._written[path] = digest

    def _tables(self) -> list[str]:
        # Terraform's state locks are not kept: after a restart no runner can still hold one.
        r = self.resources
        return [r.jobs_table, r.projects_table, r.policies_table, r.notifications_table, r.idempotency_table]

    def _save_bucket(self, bucket: str) -> None:
        directory = self.root / "buckets" / bucket
        manifest_path = self.root / "buckets" / f"{bucket}.json"
        manifest: dict[str, str] = _read_json(manifest_path, {})
        current: dict[str, str] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                current[entry["Key"]] = entry["ETag"]
        for key, etag in current.items():
            target = directory / key
            if manifest.get(key) != etag or not target.is_file():
                body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                _write_bytes(target, body)
        for key in set(manifest) - set(current):
            (directory / key).unlink(missing_ok=True)
        self._write_json(manifest_path, current)

    def _secret_values(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for page in self.secrets.get_paginator("list_secrets").paginate():
            for secret in page.get("SecretList", []):
                name = secret["Name"]
                if not name.startswith(SECRETS_PREFIX) or secret.get("DeletedDate"):
                    continue
                with contextlib.suppress(ClientError):
                    values[name] = self.secrets.get_secret_value(SecretId=name)["SecretString"]
        return values

    # --- restore ------------------------------------------------------------------------------

    def restore(self) -> dict[str, int]:
        """Load a previous run's data into a fresh emulator; returns what was loaded."""
        counts = {"items": 0, "objects": 0, "secrets": 0}
        for table in self._tables():
            items: list[dict[str, Any]] = _binary_from_text(
                _read_json(self.root / "tables" / f"{table}.json", [])
            )
            for start in range(0, len(items), 25):
                batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
                self.dynamodb.batch_write_item(RequestItems={table: batch})  # type: ignore[dict-item]
            counts["items"] += len(items)
        for bucket in self.resources.buckets():
            manifest: dict[str, str] = _read_json(self.root / "buckets" / f"{bucket}.json", {})
            for key in manifest:
                path = self.root / "buckets" / bucket / key
                if path.is_file():
                    self.s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
                    counts["objects"] += 1
        secrets: dict[str, str] = _read_json(self.root / "secrets.json", {})
        for name, value in secrets.items():
            try:
                self.secrets.create_secret(Name=name, SecretString=value)
            except ClientError:
                self.secrets.put_secret_value(SecretId=name, SecretString=value)
            counts["secrets"] += 1
        self._repoint_secret_references(secrets)
        return counts

    def _repoint_secret_references(self, secrets: dict[str, str]) -> None:
        """Secret ARNs and version ids change when secrets are re-created: point records at the new ones."""
        if not secrets:
            return
        current = {}
        for name in secrets:
            described = self.secrets.describe_secret(SecretId=name)
            version = next(
                (
                    v
                    for v, stages in (described.get("VersionIdsToStages") or {}).items()
                    if "AWSCURRENT" in stages
                ),
                None,
            )
            current[name] = {"secretId": described["ARN"], "versionId": version}
        serializer, deserializer = TypeSerializer(), TypeDeserializer()
        for table, key in (
            (self.resources.jobs_table, "jobId"),
            (self.resources.projects_table, "projectId"),
        ):
            for page in self.dynamodb.get_paginator("scan").paginate(TableName=table):
                for item in page.get("Items", []):
                    reference = item.get("variablesRef")
                    if not reference or "M" not in reference:
                        continue
                    plain = deserializer.deserialize(reference)
                    name = _secret_name(str(plain.get("secretId", "")))
                    if name in current:
                        self.dynamodb.update_item(
                            TableName=table,
                            Key={key: item[key]},
                            UpdateExpression="SET variablesRef = :ref",
                            ExpressionAttributeValues={":ref": serializer.serialize(current[name])},
                        )


def _secret_name(arn_or_name: str) -> str:
    """``arn:aws:secretsmanager:...:secret:provisioner/p/variables-AbCdEf`` -> ``provisioner/p/variables``."""
    if ":secret:" not in arn_or_name:
        return arn_or_name
    # The ARN ends in "-" and six random characters.
    return arn_or_name.split(":secret:", 1)[1].rsplit("-", 1)[0]


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def _write_bytes(path: Path, content: bytes, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    if private:
        Path(handle.name).chmod(0o600)
    Path(handle.name).replace(path)


def _binary_as_text(value: Any) -> Any:
    """Items as DynamoDB's own JSON writes them: boto3 hands binary (``B``, ``BS``) over as bytes,
    which JSON has no form for, and the wire format's is base64 text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key: _binary_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_binary_as_text(item) for item in value]
    return value


def _binary_from_text(value: Any) -> Any:
    """The reverse, for boto3: under a ``B`` or ``BS`` type key, text is base64 (an attribute's own
    value is always an object, so an attribute named "B" is not mistaken for one)."""
    if isinstance(value, dict):
        restored: dict[str, Any] = {}
        for key, item in value.items():
            if key == "B" and isinstance(item, str):
                restored[key] = base64.b64decode(item)
            elif key == "BS" and isinstance(item, list) and all(isinstance(i, str) for i in item):
                restored[key] = [base64.b64decode(i) for i in item]
            else:
                restored[key] = _binary_from_text(item)
        return restored
    if isinstance(value, list):
        return [_binary_from_text(item) for item in value]
    return value
