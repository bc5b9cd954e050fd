"""The vocabulary shared by the API, the workflow and the runner: statuses, ids and where things live.

Status values are the seed API's (``spec/seed-api.md``) and are binding.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


TERMINAL_JOB_STATUSES: Final = frozenset({JobStatus.COMPLETED, JobStatus.FAILED})


class DeploymentStatus(StrEnum):
    NOT_DEPLOYED = "not_deployed"
    PENDING = "pending"
    DEPLOYED = "deployed"
    FAILED = "failed"
    DESTROYED = "destroyed"


class JobAction(StrEnum):
    DEPLOY = "deploy"
    DESTROY = "destroy"
    PLAN = "plan"
    VALIDATE = "validate"
    # A read-only check of the deployed code against reality: no lock, no state written.
    DRIFT = "drift"


class Phase(StrEnum):
    QUEUED = "queued"
    INIT = "init"
    VALIDATE = "validate"
    PLAN = "plan"
    APPLY = "apply"
    DESTROY = "destroy"
    DONE = "done"
    # A gated job whose plan waits for a person: no build runs meanwhile.
    AWAITING_APPROVAL = "awaiting_approval"
    # A gated job whose plan was discarded (by a person, or by its approval expiring).
    DISCARDED = "discarded"
    # A plan a policy refused: nothing was applied.
    POLICY_FAILED = "policy_failed"


class JobStage(StrEnum):
    """What one runner build does: the whole job, only its plan (kept for a later apply), or the
    apply of a plan saved by an earlier build."""

    RUN = "run"
    PLAN = "plan"
    APPLY = "apply"


class JobMode(StrEnum):
    """How the workflow runs a job: one build (direct), plan then wait for a person then apply
    (gated), plan then check the policies then apply, waiting only when a policy asks (checked),
    or apply a speculative plan's saved file (saved)."""

    DIRECT = "direct"
    GATED = "gated"
    CHECKED = "checked"
    SAVED = "saved"


PROJECT_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"
JOB_ID_PATTERN: Final = r"^(deploy|destroy|plan|validate|drift)-[0-9]{13}-[a-z0-9]{6,12}$"
_PROJECT_ID = re.compile(PROJECT_ID_PATTERN)
_JOB_ID = re.compile(JOB_ID_PATTERN)
CANCELLED_MESSAGE: Final = "cancelled"


def is_project_id(value: str) -> bool:
    # fullmatch: "$" alone would accept a trailing newline.
    return _PROJECT_ID.fullmatch(value) is not None


def is_job_id(value: str) -> bool:
    return _JOB_ID.fullmatch(value) is not None


def new_job_id(action: JobAction, now_ms: int | None = None) -> str:
    """``deploy-<epoch ms>-<random>``, the seed's shape."""
    stamp = now_ms if now_ms is not None else int(time.time() * 1000)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    suffix = "".join(secrets.choice(alphabet) for _ in range(9))
    return f"{action.value}-{stamp}-{suffix}"


def iso_now() -> str:
    """UTC timestamp with milliseconds and a Z, as in the seed (2024-01-01T00:00:00.000Z)."""
    return iso_at(epoch_ms())


def iso_at(moment_ms: int) -> str:
    """An epoch-milliseconds moment in the seed's timestamp shape."""
    moment = datetime.fromtimestamp(moment_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_after(moment: str, seconds: int) -> str:
    """One of our timestamps, ``seconds`` later, in the same shape (an approval's or a plan's expiry)."""
    later = datetime.fromisoformat(moment.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return later.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def code_digest(contents: Mapping[str, bytes]) -> str:
    """The identity of a job's code: sha256 over its paths and contents, in path order. The API
    takes it of the code it stores, the runner of the code it downloads; they compare equal."""
    digest = hashlib.sha256()
    for path in sorted(contents):
        digest.update(path.encode() + b"\0" + contents[path] + b"\0")
    return digest.hexdigest()


def epoch_ms() -> int:
    return int(time.time() * 1000)


# --- where things live ------------------------------------------------------------------------

WORKSPACES_PREFIX: Final = "workspaces/"
STATE_PREFIX: Final = "projects/"
LOGS_PREFIX: Final = "logs/"
PLANS_PREFIX: Final = "plans/"
SECRET_NAME_PREFIX: Final = "provisioner/"  # noqa: S105 - a name prefix, not a secret
JOBS_BY_PROJECT_INDEX: Final = "byProject"
JOBS_BY_CREATION_INDEX: Final = "byCreation"


def workspace_prefix(project_id: str, job_id: str) -> str:
    """Submitted code of one job, in the workspaces bucket."""
    return f"{WORKSPACES_PREFIX}{project_id}/{job_id}/"


def state_key(project_id: str) -> str:
    """The project's terraform state, in the state bucket: one key per project."""
    return f"{STATE_PREFIX}{project_id}/terraform.tfstate"


def log_key(project_id: str, job_id: str) -> str:
    return f"{LOGS_PREFIX}{project_id}/{job_id}.log"


def plan_key(project_id: str, job_id: str) -> str:
    """The redacted ``show -json`` of a job's plan, in the logs bucket."""
    return f"{PLANS_PREFIX}{project_id}/{job_id}.json"


def saved_plan_prefix(project_id: str, job_id: str) -> str:
    """A job's saved plan file and the lock file it was planned with, in the state bucket: the plan
    file holds the variables' values and state, so it is kept as the state is."""
    return f"{PLANS_PREFIX}{project_id}/{job_id}/"


def drift_key(project_id: str, job_id: str) -> str:
    """A drift check's redacted refresh-only plan (``show -json``), in the logs bucket."""
    return f"{PLANS_PREFIX}{project_id}/{job_id}.drift.json"


def review_key(project_id: str, job_id: str) -> str:
    """A plan's review (resource changes, cost, markdown), in the logs bucket."""
    return f"{PLANS_PREFIX}{project_id}/{job_id}.review.json"


def state_lock_id(state_bucket: str, project_id: str) -> str:
    """The LockID terraform's S3 backend writes in the lock table for a project's state."""
    return f"{state_bucket}/{state_key(project_id)}"


LOCKFILE_SUFFIX = ".tflock"


def state_lockfile_key(project_id: str) -> str:
    """The lock file terraform 1.10+ (``use_lockfile``) writes beside a project's state."""
    return state_key(project_id) + LOCKFILE_SUFFIX


def state_lock_ids(state_bucket: str, project_id: str) -> tuple[str, str]:
    """Both kinds of terraform's lock on a project's state: the lock table's LockID, and the lock
    file as ``<bucket>/<key>.tflock``."""
    lock_id = state_lock_id(state_bucket, project_id)
    return lock_id, lock_id + LOCKFILE_SUFFIX


def stored_json(value: object, default: Any) -> Any:
    """A JSON document kept as a string attribute (outputs, validation, lock info), or the default."""
    if not isinstance(value, str):
        return default
    try:
        parsed = json.loads(value)
    except ValueError:
        return default
    return parsed if isinstance(parsed, type(default)) or default is None else default
