"""Response models. Field names and status values are the seed API's (spec/seed-api.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from core.records import DeploymentStatus, JobStatus


class ErrorOut(BaseModel):
    error: Annotated[str, Field(description="A short machine-readable code, e.g. bad_request.")]
    message: Annotated[str, Field(description="What went wrong, for people.")]
    line: Annotated[int | None, Field(description="Where a policy's Rego is wrong, on a 400.")] = None
    column: int | None = None
    field: Annotated[str | None, Field(description="The request field at fault, where one is.")] = None
    activeJobId: Annotated[str | None, Field(description="The job holding the project, on a 409.")] = None
    errors: Annotated[list[dict[str, Any]] | None, Field(description="Every problem found, on a 400.")] = None
    reasons: Annotated[
        list[str] | None, Field(description="Why a saved plan is stale, on a 409 stale_plan.")
    ] = None


class DeployAccepted(BaseModel):
    jobId: str
    status: Literal["accepted"] = "accepted"
    message: str
    queuePosition: Annotated[
        int | None, Field(description="Queued behind other jobs of the project: its place (1 = next).")
    ] = None
    waitingFor: Annotated[str | None, Field(description="Queued: the job it waits for.")] = None


class JobResult(BaseModel):
    message: str
    logs: Annotated[
        str, Field(description="The tail of the job's log; GET /api/deploy/logs/{jobId} has it all.")
    ]
    outputs: Annotated[
        dict[str, Any], Field(description='Terraform outputs; sensitive ones are "(sensitive)".')
    ]


class PlanSummary(BaseModel):
    add: int
    change: int
    destroy: int
    replace: int | None = None
    outputs: int | None = None


class PlanCost(BaseModel):
    prior: float | None = None
    proposed: float | None = None
    delta: float | None = None
    currency: str = "USD"
    priced: int = 0
    free: int = 0
    unpriced: int = 0
    total: int = 0
    lowerBound: Annotated[
        bool, Field(description="Some resources are unpriced: the totals are at least this.")
    ] = False


class JobPlan(BaseModel):
    summary: PlanSummary
    cost: PlanCost | None = None
    hasChanges: bool


class Approval(BaseModel):
    required: bool = True
    state: Literal["waiting", "approved", "discarded", "expired", "not_needed"]
    requestedAt: str | None = None
    expiresAt: str | None = None
    decidedBy: str | None = None
    decidedAt: str | None = None
    comment: str | None = None
    needs: Annotated[
        list[str], Field(description="What the plan waits for: approval, second_approval, override.")
    ] = []


class JobActions(BaseModel):
    canApprove: bool
    canDiscard: bool
    canCancel: bool
    canOverride: bool = False


class PolicyFinding(BaseModel):
    message: str
    address: str | None = None


class PolicyResultOut(BaseModel):
    policy: str
    scope: Literal["install", "project"]
    projectId: str | None = None
    kind: Literal["builtin", "rego"]
    level: str
    version: int
    hash: Annotated[str, Field(description="sha256 of what this version enforces.")]
    outcome: Literal["passed", "failed", "errored"]
    messages: list[str]
    findings: list[PolicyFinding] = []
    warnings: list[str] = []
    overridable: bool = False


class PolicyOverride(BaseModel):
    by: str
    at: str
    reason: str
    policies: list[str]


class PolicyCheckOut(BaseModel):
    """What the policies said of a plan. "no_policies" when none was enabled: never "passed"."""

    outcome: Literal["no_policies", "passed", "warned", "needs_override", "needs_approval", "failed"]
    message: str
    results: list[PolicyResultOut] = []
    requires: Annotated[
        list[Literal["override", "second_approval"]],
        Field(description="What the job waits for before its plan is applied."),
    ] = []
    stoppedBy: list[str] = []
    counts: dict[str, int] = {}
    evaluatedAt: str | None = None
    override: PolicyOverride | None = None


class JobOut(BaseModel):
    jobId: str
    projectId: str
    action: str
    status: JobStatus
    progress: Annotated[int, Field(ge=0, le=100)]
    phase: str
    result: JobResult | None = None
    error: str | None = None
    startTime: str | None = None
    endTime: str | None = None
    updatedAt: str | None = None
    planSummary: PlanSummary | None = None
    queuePosition: Annotated[int | None, Field(description="Pending behind other jobs: its place.")] = None
    waitingFor: Annotated[str | None, Field(description="Pending: the job it waits for.")] = None
    approval: Approval | None = None
    actions: JobActions | None = None
    plan: JobPlan | None = None
    policies: PolicyCheckOut | None = None


class JobSummary(BaseModel):
    jobId: str
    projectId: str
    action: str
    status: JobStatus
    progress: int
    phase: str
    startTime: str | None = None
    endTime: str | None = None
    error: str | None = None
    approval: Approval | None = None


class JobListOut(BaseModel):
    jobs: list[JobSummary]
    next: Annotated[str | None, Field(description="Pass as ?next= for the following page; null on the last.")]


class LogOut(BaseModel):
    jobId: str
    offset: int
    nextOffset: Annotated[int, Field(description="Ask again from here for what was written since.")]
    content: str
    complete: Annotated[bool, Field(description="True once the job has ended and the log is whole.")]


class CancelOut(BaseModel):
    jobId: str
    status: JobStatus
    message: str


class ProjectSettingsOut(BaseModel):
    projectId: str
    approval: Literal["required", "auto"]
    updatedBy: str | None = None
    updatedAt: str | None = None


class DecisionOut(BaseModel):
    """The answer to an approve or a discard."""

    jobId: str
    status: JobStatus
    message: str


class PlanOut(BaseModel):
    """A plan as a reviewer reads it: every change, redacted; its cost; a pull-request comment."""

    jobId: str
    projectId: str
    action: str
    status: JobStatus
    summary: PlanSummary
    resourceChanges: list[dict[str, Any]]
    outputChanges: list[dict[str, Any]]
    cost: PlanCost | None = None
    markdown: str
    basis: dict[str, Any]
    policies: PolicyCheckOut | None = None


class StateSummary(BaseModel):
    serial: int
    lineage: str
    resourceCount: int
    terraformVersion: str


class InfrastructureOut(BaseModel):
    projectId: str
    deploymentStatus: DeploymentStatus
    deploymentJobId: str | None = None
    deploymentOutputs: dict[str, Any]
    terraformState: Annotated[
        StateSummary | None,
        Field(description="A summary of the state; GET /api/deploy/state/{projectId} has it all."),
    ] = None
    lastUpdated: str | None = None
    activeJobId: str | None = None
    planSummary: PlanSummary | None = None


class OutputsOut(BaseModel):
    projectId: str
    outputs: dict[str, Any]
    message: str


class StateOut(BaseModel):
    projectId: str
    state: Annotated[
        dict[str, Any], Field(description="The terraform state document with sensitive values redacted.")
    ]
    message: str


class ValidationFinding(BaseModel):
    check: Annotated[
        Literal["syntax", "preflight", "references", "terraform"],
        Field(
            description="Which check found it: python-hcl2 syntax, the service's preflight, "
            "references, or terraform validate."
        ),
    ]
    code: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None


class TerraformValidation(BaseModel):
    jobId: str
    checkedAt: str
    terraformVersion: str | None = None
    current: Annotated[bool, Field(description="Whether it checked the project's latest code.")]


class ValidationOut(BaseModel):
    projectId: str
    valid: bool
    errors: list[ValidationFinding]
    warnings: list[ValidationFinding] = []
    message: str
    terraformValidation: TerraformValidation | None = None


class CostBreakdown(BaseModel):
    compute: float
    storage: float
    networking: float
    database: float
    other: Annotated[
        float, Field(description="Monitoring, keys, secrets, queues: so the categories add up to total.")
    ] = 0.0
    total: float
    resourceCounts: dict[str, int]
    currency: Literal["USD"] = "USD"
    period: Literal["monthly"] = "monthly"


class CostsOut(BaseModel):
    projectId: str
    estimated: bool
    costs: CostBreakdown
    message: str
    basis: Annotated[
        Literal["plan", "code", "state"],
        Field(description="What was priced: the last plan, the code, or the deployed state."),
    ]
    region: str | None = None
    priceDate: str | None = None
    resources: list[dict[str, Any]] = []
    unpriced: list[dict[str, Any]] = []
    usageBased: list[dict[str, Any]] = []
    free: list[dict[str, Any]] = []
    prior: float | None = None
    proposed: float | None = None
    delta: float | None = None


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class ProjectLockCleared(BaseModel):
    jobId: Annotated[str, Field(description="The job that held the project (its activeJobId).")]
    jobStatus: Annotated[
        JobStatus | None, Field(description="That job's status when the lock was cleared; null if no record.")
    ] = None
    stale: Annotated[bool, Field(description="Whether the job had ended or was gone (no force needed).")]
    cleared: bool
    jobFailed: Annotated[bool, Field(description="Whether the job was still active and is now failed.")]


class UnlockOut(BaseModel):
    projectId: str
    lock: Annotated[
        Literal["state", "project", "all"], Field(description="What was asked to be cleared.")
    ] = "state"
    cleared: Annotated[bool, Field(description="Whether every lock asked for and held was cleared.")]
    lockId: Annotated[
        str | None, Field(description="Terraform's state lock ID; null when the state lock was not cleared.")
    ] = None
    ownerJobId: Annotated[
        str | None, Field(description="The job the state lock (or project lock) named.")
    ] = None
    projectLock: Annotated[
        ProjectLockCleared | None, Field(description="The project lock, when it was asked for and held.")
    ] = None
    clearedBy: str
    message: str


class PolicyOut(BaseModel):
    name: str
    scope: Literal["install", "project"]
    projectId: str | None = None
    kind: Literal["builtin", "rego"]
    level: str
    version: int
    hash: str
    description: str = ""
    settings: dict[str, Any] | None = None
    rego: str | None = None
    syntax: Literal["v1", "v0"] = "v1"
    package: str | None = None
    deleted: bool = False
    updatedBy: str | None = None
    updatedAt: str | None = None


class BuiltinPolicyOut(BaseModel):
    name: str
    description: str
    defaults: dict[str, Any]


class PolicyListOut(BaseModel):
    projectId: str | None = None
    policies: Annotated[
        list[PolicyOut], Field(description="The install's, and the project's when one is asked for.")
    ]
    builtins: list[BuiltinPolicyOut]


class PolicyVersionsOut(BaseModel):
    name: str
    scope: Literal["install", "project"]
    projectId: str | None = None
    versions: list[PolicyOut]


class DryRunOut(PolicyCheckOut):
    planJobId: str


class SubscriptionOut(BaseModel):
    subscriptionId: str
    url: str
    events: list[str]
    scope: Literal["install", "project"]
    projectId: str | None = None
    description: str = ""
    createdAt: str
    createdBy: str | None = None


class SubscriptionCreatedOut(SubscriptionOut):
    secret: Annotated[
        str,
        Field(
            description="The signing secret: shown only in this response, never again. Verify "
            "X-Provisioner-Signature with it."
        ),
    ]


class SubscriptionListOut(BaseModel):
    projectId: str | None = None
    subscriptions: list[SubscriptionOut]


class DeliveryOut(BaseModel):
    deliveryId: str
    eventId: str
    type: str
    projectId: str
    jobId: str | None = None
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    lastStatusCode: int | None = None
    lastError: str | None = None
    createdAt: str
    lastAttemptAt: str | None = None
    nextAttemptAt: str | None = None
    deliveredAt: str | None = None


class DeliveryListOut(BaseModel):
    subscriptionId: str
    deliveries: Annotated[list[DeliveryOut], Field(description="Newest first.")]


class SubscriptionDeletedOut(BaseModel):
    subscriptionId: str
    deleted: bool
