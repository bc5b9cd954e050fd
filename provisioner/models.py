"""The answers of plan → review → apply, as the client reads them.

``JobDetail`` is the status answer (``core.responses.JobOut``) with what a job gained for review:
its place in the project's queue, its approval, what the caller may do with it, and its plan's
summary and cost. ``PlanOut`` is a plan document (``GET /api/deploy/plan/{jobId}``). Every new
field is optional, so an older service's answers still read.
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


class JobActions(BaseModel):
    canApprove: bool = False
    canDiscard: bool = False
    canCancel: bool = False


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


class JobDetail(JobOut):
    # core.responses.JobOut is gaining these too, more strictly (required fields): the client reads
    # them leniently, so that a service older or newer by a field still answers.
    queuePosition: int | None = None
    waitingFor: str | None = None
    approval: Approval | None = None  # type: ignore[assignment, unused-ignore]
    actions: JobActions | None = None  # type: ignore[assignment, unused-ignore]
    plan: JobPlan | None = None  # type: ignore[assignment, unused-ignore]

    @property
    def awaiting_approval(self) -> bool:
        return self.status is JobStatus.PROCESSING and self.phase == AWAITING_APPROVAL

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
