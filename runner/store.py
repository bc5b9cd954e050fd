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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.records import (
    DeploymentStatus,
    Phase,
    drift_key,
    iso_now,
    log_key,
    plan_key,
    saved_plan_prefix,
    state_key,
    state_lock_id,
    state_lockfile_key,
    workspace_prefix,
)
from core.state_locks import StateLock, lockfile_lock, state_lock
from core.transitions import (
    Delete,
    Update,
    job_completed,
    job_drift_run,
    job_failed,
    job_plan_saved,
    job_planned,
    job_progressed,
    job_started,
    job_state_written,
    lockfile_removed,
    project_deployment_recorded,
    project_released,
    project_updated,
    state_lock_removed,
)
from runner.item_table import ItemTable
from runner.overrides import RESERVED_PREFIX
from runner.settings import RunnerSettings

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_secretsmanager.client import SecretsManagerClient

LOGGER = logging.getLogger("runner.store")
MAX_WORKSPACE_BYTES = 20 * 1024 * 1024
# Standard retry mode backs off on throttling; the runner must outlast a throttled table, not fail on it.
AWS_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="provisioner-runner",
)


SAVED_PLAN_FILE = "tfplan"
SAVED_LOCK_FILE = "terraform.lock.hcl"
LOCK_FILE = ".terraform.lock.hcl"


class WorkspaceError(Exception):
    """The job's workspace is missing, too large or holds a path it may not."""


