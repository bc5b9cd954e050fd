"""S3: submitted code (workspaces bucket), terraform state (state bucket), logs and plans (logs bucket)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from core.records import drift_key, log_key, plan_key, review_key, state_key, workspace_prefix
from functions.dal import aws

MISSING = ("NoSuchKey", "404", "NotFound", "InvalidRange")


class CodeStore(ABC):
    @abstractmethod
    def put(self, project_id: str, job_id: str, files: dict[str, str]) -> None: ...

    @abstractmethod
    def copy(self, project_id: str, from_job: str, to_job: str) -> list[str]: ...

    @abstractmethod
    def read(self, project_id: str, job_id: str) -> dict[str, str]: ...

    @abstractmethod
    def delete(self, project_id: str, job_id: str) -> None: ...


class StateReader(ABC):
    @abstractmethod
    def read(self, project_id: str) -> dict[str, Any] | None: ...


class ArtifactReader(ABC):
    @abstractmethod
    def plan(self, project_id: str, job_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def drift_plan(self, project_id: str, job_id: str) -> dict[str, Any] | None:
        """A drift check's redacted refresh-only plan, None before it exists."""

    @abstractmethod
    def review(self, project_id: str, job_id: str) -> dict[str, Any] | None:
        """A plan's review document (core.plans plus cost and markdown), None before it exists."""

    @abstractmethod
    def save_review(self, project_id: str, job_id: str, document: dict[str, Any]) -> str:
        """Store a plan's review; returns its key."""

    @abstractmethod
    def log(self, project_id: str, job_id: str, offset: int) -> tuple[bytes, int]:
        """Log bytes from ``offset`` and the log's total size (0 when nothing was written yet)."""


class S3CodeStore(CodeStore):
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.client = aws.s3()

    def put(self, project_id: str, job_id: str, files: dict[str, str]) -> None:
        prefix = workspace_prefix(project_id, job_id)
        try:
            for path, text in files.items():
                self.client.put_object(Bucket=self.bucket, Key=prefix + path, Body=text.encode())
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the workspace bucket", exc) from exc

    def _keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [entry["Key"] for entry in page.get("Contents", [])]
        return keys

    def copy(self, project_id: str, from_job: str, to_job: str) -> list[str]:
        source, target = workspace_prefix(project_id, from_job), workspace_prefix(project_id, to_job)
        copied = []
        try:
            for key in self._keys(source):
                relative = key[len(source) :]
                self.client.copy_object(
                    Bucket=self.bucket, Key=target + relative, CopySource={"Bucket": self.bucket, "Key": key}
                )
                copied.append(relative)
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the workspace bucket", exc) from exc
        return copied

    def read(self, project_id: str, job_id: str) -> dict[str, str]:
        prefix = workspace_prefix(project_id, job_id)
        files: dict[str, str] = {}
        try:
            for key in self._keys(prefix):
                body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                files[key[len(prefix) :]] = body.decode("utf-8", errors="replace")
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the workspace bucket", exc) from exc
        return files

    def delete(self, project_id: str, job_id: str) -> None:
        try:
            for key in self._keys(workspace_prefix(project_id, job_id)):
                self.client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the workspace bucket", exc) from exc


def _read_json(bucket: str, key: str, what: str) -> dict[str, Any] | None:
    try:
        body = aws.s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if aws.error_code(exc) in MISSING:
            return None
        raise aws.unavailable(what, exc) from exc
    except BotoCoreError as exc:
        raise aws.unavailable(what, exc) from exc
    document = json.loads(body)
    return document if isinstance(document, dict) else None


class S3StateReader(StateReader):
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def read(self, project_id: str) -> dict[str, Any] | None:
        return _read_json(self.bucket, state_key(project_id), "the state bucket")


class S3ArtifactReader(ArtifactReader):
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.client = aws.s3()

    def plan(self, project_id: str, job_id: str) -> dict[str, Any] | None:
        return _read_json(self.bucket, plan_key(project_id, job_id), "the logs bucket")

    def drift_plan(self, project_id: str, job_id: str) -> dict[str, Any] | None:
        return _read_json(self.bucket, drift_key(project_id, job_id), "the logs bucket")

    def review(self, project_id: str, job_id: str) -> dict[str, Any] | None:
        return _read_json(self.bucket, review_key(project_id, job_id), "the logs bucket")

    def save_review(self, project_id: str, job_id: str, document: dict[str, Any]) -> str:
        key = review_key(project_id, job_id)
        with aws.translated("the logs bucket"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=json.dumps(document).encode(),
                ContentType="application/json",
            )
        return key

    def log(self, project_id: str, job_id: str, offset: int) -> tuple[bytes, int]:
        key = log_key(project_id, job_id)
        try:
            size = int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
            if offset >= size:
                return b"", size
            body = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={offset}-")[
                "Body"
            ].read()
        except ClientError as exc:
            if aws.error_code(exc) in MISSING:
                return b"", 0
            raise aws.unavailable("the logs bucket", exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable("the logs bucket", exc) from exc
        return body, size


@cache
def code_store(bucket: str) -> CodeStore:
    return S3CodeStore(bucket)


@cache
def state_reader(bucket: str) -> StateReader:
    return S3StateReader(bucket)


@cache
def artifact_reader(bucket: str) -> ArtifactReader:
    return S3ArtifactReader(bucket)
