"""Everything the runner reads from and writes to the service's own AWS resources.

The job record is written while terraform runs (phase, percent, log tail) and at the end (result
or error); the project record gets outputs, validation, plan and state summaries. Writes that
finish a job are conditional on the job still being active, so a record the workflow already
closed (a timeout, say) is never reopened.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from core.records import (
    DeploymentStatus,
    JobStatus,
    Phase,
    iso_now,
    log_key,
    plan_key,
    state_key,
    state_lock_id,
    stored_json,
    workspace_prefix,
)
from runner.overrides import RESERVED_PREFIX
from runner.settings import RunnerSettings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_secretsmanager.client import SecretsManagerClient

LOGGER = logging.getLogger("runner.store")
MAX_WORKSPACE_BYTES = 20 * 1024 * 1024
ACTIVE = (JobStatus.PENDING.value, JobStatus.PROCESSING.value)
# Standard retry mode backs off on throttling; the runner must outlast a throttled table, not fail on it.
AWS_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="provisioner-runner",
)


class WorkspaceError(Exception):
    """The job's workspace is missing, too large or holds a path it may not."""


@dataclass(frozen=True)
class JobContext:
    """What the API recorded about the job before the build started."""

    action: str
    variables_secret_id: str | None
    variables_version_id: str | None


