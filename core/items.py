"""The records the service keeps, as typed models: a job, a project, the workflow's input.

Field names are the DynamoDB attribute names (camelCase, as the seed's JSON); ``to_item`` leaves
out what is unset, so an item never carries nulls, and ``from_item`` reads what the table holds
(numbers arrive as Decimal) into ints and floats.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from core.records import (
    JOB_ID_PATTERN,
    PROJECT_ID_PATTERN,
    DeploymentStatus,
    JobAction,
    JobMode,
    JobStatus,
    Phase,
)

JobId = Annotated[str, Field(pattern=JOB_ID_PATTERN)]
ProjectId = Annotated[str, Field(pattern=PROJECT_ID_PATTERN)]


def plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; give the rest of the code ints and floats."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class Record(BaseModel):
    # Items written by an older or newer version may hold fields this one does not know.
    model_config = ConfigDict(extra="ignore", use_enum_values=True, frozen=True)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Self:
        return cls.model_validate(plain(item))

    def to_item(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class VariablesRef(BaseModel):
    """Where a job's variables are kept: a secret version, never the values."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    secretId: str
    versionId: str | None = None


class JobRecord(Record):
    jobId: JobId
    projectId: ProjectId
    action: JobAction
    status: JobStatus
    kind: Literal["job"] = "job"
    createdAt: int
    startTime: str
    updatedAt: str
    endTime: str | None = None
    progress: int = 0
    phase: Phase | None = None
    resultMessage: str | None = None
    error: str | None = None
    logTail: str | None = None
    outputsJson: str | None = None
    diagnosticsJson: str | None = None
    planSummary: dict[str, int] | None = None
    planKey: str | None = None
    executionArn: str | None = None
    buildId: str | None = None
    variablesRef: VariablesRef | None = None
    codeJobId: str | None = None
    # What the job's project lock replaced: put back if the job is undone or cancelled unrun.
    previousProject: dict[str, Any] | None = None
    cancelRequestedAt: str | None = None
    cancelRequestedBy: str | None = None
    # How the workflow runs it (core.records.JobMode) and whether a person must approve its plan.
    mode: JobMode | None = None
    approvalRequired: bool | None = None
    # The gate: who decided what and when; the task token lets the workflow go on, and never
    # leaves the service (see VIEW_FIELDS).
    approval: dict[str, Any] | None = None
    approvalToken: str | None = None
    # Waiting for its turn on a busy project: what the project gets when the job takes its lock.
    queued: bool | None = None
    projectFields: dict[str, Any] | None = None
    supersededBy: str | None = None
    # Plans: what the runner saved (file, state serial and lineage, terraform version, code hash),
    # what the project looked like when it was asked for, and the review the workflow made of it.
    savedPlan: dict[str, Any] | None = None
    planBasis: dict[str, Any] | None = None
    planCost: dict[str, Any] | None = None
    reviewKey: str | None = None
    planJobId: str | None = None
    codeFiles: list[str] | None = None
    codeHash: str | None = None
    staticFindings: dict[str, Any] | None = None
    # Policies: who submitted (an override or a second approval must come from someone else),
    # whether the request allowed protected deletes, the set in force when it was submitted
    # (scope, name, version of each) and what checking the plan against it found.
    submittedBy: str | None = None
    allowDestroy: bool | None = None
    policySet: list[dict[str, Any]] | None = None
    policyCheck: dict[str, Any] | None = None
    # What a waiting job still waits for, comma-separated: approval, second_approval, override.
    pendingDecisions: str | None = None
    # Drift checks: what started it (manual, schedule, rollback), the project it was asked of
    # (its deployment and code), what its build ran against, and what it found.
    trigger: str | None = None
    driftBasis: dict[str, Any] | None = None
    driftRun: dict[str, Any] | None = None
    drift: dict[str, Any] | None = None
    # A remediation job: the drift check it answers.
    remediates: str | None = None
    # Where its time went: spans the runner's builds and the workflow's steps append
    # (core/timings.py).
    timeline: list[dict[str, Any]] | None = None

    @property
    def active(self) -> bool:
        return self.status in (JobStatus.PENDING, JobStatus.PROCESSING)


class ProjectRecord(Record):
    projectId: ProjectId
    createdAt: str | None = None
    lastUpdated: str | None = None
    # The project's lock: one active job at a time.
    activeJobId: str | None = None
    activeAction: JobAction | None = None
    deploymentStatus: DeploymentStatus | None = None
    deploymentJobId: str | None = None
    codeJobId: str | None = None
    codeFiles: list[str] | None = None
    staticFindings: dict[str, Any] | None = None
    variablesRef: VariablesRef | None = None
    outputsJson: str | None = None
    validationJson: str | None = None
    sensitivePathsJson: str | None = None
    stateSummary: dict[str, Any] | None = None
    planSummary: dict[str, int] | None = None
    planKey: str | None = None
    planJobId: str | None = None
    lastUnlock: dict[str, Any] | None = None
    lastProjectUnlock: dict[str, Any] | None = None
    # Jobs waiting for the lock, oldest first: each takes it only at the head of this list.
    queue: list[str] | None = None
    # The project's own default for deploys and destroys that do not say ("required" or "auto").
    approvalDefault: Literal["required", "auto"] | None = None
    # How often its drift is checked ("off" or "rate(N minutes|hours|days)"; unset: the install's).
    driftSchedule: str | None = None
    settingsUpdatedBy: str | None = None
    settingsUpdatedAt: str | None = None
    # The latest drift check: status, baseline (the last conclusive status), counts, when, which job.
    drift: dict[str, Any] | None = None


class WorkflowInput(BaseModel):
    """What a job's execution starts with: the submit logic writes it, the ASL passes it on (the
    runner's JOB_ID, PROJECT_ID and JOB_ACTION are these fields)."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True, frozen=True)
    jobId: JobId
    projectId: ProjectId
    action: JobAction
    runTimeoutSeconds: Annotated[int, Field(gt=0)]
    mode: JobMode = JobMode.DIRECT
    # The job does not hold the project's lock yet: it waits for its turn first.
    queued: bool = False
    queuePollSeconds: Annotated[int, Field(ge=1, le=3600)] = 5
    approvalTimeoutSeconds: Annotated[int, Field(ge=1, le=31_536_000)] = 7 * 24 * 3600
    # The job whose saved plan the apply build applies: the job itself when gated.
    planJobId: JobId
