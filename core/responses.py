"""Response models. Field names and status values are the seed API's (spec/seed-api.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
    warnings: list[str] = []
    recommendations: Annotated[
        list[dict[str, Any]], Field(description="The largest savings found (see CostsOut.recommendations).")
    ] = []


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


class JobTimings(BaseModel):
    """Milliseconds per phase; they add up to ``total`` (creation to end, or to now while the job
    runs). ``other`` is what no phase accounts for: the workflow's own transitions."""

    queued: int = 0
    startUp: Annotated[int, Field(description="Provisioning and install, to the runner's start.")] = 0
    workspace: int = 0
    init: int = 0
    validate_: Annotated[int, Field(alias="validate", description="Only after a failed plan.")] = 0
    plan: int = 0
    policyAndCost: int = 0
    awaitingApproval: int = 0
    apply: int = 0
    destroy: int = 0
    recording: int = 0
    other: int = 0
    total: int = 0
    startUpDetail: Annotated[
        dict[str, int], Field(description="CodeBuild's own phases of the start-up (AWS only).")
    ] = {}

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


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
    pendingReason: Annotated[
        str | None,
        Field(description='Why the job waits to build, e.g. "waiting for a build slot (20 of 20 in use)".'),
    ] = None
    approval: Approval | None = None
    actions: JobActions | None = None
    plan: JobPlan | None = None
    policies: PolicyCheckOut | None = None
    timings: JobTimings | None = None


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
    timings: JobTimings | None = None
    pendingReason: Annotated[str | None, Field(description="Why the job waits to build, while it does.")] = (
        None
    )


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
    driftSchedule: Annotated[str, Field(description='How often its drift is checked ("off": never).')] = (
        "rate(1 day)"
    )
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
    totalIsLowerBound: Annotated[
        bool, Field(description="Some resources could not be priced: the real total is at least this.")
    ] = False
    resourceCounts: dict[str, int]
    currency: Literal["USD"] = "USD"
    period: Literal["monthly"] = "monthly"


class CostCoverage(BaseModel):
    resources: int
    priced: int
    free: int
    unpriced: Annotated[int, Field(description="Unpriced types, and priced types with an unpriced part.")]
    summary: Annotated[str, Field(description='"N of M resources priced, K free, U unpriced".')]


class CostRecommendation(BaseModel):
    address: str
    rule: Annotated[str, Field(description="Which rule found it (ebs-gp2-to-gp3, ec2-graviton, ...).")]
    change: Annotated[str, Field(description="The change to make to the configuration.")]
    currentMonthly: float
    recommendedMonthly: float
    monthlySaving: float
    reason: str


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
    coverage: CostCoverage | None = None
    totalText: Annotated[
        str | None, Field(description='The total as people read it: "$12.34", or "≥ $12.34" when a floor.')
    ] = None
    warnings: Annotated[
        list[str], Field(description="What makes the total less than an estimate (nothing priced, unpriced).")
    ] = []
    recommendations: Annotated[
        list[CostRecommendation], Field(description="Cheaper equivalents, largest monthly saving first.")
    ] = []


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


DriftStatusOut = Literal["running", "clean", "drifted", "errored", "skipped"]


class DriftAttributeOut(BaseModel):
    attribute: Annotated[str, Field(description="Its path in the resource, e.g. tags.owner or ingress[0].")]
    before: Annotated[Any, Field(description="As the state (or code) has it; sensitive hidden.")] = None
    after: Annotated[Any, Field(description="As it is (or would be); sensitive ones hidden.")] = None


class DriftResourceOut(BaseModel):
    address: str
    type: str
    name: str
    module: str | None = None
    actions: list[str]
    attributes: list[DriftAttributeOut]


class DriftCostOut(BaseModel):
    """Monthly cost of the drifted resources as recorded in the state and as they really are."""

    recorded: float
    actual: float
    delta: float
    currency: str = "USD"
    priced: int
    unpriced: int
    lowerBound: Annotated[bool, Field(description="Unpriced resources: the figures are a floor.")]


class DriftCheckOut(BaseModel):
    jobId: str
    projectId: str
    status: DriftStatusOut
    jobStatus: JobStatus
    trigger: Annotated[str | None, Field(description="manual, schedule or rollback.")] = None
    startedAt: str
    checkedAt: str | None = None
    message: str | None = None
    reason: Annotated[str | None, Field(description="Why it was skipped or errored.")] = None
    counts: dict[str, int] | None = None
    resources: Annotated[
        list[DriftResourceOut], Field(description="Managed resources changed outside terraform.")
    ] = []
    plannedChanges: Annotated[
        list[DriftResourceOut], Field(description="What applying the deployed code now would change.")
    ] = []
    cost: DriftCostOut | None = None
    stateSerial: int | None = None
    stateLineage: str | None = None
    codeHash: str | None = None
    terraformVersion: str | None = None