class SavedPlanError(Exception):
    """The plan a stage apply is to apply is not there, or is not this project's."""


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
        dynamodb = session.client("dynamodb", config=AWS_CONFIG, endpoint_url=endpoint)
        self.jobs = ItemTable(dynamodb, settings.jobs_table)
        self.projects = ItemTable(dynamodb, settings.projects_table)
        self.locks = ItemTable(dynamodb, settings.lock_table)
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

    def state_version_id(self) -> str | None:
        """The S3 version id of the project's current state (None: no state yet)."""
        try:
            head = self.s3.head_object(
                Bucket=self.settings.state_bucket, Key=state_key(self.settings.project_id)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        version = head.get("VersionId")
        return str(version) if version and version != "null" else None

    def record_state_written(self, before: str | None) -> str | None:
        """Record on the job the state version its apply or destroy wrote, if it wrote one (the
        current version is no longer the one before it); returns that version id."""
        try:
            # The current object, not a VersionId read: the runner's role needs no GetObjectVersion.
            body = self.s3.get_object(
                Bucket=self.settings.state_bucket, Key=state_key(self.settings.project_id)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        version = str(body.get("VersionId") or "")
        if not version or version in ("null", before):
            return None
        document = json.loads(body["Body"].read())
        serial = int(document.get("serial") or 0) if isinstance(document, dict) else 0
        self._apply(self.jobs, job_state_written(self.settings.job_id, iso_now(), version, serial))
        return version

    def read_log(self) -> str:
        """The job's log as an earlier build of it left it ("" when there is none)."""
        try:
            body = self.s3.get_object(
                Bucket=self.settings.logs_bucket, Key=log_key(self.settings.project_id, self.settings.job_id)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return ""
            raise
        return bytes(body["Body"].read()).decode("utf-8", "replace")

    # --- saved plans --------------------------------------------------------------------------

    def save_plan(self, plan_file: Path, lock_file: Path | None) -> str:
        """The binary plan and the lock file it was made with, kept in the state bucket as the
        state is (the plan holds the variables' values and the prior state); returns the prefix."""
        prefix = saved_plan_prefix(self.settings.project_id, self.settings.job_id)
        encryption: dict[str, str] = {}
        if self.settings.state_kms_key_id:
            encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.settings.state_kms_key_id}
        uploads = [(plan_file, SAVED_PLAN_FILE)]
        if lock_file is not None and lock_file.is_file():
            uploads.append((lock_file, SAVED_LOCK_FILE))
        for path, name in uploads:
            self.s3.put_object(
                Bucket=self.settings.state_bucket,
                Key=prefix + name,
                Body=path.read_bytes(),
                ContentType="application/octet-stream",
                **encryption,  # type: ignore[arg-type]
            )
        return prefix

    def load_saved_plan(self, job_id: str) -> tuple[dict[str, Any], str]:
        """(``savedPlan``, action) of the job whose plan is to be applied."""
        item = self.jobs.get_item(Key={"jobId": job_id}, ConsistentRead=True).get("Item")
        if item is None:
            raise SavedPlanError(f"no saved plan: job {job_id} has no record")
        if item.get("projectId") != self.settings.project_id:
            raise SavedPlanError(f"no saved plan: job {job_id} belongs to another project")
        saved = item.get("savedPlan")
        if not isinstance(saved, dict) or not saved.get("key"):
            raise SavedPlanError(f"no saved plan for job {job_id}")
        return dict(saved), str(item.get("action", ""))

    def download_saved_plan(self, saved_plan: Mapping[str, Any], destination: Path) -> None:
        """``tfplan`` and the lock file it was planned with into the working directory."""
        prefix = str(saved_plan["key"])
        source = self.settings.source_plan_job_id
        if prefix != saved_plan_prefix(self.settings.project_id, source):
            raise SavedPlanError(f"no saved plan: {prefix} is not where job {source}'s plan is kept")
        try:
            plan = self.s3.get_object(Bucket=self.settings.state_bucket, Key=prefix + SAVED_PLAN_FILE)
        except ClientError as exc:
            where = f"s3://{self.settings.state_bucket}/{prefix}{SAVED_PLAN_FILE}"
            raise SavedPlanError(f"no saved plan at {where}: {exc}") from exc
        (destination / SAVED_PLAN_FILE).write_bytes(plan["Body"].read())
        try:
            lock = self.s3.get_object(Bucket=self.settings.state_bucket, Key=prefix + SAVED_LOCK_FILE)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                raise
            return
        (destination / LOCK_FILE).write_bytes(lock["Body"].read())

    # --- the state lock -----------------------------------------------------------------------

    def state_locks(self) -> list[StateLock]:
        """Terraform's locks on this project's state, of either kind: the lock file (1.10+) and
        the lock table's item (older versions, or a 1.10+ job moving off the table)."""
        held = [self.lockfile_lock(), self.dynamodb_lock()]
        return [lock for lock in held if lock is not None]

    def state_lock(self) -> StateLock | None:
        """The first of the project's state locks, or None."""
        return next(iter(self.state_locks()), None)

    def dynamodb_lock(self) -> StateLock | None:
        lock_id = state_lock_id(self.settings.state_bucket, self.settings.project_id)
        return state_lock(self.locks.get_item(Key={"LockID": lock_id}, ConsistentRead=True).get("Item"))

    def lockfile_lock(self) -> StateLock | None:
        bucket, key = self.settings.state_bucket, state_lockfile_key(self.settings.project_id)
        try:
            found = self.s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return lockfile_lock(bucket, key, found["Body"].read(), str(found.get("ETag", "")))

    def delete_state_lock(self, lock: StateLock) -> bool:
        """Delete this very lock; False if it is gone or another was taken since."""
        if lock.kind == "dynamodb":
            return self._apply(self.locks, state_lock_removed(lock.lock_id, lock.raw_info))
        bucket, key = lock.location
        try:
            self.s3.delete_object(**lockfile_removed(bucket, key, lock.etag or "").arguments())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "NoSuchKey", "404", "412"):
                return False
            raise
        return True

    def forget_state_digest(self) -> None:
        """Remove the MD5 digest item terraform keeps beside a DynamoDB lock: a job locking with
        the lock file alone no longer updates it, and a later job on terraform < 1.10 would find
        it stale and refuse the state. Without the item, that job trusts the state (S3 reads are
        consistent) and writes a fresh digest with its own state."""
        lock_id = state_lock_id(self.settings.state_bucket, self.settings.project_id)
        self.locks.delete_item(Key={"LockID": f"{lock_id}-md5"})

    # --- progress -----------------------------------------------------------------------------

    def mark_started(self, timeline: Sequence[Mapping[str, Any]] = ()) -> None:
        self._apply_job(job_started(self.settings.job_id, iso_now(), _build_id(), timeline))

    def report_progress(self, phase: Phase, progress: int, log_tail: str) -> None:
        self._apply_job(job_progressed(self.settings.job_id, iso_now(), phase, progress, log_tail))

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
        return self._upload_json(plan_key(self.settings.project_id, self.settings.job_id), plan)

    def upload_drift_plan(self, plan: Mapping[str, Any]) -> str:
        """A drift check's redacted refresh-only plan, beside the job's normal plan."""
        return self._upload_json(drift_key(self.settings.project_id, self.settings.job_id), plan)

    def _upload_json(self, key: str, document: Mapping[str, Any]) -> str:
        self.s3.put_object(
            Bucket=self.settings.logs_bucket,
            Key=key,
            Body=json.dumps(document).encode(),
            ContentType="application/json",
        )
        return key

    def record_drift_run(self, run: Mapping[str, Any]) -> None:
        self._apply_job(job_drift_run(self.settings.job_id, iso_now(), run))

    def build_phases(self) -> dict[str, int]:
        """CodeBuild's own phases of this build that ended before the runner started (queued,
        provisioning, source download, install...), in milliseconds: where a build's start-up
        went. Empty where the build cannot be described (local mode's stand-in has no phases)."""
        build_id = os.environ.get("CODEBUILD_BUILD_ID")
        if not build_id:
            return {}
        # The build's own role (the job role has no CodeBuild rights); boto3's default chain.
        build_session = boto3.session.Session(region_name=self.settings.region)
        endpoint = self.settings.aws_endpoint_url
        client = build_session.client("codebuild", config=AWS_CONFIG, endpoint_url=endpoint)
        try:
            builds = client.batch_get_builds(ids=[build_id]).get("builds") or []
        except (ClientError, BotoCoreError):
            LOGGER.warning("this build's phases could not be read", exc_info=True)
            return {}
        return build_phase_durations(builds[0].get("phases") or []) if builds else {}

    # --- results ------------------------------------------------------------------------------

    def record_validation(self, validation: Mapping[str, Any]) -> None:
        if self.settings.speculative:
            return
        fields = {"validationJson": json.dumps(validation), "lastUpdated": iso_now()}
        self._apply(self.projects, project_updated(self.settings.project_id, fields))

    def record_plan(self, summary: Mapping[str, int], key: str) -> None:
        self._apply_job(job_planned(self.settings.job_id, iso_now(), summary, key))
        if self.settings.speculative:
            return  # a speculative plan is the job's alone: the project does not change
        fields = {"planSummary": dict(summary), "planKey": key, "planJobId": self.settings.job_id}
        self._apply(self.projects, project_updated(self.settings.project_id, fields))

    def record_saved_plan(self, saved_plan: Mapping[str, Any]) -> None:
        self._apply_job(job_plan_saved(self.settings.job_id, iso_now(), saved_plan))

    def planned(
        self, phase: Phase, progress: int, log_tail: str, timeline: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        """Stage plan's end: the job stays active (the workflow goes on), the project as it is."""
        self._apply_job(
            job_progressed(self.settings.job_id, iso_now(), phase, progress, log_tail, timeline=timeline)
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
        timeline: Sequence[Mapping[str, Any]] = (),
        ended_at: str | None = None,
    ) -> None:
        """``ended_at``: the moment the build's last span ends, so the spans meet the end time."""
        now = ended_at or iso_now()
        outputs_json = json.dumps(outputs or {})
        self._apply_job(
            job_completed(self.settings.job_id, now, message, log_tail, outputs_json, timeline=timeline)
        )
        if deployment_status is not None:
            recorded = project_deployment_recorded(
                self.settings.project_id,
                self.settings.job_id,
                now,
                deployment_status,
                outputs_json=outputs_json,
                state_summary=state_summary,
                sensitive_paths_json=None if sensitive_paths is None else json.dumps(sensitive_paths),
            )
            self._apply(self.projects, recorded)
        self.release_project_lock()

    def fail(
        self,
        *,
        error: str,
        log_tail: str,
        diagnostics: list[dict[str, Any]],
        deployment_status: DeploymentStatus | None,
        restore_previous: bool = False,
        timeline: Sequence[Mapping[str, Any]] = (),
        ended_at: str | None = None,
    ) -> None:
        """``restore_previous``: nothing was applied, so the project gets back what the job's lock
        replaced (its deployment status and code), as an undone submit does."""
        now = ended_at or iso_now()
        previous = self._previous_project() if restore_previous else None
        failed = job_failed(
            self.settings.job_id,
            now,
            error,
            log_tail=log_tail,
            diagnostics_json=json.dumps(diagnostics[:10]),
            timeline=timeline,
        )
        self._apply_job(failed)
        if deployment_status is not None:
            recorded = project_deployment_recorded(
                self.settings.project_id, self.settings.job_id, now, deployment_status
            )
            self._apply(self.projects, recorded)
        if not self.settings.speculative:
            self.release_project_lock(previous)

    def release_project_lock(self, restore: Mapping[str, Any] | None = None) -> None:
        """Free the project for its next job, if this job still holds it."""
        self._apply(
            self.projects,
            project_released(self.settings.project_id, self.settings.job_id, iso_now(), restore),
        )

    def _previous_project(self) -> dict[str, Any] | None:
        item = self.jobs.get_item(Key={"jobId": self.settings.job_id}, ConsistentRead=True).get("Item") or {}
        previous = item.get("previousProject")
        return dict(previous) if isinstance(previous, dict) and previous else None

    # --- helpers ------------------------------------------------------------------------------

    def _apply_job(self, change: Update) -> None:
        if not self._apply(self.jobs, change):
            LOGGER.warning("job %s is no longer active; update skipped", self.settings.job_id)

    @staticmethod
    def _apply(table: ItemTable, change: Update | Delete) -> bool:
        """Execute a transition; False when its condition did not hold. Other errors propagate:
        the runner's retries (botocore's standard mode) have already been spent."""
        try:
            if isinstance(change, Update):
                table.update_item(**change.arguments())
            else:
                table.delete_item(**change.arguments())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


def build_phase_durations(phases: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Milliseconds per finished CodeBuild phase, from its start and end times."""
    durations: dict[str, int] = {}
    for phase in phases:
        start, end = phase.get("startTime"), phase.get("endTime")
        name = str(phase.get("phaseType") or "")
        if name and isinstance(start, datetime) and isinstance(end, datetime):
            durations[name] = durations.get(name, 0) + max(0, int((end - start).total_seconds() * 1000))
    return durations


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