class RunStore:
    def __init__(self, settings: RunnerSettings, session: boto3.session.Session | None = None) -> None:
        self.settings = settings
        self._session = session = session or boto3.session.Session(region_name=settings.region)
        endpoint = settings.aws_endpoint_url
        dynamodb = session.resource("dynamodb", config=AWS_CONFIG, endpoint_url=endpoint)
        self.jobs: Table = dynamodb.Table(settings.jobs_table)
        self.projects: Table = dynamodb.Table(settings.projects_table)
        self.locks: Table = dynamodb.Table(settings.lock_table)
        self.s3: S3Client = session.client("s3", config=AWS_CONFIG, endpoint_url=endpoint)
        self._last_log_size = -1

    @functools.cached_property
    def secrets(self) -> SecretsManagerClient:
        """Only jobs with variables read a secret: most never pay for this client."""
        return self._session.client(
            "secretsmanager", config=AWS_CONFIG, endpoint_url=self.settings.aws_endpoint_url
        )

    # --- reading ------------------------------------------------------------------------------

    def load_job(self) -> JobContext:
        item = self.jobs.get_item(Key={"jobId": self.settings.job_id}, ConsistentRead=True).get("Item")
        if item is None:
            raise WorkspaceError(f"job {self.settings.job_id} has no record")
        if item.get("projectId") != self.settings.project_id:
            raise WorkspaceError(f"job {self.settings.job_id} belongs to another project")
        reference = item.get("variablesRef")
        if not isinstance(reference, dict):
            reference = {}
        return JobContext(
            action=str(item.get("action", self.settings.action.value)),
            variables_secret_id=_optional_str(reference, "secretId"),
            variables_version_id=_optional_str(reference, "versionId"),
        )

    def download_workspace(self, destination: Path) -> list[str]:
        """Copy ``workspaces/<projectId>/<jobId>/`` into a directory; returns the relative paths."""
        prefix = workspace_prefix(self.settings.project_id, self.settings.job_id)
        paginator = self.s3.get_paginator("list_objects_v2")
        files: list[str] = []
        total = 0
        root = destination.resolve()
        for page in paginator.paginate(Bucket=self.settings.workspaces_bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                relative = entry["Key"][len(prefix) :]
                total += entry.get("Size", 0)
                if total > MAX_WORKSPACE_BYTES:
                    raise WorkspaceError("the workspace is larger than the runner accepts")
                target = _safe_target(root, relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                body = self.s3.get_object(Bucket=self.settings.workspaces_bucket, Key=entry["Key"])["Body"]
                target.write_bytes(body.read())
                files.append(relative)
        if not files:
            raise WorkspaceError(f"no code found under s3://{self.settings.workspaces_bucket}/{prefix}")
        return sorted(files)

    def load_variables(self, context: JobContext) -> dict[str, Any]:
        if context.variables_secret_id is None:
            return {}
        arguments: dict[str, Any] = {"SecretId": context.variables_secret_id}
        if context.variables_version_id:
            arguments["VersionId"] = context.variables_version_id
        secret = self.secrets.get_secret_value(**arguments)
        values = json.loads(secret.get("SecretString") or "{}")
        if not isinstance(values, dict):
            raise WorkspaceError("the job's variables are not a JSON object")
        return values

    def read_state(self) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(
                Bucket=self.settings.state_bucket, Key=state_key(self.settings.project_id)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        document = json.loads(body["Body"].read())
        return document if isinstance(document, dict) else None

    # --- the state lock -----------------------------------------------------------------------

    def state_lock(self) -> tuple[str, dict[str, Any]] | None:
        """Terraform's lock on this project's state: (its item text, its parsed info), or None."""
        lock_id = state_lock_id(self.settings.state_bucket, self.settings.project_id)
        item = self.locks.get_item(Key={"LockID": lock_id}, ConsistentRead=True).get("Item")
        if not item or "Info" not in item:
            return None
        raw = str(item["Info"])
        return raw, stored_json(raw, {})

    def delete_state_lock(self, raw_info: str) -> bool:
        lock_id = state_lock_id(self.settings.state_bucket, self.settings.project_id)
        try:
            self.locks.delete_item(
                Key={"LockID": lock_id},
                ConditionExpression="Info = :info",
                ExpressionAttributeValues={":info": raw_info},
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    # --- progress -----------------------------------------------------------------------------

    def mark_started(self) -> None:
        self._update_job(
            "SET #status = :processing, phase = :phase, updatedAt = :now, buildId = :build",
            {
                ":processing": JobStatus.PROCESSING.value,
                ":phase": Phase.INIT.value,
                ":now": iso_now(),
                ":build": _build_id(),
            },
        )

    def report_progress(self, phase: Phase, progress: int, log_tail: str) -> None:
        self._update_job(
            "SET phase = :phase, progress = :progress, logTail = :tail, updatedAt = :now",
            {":phase": phase.value, ":progress": progress, ":tail": log_tail, ":now": iso_now()},
        )

    def upload_log(self, text: str) -> None:
        if len(text) == self._last_log_size:
            return
        self.s3.put_object(
            Bucket=self.settings.logs_bucket,
            Key=log_key(self.settings.project_id, self.settings.job_id),
            Body=text.encode(),
            ContentType="text/plain; charset=utf-8",
        )
        self._last_log_size = len(text)

    def upload_plan(self, plan: Mapping[str, Any]) -> str:
        key = plan_key(self.settings.project_id, self.settings.job_id)
        self.s3.put_object(
            Bucket=self.settings.logs_bucket,
            Key=key,
            Body=json.dumps(plan).encode(),
            ContentType="application/json",
        )
        return key

    # --- results ------------------------------------------------------------------------------

    def record_validation(self, validation: Mapping[str, Any]) -> None:
        self._update_project(
            "SET validationJson = :validation, lastUpdated = :now",
            {":validation": json.dumps(validation), ":now": iso_now()},
        )

    def record_plan(self, summary: Mapping[str, int], key: str) -> None:
        self._update_job(
            "SET planSummary = :summary, planKey = :key, updatedAt = :now",
            {":summary": dict(summary), ":key": key, ":now": iso_now()},
        )
        self._update_project(
            "SET planSummary = :summary, planKey = :key, planJobId = :job",
            {":summary": dict(summary), ":key": key, ":job": self.settings.job_id},
        )

    def complete(
        self,
        *,
        message: str,
        log_tail: str,
        outputs: Mapping[str, Any] | None,
        deployment_status: DeploymentStatus | None,
        state_summary: Mapping[str, Any] | None,
        sensitive_paths: Mapping[str, Any] | None,
    ) -> None:
        now = iso_now()
        outputs_json = json.dumps(outputs or {})
        self._update_job(
            "SET #status = :completed, progress = :hundred, phase = :done, endTime = :now, updatedAt = :now, "
            "resultMessage = :message, logTail = :tail, outputsJson = :outputs",
            {
                ":completed": JobStatus.COMPLETED.value,
                ":hundred": 100,
                ":done": Phase.DONE.value,
                ":now": now,
                ":message": message,
                ":tail": log_tail,
                ":outputs": outputs_json,
            },
        )
        if deployment_status is not None:
            values: dict[str, Any] = {
                ":status": deployment_status.value,
                ":job": self.settings.job_id,
                ":outputs": outputs_json,
                ":now": now,
            }
            expression = (
                "SET deploymentStatus = :status, deploymentJobId = :job, outputsJson = :outputs, "
                "lastUpdated = :now"
            )
            if state_summary is not None:
                expression += ", stateSummary = :state"
                values[":state"] = dict(state_summary)
            if sensitive_paths is not None:
                expression += ", sensitivePathsJson = :paths"
                values[":paths"] = json.dumps(sensitive_paths)
            self._update_project(expression, values)
        self.release_project_lock()

    def fail(
        self,
        *,
        error: str,
        log_tail: str,
        diagnostics: list[dict[str, Any]],
        deployment_status: DeploymentStatus | None,
    ) -> None:
        now = iso_now()
        self._update_job(
            "SET #status = :failed, endTime = :now, updatedAt = :now, #error = :error, "
            "resultMessage = :error, logTail = :tail, diagnosticsJson = :diagnostics",
            {
                ":failed": JobStatus.FAILED.value,
                ":now": now,
                ":error": error,
                ":tail": log_tail,
                ":diagnostics": json.dumps(diagnostics[:10]),
            },
        )
        if deployment_status is not None:
            self._update_project(
                "SET deploymentStatus = :status, deploymentJobId = :job, lastUpdated = :now",
                {":status": deployment_status.value, ":job": self.settings.job_id, ":now": now},
            )
        self.release_project_lock()

    def release_project_lock(self) -> None:
        """Free the project for its next job, if this job still holds it."""
        try:
            self.projects.update_item(
                Key={"projectId": self.settings.project_id},
                UpdateExpression="REMOVE activeJobId, activeAction",
                ConditionExpression="activeJobId = :job",
                ExpressionAttributeValues={":job": self.settings.job_id},
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise

    # --- helpers ------------------------------------------------------------------------------

    def _update_job(self, expression: str, values: dict[str, Any]) -> None:
        names = {"#status": "status"}
        if "#error" in expression:
            names["#error"] = "error"
        try:
            self.jobs.update_item(
                Key={"jobId": self.settings.job_id},
                UpdateExpression=expression,
                ConditionExpression=(
                    "attribute_exists(jobId) AND #status IN (:active_pending, :active_processing)"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    **values,
                    ":active_pending": ACTIVE[0],
                    ":active_processing": ACTIVE[1],
                },
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
            LOGGER.warning("job %s is no longer active; update skipped", self.settings.job_id)

    def _update_project(self, expression: str, values: dict[str, Any]) -> None:
        self.projects.update_item(
            Key={"projectId": self.settings.project_id},
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _optional_str(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return str(value) if value else None


def _build_id() -> str:
    return os.environ.get("CODEBUILD_BUILD_ID", "local")


def _safe_target(root: Path, relative: str) -> Path:
    """Refuse any object key that would land outside the workspace or on a reserved name."""
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or ".." in pure.parts or "\\" in relative or "\x00" in relative:
        raise WorkspaceError(f"refusing workspace path {relative!r}")
    if pure.name.startswith(RESERVED_PREFIX):
        raise WorkspaceError(
            f"{relative}: names starting with {RESERVED_PREFIX} are reserved for the service"
        )
    target = (root / pure).resolve()
    if not target.is_relative_to(root):
        raise WorkspaceError(f"refusing workspace path {relative!r}")
    return target
