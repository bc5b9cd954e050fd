"""The handlers' environment, described as models built from small mixins and checked at cold start.

Each function is given only the variables its routes use; its model names exactly those.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.requests import DRIFT_SCHEDULE_PATTERN


class Observability(BaseModel):
    POWERTOOLS_SERVICE_NAME: Annotated[str, Field(min_length=1)] = "terraform-provisioner"
    LOG_LEVEL: Annotated[str, Field(pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")] = "INFO"


class JobsTable(BaseModel):
    JOBS_TABLE: Annotated[str, Field(min_length=3)]


class ProjectsTable(BaseModel):
    PROJECTS_TABLE: Annotated[str, Field(min_length=3)]


class IdempotencyTable(BaseModel):
    IDEMPOTENCY_TABLE: Annotated[str, Field(min_length=3)]


class PoliciesTable(BaseModel):
    POLICIES_TABLE: Annotated[str, Field(min_length=3)]


class NotificationsTable(BaseModel):
    NOTIFICATIONS_TABLE: Annotated[str, Field(min_length=3)]


class Notify(BaseModel):
    """Webhook options: local mode allows http to loopback (a receiver on this machine)."""

    NOTIFY_ALLOW_LOOPBACK_HTTP: bool = False


class LockTable(BaseModel):
    LOCK_TABLE: Annotated[str, Field(min_length=3)]


class WorkspacesBucket(BaseModel):
    WORKSPACES_BUCKET: Annotated[str, Field(min_length=3)]


class StateBucket(BaseModel):
    STATE_BUCKET: Annotated[str, Field(min_length=3)]


class LogsBucket(BaseModel):
    LOGS_BUCKET: Annotated[str, Field(min_length=3)]


class Workflow(BaseModel):
    STATE_MACHINE_ARN: Annotated[
        str, Field(pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:.+$")
    ]
    RUN_TIMEOUT_SECONDS: Annotated[int, Field(ge=5, le=8 * 3600)] = 3 * 3600


class Secrets(BaseModel):
    SECRETS_KMS_KEY_ID: str | None = None


class Policy(BaseModel):
    ALLOW_EXEC_CONSTRUCTS: bool = False


class Review(BaseModel):
    """Install options of plan → review → apply."""

    # A plan waiting for approval discards itself after this long.
    APPROVAL_TIMEOUT_SECONDS: Annotated[int, Field(ge=1, le=365 * 24 * 3600)] = 7 * 24 * 3600
    # A saved plan older than this is stale: it is planned again rather than applied.
    PLAN_EXPIRY_SECONDS: Annotated[int, Field(ge=60, le=365 * 24 * 3600)] = 7 * 24 * 3600
    # How often a queued job's workflow looks whether its turn has come.
    QUEUE_POLL_SECONDS: Annotated[int, Field(ge=1, le=300)] = 5


class BuildSlots(BaseModel):
    """The install option maxConcurrentBuilds: builds at once, account-wide (logic/build_slots.py)."""

    MAX_CONCURRENT_BUILDS: Annotated[int, Field(ge=1, le=10000)] = 20


class DriftDefaults(BaseModel):
    # How often a project's drift is checked unless its settings say: "off" or "rate(...)".
    DRIFT_SCHEDULE_DEFAULT: Annotated[str, Field(pattern=DRIFT_SCHEDULE_PATTERN)] = "rate(1 day)"


class DriftScheduler(DriftDefaults):
    """EventBridge Scheduler: the group of the per-project schedules, what they invoke, as whom."""

    DRIFT_SCHEDULE_GROUP: Annotated[str, Field(min_length=1, max_length=64)]
    DRIFT_FUNCTION_ARN: Annotated[
        str, Field(pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:.+$")
    ]
    DRIFT_SCHEDULER_ROLE_ARN: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")]


class Region(BaseModel):
    DEFAULT_REGION: Annotated[str, Field(min_length=1)] = "us-east-1"


class DeployEnv(
    Observability,
    JobsTable,
    ProjectsTable,
    PoliciesTable,
    IdempotencyTable,
    LockTable,
    WorkspacesBucket,
    StateBucket,
    Workflow,
    Secrets,
    Policy,
    Review,
    DriftScheduler,
):
    """POST /api/deploy, /api/deploy/destroy, /api/deploy/plan and /api/deploy/apply/{planJobId};
    starting and remediating drift checks (the scheduled ones too: the drift function's
    environment is this one)."""


class DriftEnv(
    Observability,
    JobsTable,
    ProjectsTable,
    LockTable,
    WorkspacesBucket,
    StateBucket,
    Workflow,
    DriftScheduler,
):
    """The drift function: a scheduled check, started as the deploy function starts one, with no
    policies (a check applies nothing) and no variables of its own. It only removes schedules (a
    destroyed project's), so it needs no target ARN of its own."""

    DRIFT_FUNCTION_ARN: str = ""


class CancelEnv(
    Observability,
    JobsTable,
    ProjectsTable,
    PoliciesTable,
    IdempotencyTable,
    LockTable,
    StateBucket,
    LogsBucket,
    Workflow,
    Region,
    DriftScheduler,
):
    """POST /api/deploy/cancel/{jobId}; approve, discard and override of a plan; the admin unlock;
    project settings; policies and their dry run (which reads a stored plan from the logs bucket)."""


class JobsEnv(Observability, JobsTable, ProjectsTable, LogsBucket, DriftDefaults):
    """Job status (with its place in its project's queue), history, logs and plans; drift checks
    read back (a project's and the fleet's)."""


class WorkflowStepsEnv(
    Observability,
    JobsTable,
    ProjectsTable,
    PoliciesTable,
    LockTable,
    WorkspacesBucket,
    StateBucket,
    LogsBucket,
    Workflow,
    Region,
    Review,
    BuildSlots,
):
    """The workflow's own steps: a queued job's turn, a build slot, a plan's review, the approval wait."""


class ProjectsEnv(
    Observability,
    JobsTable,
    ProjectsTable,
    LockTable,
    WorkspacesBucket,
    StateBucket,
    LogsBucket,
    Region,
    Secrets,
    Policy,
):
    """Infrastructure, outputs, state (its history and rollback), validation and costs of a project."""

    # A rollback is followed by a drift check: this function invokes the drift function for it.
    DRIFT_FUNCTION_ARN: Annotated[
        str, Field(pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:.+$")
    ]


class ReaperEnv(Observability, JobsTable, ProjectsTable, LockTable, StateBucket, Workflow):
    """The scheduled reaper of stuck jobs and stale state locks."""


class NotificationsEnv(Observability, NotificationsTable, Secrets, Notify):
    """Notification subscriptions and their delivery logs."""


class NotifierEnv(Observability, JobsTable, ProjectsTable, NotificationsTable, Secrets, Notify):
    """The notifier: the jobs and projects tables' streams in (their names tell the records
    apart), webhooks and the notifications topic out, and the periodic retry pass."""

    NOTIFICATIONS_TOPIC_ARN: Annotated[str | None, Field(pattern=r"^arn:aws[a-z-]*:sns:.+$")] = None


class LocalEnv(
    Observability,
    JobsTable,
    ProjectsTable,
    IdempotencyTable,
    LockTable,
    WorkspacesBucket,
    StateBucket,
    LogsBucket,
    Workflow,
    Secrets,
    Region,
    Policy,
    Review,
    DriftScheduler,
):
    """Local mode serves every route from one process."""
