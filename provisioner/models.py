"""The answers of plan → review → apply, as the client reads them.

``JobDetail`` is the status answer (``core.responses.JobOut``) with what a job gained for review:
its place in the project's queue, its approval, what the caller may do with it, and its plan's
summary and cost. ``PlanOut`` is a plan document (``GET /api/deploy/plan/{jobId}``). Both carry what the
policies said of the plan (``PolicyCheckOut``); the ``Policy*Out`` models are the policy routes'
answers. Every new field is optional, so an older service's answers still read.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

from core.records import JobStatus
from core.responses import DeployAccepted, JobOut

Action = Literal["create", "update", "delete", "replace"]
ApprovalState = Literal["waiting", "approved", "discarded", "expired", "not_needed"]
AWAITING_APPROVAL = "awaiting_approval"
DISCARDED = "discarded"
POLICY_FAILED = "policy_failed"
PolicyOutcome = Literal["no_policies", "passed", "warned", "needs_override", "needs_approval", "failed"]
PolicyResultOutcome = Literal["passed", "failed", "errored"]
# What a policy check may end with and the plan still go on as it is.
POLICY_OUTCOMES_THAT_PASS = frozenset({"no_policies", "passed", "warned"})
APPROVALS = frozenset({"approval", "second_approval"})


class Accepted(DeployAccepted):
    """A deploy, destroy, plan or apply was accepted; the last two fields only when it is queued
    behind another of the project's jobs."""

    queuePosition: int | None = None
    waitingFor: str | None = None


class Decision(BaseModel):
    """The answer to an approve (the job goes on: processing) or a discard (it ends: failed)."""

    jobId: str
    status: JobStatus
    message: str


class Approval(BaseModel):
    required: bool = False
    state: ApprovalState | str = "not_needed"
    requestedAt: str | None = None
    expiresAt: str | None = None
    decidedBy: str | None = None
    decidedAt: str | None = None
    comment: str | None = None
    # What the plan waits for: "approval", "second_approval" (someone other than the submitter),
    # "override" (a soft-mandatory policy failed). Empty from a service older than policies.
    needs: list[str] = Field(default_factory=list)


class JobActions(BaseModel):
    canApprove: bool = False
    canDiscard: bool = False
    canCancel: bool = False
    canOverride: bool = False


# A count the service may leave null (a job planned before replace and outputs were counted): 0.
Count = Annotated[int, BeforeValidator(lambda value: 0 if value is None else value)]


class ChangeSummary(BaseModel):
    add: Count = 0
    change: Count = 0
    destroy: Count = 0
    replace: Count = 0
    outputs: Count = 0

    @property
    def changes(self) -> bool:
        """What terraform's ``-detailed-exitcode`` calls a non-empty diff (outputs included)."""
        return any((self.add, self.change, self.destroy, self.replace, self.outputs))


class PlanCost(BaseModel):
    """The monthly cost before and after the plan. ``priced`` of ``total`` resources have a price;
    ``unpriced`` is what has none (a count or a list, as the service gives it)."""

    prior: float | None = None
    proposed: float | None = None
    delta: float | None = None
    currency: str = "USD"
    priced: int | None = None
    total: int | None = None
    unpriced: Any = None


class JobPlan(BaseModel):
    summary: ChangeSummary = Field(default_factory=ChangeSummary)
    cost: PlanCost | None = None


class PolicyFinding(BaseModel):
    message: str = ""
    address: str | None = None


class PolicyResultOut(BaseModel):
    """One policy's verdict on a plan."""

    policy: str
    scope: str = "install"
    projectId: str | None = None
    kind: str = "rego"
    level: str = "mandatory"
    version: int | None = None
    hash: str = ""
    outcome: PolicyResultOutcome | str = "passed"
    messages: list[str] = Field(default_factory=list)
    findings: list[PolicyFinding] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    overridable: bool = False


class PolicyOverride(BaseModel):
    by: str | None = None
    at: str | None = None
    reason: str = ""
    policies: list[str] = Field(default_factory=list)