class DriftOut(BaseModel):
    projectId: str
    status: Annotated[
        DriftStatusOut | Literal["never_checked"], Field(description="The latest check's status.")
    ]
    baseline: Annotated[
        Literal["clean", "drifted"] | None, Field(description="The last conclusive status.")
    ] = None
    schedule: Annotated[str, Field(description='How often it is checked: "rate(...)" or "off".')]
    latest: DriftCheckOut | None = None
    history: Annotated[list[DriftCheckOut], Field(description="Checks, newest first (without details).")]
    next: Annotated[str | None, Field(description="Pass as ?next= for the following page; null on the last.")]


class DriftFleetEntry(BaseModel):
    projectId: str
    deploymentStatus: DeploymentStatus | None = None
    status: DriftStatusOut | Literal["never_checked"]
    baseline: Literal["clean", "drifted"] | None = None
    checkedAt: str | None = None
    jobId: str | None = None
    drifted: int = 0
    plannedChanges: int = 0


class DriftFleetOut(BaseModel):
    projects: list[DriftFleetEntry]
    counts: Annotated[dict[str, int], Field(description="Projects per latest status.")]


class DriftCheckAccepted(BaseModel):
    jobId: str
    status: Literal["accepted", "skipped"]
    message: str


class StateWriter(BaseModel):
    """A version the service wrote itself rather than a job's terraform."""

    kind: Annotated[Literal["rollback", "restore"], Field(description="What wrote the version.")]
    id: Annotated[str, Field(description="The rollback's or restore's id (it held the project lock).")]
    by: Annotated[str, Field(description="Who asked for it.")]
    reason: str
    at: str
    fromSerial: Annotated[int, Field(description="The serial whose content it carries.")]


class StateVersionOut(BaseModel):
    serial: int
    lineage: str
    versionId: Annotated[str, Field(description="The S3 version id of the state object.")]
    lastModified: Annotated[str, Field(description="When S3 stored the version.")]
    size: Annotated[int, Field(description="Bytes.")]
    terraformVersion: str
    resourceCount: int
    isLatest: bool
    jobId: Annotated[str | None, Field(description="The job whose apply or destroy wrote it.")] = None
    writtenBy: Annotated[
        StateWriter | None, Field(description="Set instead of jobId for a rollback's or restore's version.")
    ] = None


class StateVersionsOut(BaseModel):
    projectId: str
    versions: Annotated[list[StateVersionOut], Field(description="Newest first.")]
    next: Annotated[str | None, Field(description="Pass as ?next= for the following page; null on the last.")]


class StateVersionStateOut(StateOut):
    serial: int
    versionId: str


class RollbackOut(BaseModel):
    projectId: str
    rollbackId: str
    serial: Annotated[int, Field(description="The new version's serial: the current serial + 1.")]
    previousSerial: Annotated[int, Field(description="The serial that was current before.")]
    fromSerial: Annotated[int, Field(description="The version whose content the new one carries.")]
    lineage: str
    versionId: Annotated[str, Field(description="The new version's S3 version id.")]
    rolledBackBy: str
    reason: str
    rolledBackAt: str
    message: str
    driftCheck: Annotated[
        str | None, Field(description="The drift check started at once, to show what now differs.")
    ] = None


class BackupOut(BaseModel):
    """A project's backup bundle: its code, variables reference, state history and sealed state."""

    format: Literal["provisioner-backup/1"] = "provisioner-backup/1"
    projectId: str
    exportedAt: str
    exportedBy: str
    code: Annotated[dict[str, Any], Field(description="jobId and files of the project's current code.")]
    variablesRef: Annotated[
        dict[str, Any] | None, Field(description="Where the variables are kept; never their values.")
    ] = None
    outputs: Annotated[dict[str, Any], Field(description='Outputs as /outputs gives them: "(sensitive)".')]
    sensitivePaths: Annotated[dict[str, Any], Field(description="What the state's redaction hides.")]
    history: Annotated[list[StateVersionOut], Field(description="The state versions, newest first.")]
    state: Annotated[
        dict[str, Any],
        Field(description="serial, lineage, sha256 and the latest state sealed with the passphrase."),
    ]


class RestoreOut(BaseModel):
    projectId: str
    restoreId: str
    sourceProjectId: str
    serial: int
    lineage: str
    versionId: str
    files: Annotated[list[str], Field(description="The code files restored.")]
    restoredBy: str
    message: str


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