class PolicyCheckOut(BaseModel):
    """What the policies said of a plan; "no_policies" when none was enabled (never "passed")."""

    outcome: PolicyOutcome | str
    message: str = ""
    results: list[PolicyResultOut] = Field(default_factory=list)
    requires: list[str] = Field(default_factory=list)
    stoppedBy: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    evaluatedAt: str | None = None
    override: PolicyOverride | None = None

    @property
    def stops(self) -> bool:
        """Whether the plan may not go on as it is (failed, or waits for an override or approval)."""
        return self.outcome not in POLICY_OUTCOMES_THAT_PASS


class DryRunOut(PolicyCheckOut):
    planJobId: str


class PolicyOut(BaseModel):
    """One version of a policy: a built-in's settings, or a Rego module's source."""

    name: str
    scope: str = "install"
    projectId: str | None = None
    kind: str = "rego"
    level: str
    version: int
    hash: str = ""
    description: str = ""
    settings: dict[str, Any] | None = None
    rego: str | None = None
    syntax: str = "v1"
    package: str | None = None
    deleted: bool = False
    updatedBy: str | None = None
    updatedAt: str | None = None


class BuiltinPolicyOut(BaseModel):
    name: str
    description: str = ""
    defaults: dict[str, Any] = Field(default_factory=dict)


class PolicyListOut(BaseModel):
    projectId: str | None = None
    policies: list[PolicyOut] = Field(default_factory=list)
    builtins: list[BuiltinPolicyOut] = Field(default_factory=list)


class PolicyVersionsOut(BaseModel):
    name: str
    scope: str = "install"
    projectId: str | None = None
    versions: list[PolicyOut] = Field(default_factory=list)


class JobDetail(JobOut):
    # core.responses.JobOut is gaining these too, more strictly (required fields): the client reads
    # them leniently, so that a service older or newer by a field still answers.
    queuePosition: int | None = None
    waitingFor: str | None = None
    approval: Approval | None = None  # type: ignore[assignment, unused-ignore]
    actions: JobActions | None = None  # type: ignore[assignment, unused-ignore]
    plan: JobPlan | None = None  # type: ignore[assignment, unused-ignore]
    policies: PolicyCheckOut | None = None  # type: ignore[assignment, unused-ignore]

    @property
    def awaiting_approval(self) -> bool:
        """Its plan waits for people: an approval, a second approval or a policy override."""
        return self.status is JobStatus.PROCESSING and self.phase == AWAITING_APPROVAL

    @property
    def needs(self) -> list[str]:
        """What a waiting plan waits for; an older service's answers only ever wait for an approval."""
        if not self.awaiting_approval:
            return []
        needs = list(self.approval.needs) if self.approval is not None else []
        if not needs and self.actions is not None and self.actions.canOverride:
            needs = ["override"]
        return needs or ["approval"]

    @property
    def queued(self) -> bool:
        return self.status is JobStatus.PENDING and self.queuePosition is not None


class AttributeChange(BaseModel):
    path: str
    before: Any = None
    after: Any = None
    sensitive: bool = False
    unknown: bool = False
    forcesReplacement: bool = False


class ResourceChange(BaseModel):
    address: str
    moduleAddress: str | None = None
    type: str | None = None
    name: str | None = None
    actions: list[str] = Field(default_factory=list)
    action: Action | str
    actionReason: str | None = None
    createBeforeDestroy: bool | None = None
    attributes: list[AttributeChange] = Field(default_factory=list)


class OutputChange(BaseModel):
    name: str
    actions: list[str] = Field(default_factory=list)
    action: Action | str
    before: Any = None
    after: Any = None
    sensitive: bool = False
    unknown: bool = False


class PlanBasis(BaseModel):
    stateSerial: int | None = None
    stateLineage: str | None = None
    terraformVersion: str | None = None
    codeHash: str | None = None
    createdAt: str | None = None
    expiresAt: str | None = None


class PlanOut(BaseModel):
    jobId: str
    projectId: str
    action: str
    status: JobStatus
    summary: ChangeSummary
    resourceChanges: list[ResourceChange] = Field(default_factory=list)
    outputChanges: list[OutputChange] = Field(default_factory=list)
    cost: PlanCost | None = None
    markdown: str = ""
    basis: PlanBasis | None = None
    policies: PolicyCheckOut | None = None
