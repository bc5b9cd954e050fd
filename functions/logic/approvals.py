"""The approval gate: a job's plan waits for people, who approve it (the workflow applies
exactly that plan) or discard it (the job ends failed, phase discarded, and the project gets
back the status it had). A wait no one answers expires and discards itself.

A plan waits for up to three decisions (``pendingDecisions``): an approval (a gated job), a
second approval (deletes a destroy-protection policy guards, which someone other than the
submitter must approve) and a policy override (a soft-mandatory policy failed; someone other
than the submitter overrides it, with a reason). The workflow goes on once none is left.

Who decides, when and why is kept on the job (``approval``). The decision is written first, on
the condition that the job still waits, so of an approve and a discard racing only one wins;
then the workflow is told through the task token it waits on.
"""

from __future__ import annotations

import contextlib
from typing import Any

from core.records import JobStatus, Phase, iso_after, iso_now
from core.responses import DecisionOut
from core.transitions import (
    job_approved,
    job_awaiting_approval,
    job_decision_recorded,
    job_discarded,
    job_failed,
)
from functions.dal.jobs import JobItem, JobStore
from functions.dal.projects import ProjectStore
from functions.dal.workflow import Workflow
from functions.models.exceptions import (
    ApprovalWaitEnded,
    JobNotFound,
    NotAwaitingApproval,
    SecondIdentityRequired,
    WorkflowUnavailable,
)

DISCARDED_ERROR = "Discarded"  # the error the workflow's wait catches


APPROVALS = ("approval", "second_approval")


def decisions_needed(job: JobItem) -> list[str]:
    """What the job's plan waits for, from its gate and its policy check. A second person's
    approval stands for the approval too."""
    check = job.get("policyCheck") or {}
    needs = [str(need) for need in check.get("requires") or []]
    if job.get("approvalRequired") and "second_approval" not in needs:
        needs.insert(0, "approval")
    return list(dict.fromkeys(needs)) or ["approval"]


def await_approval(jobs: JobStore, job_id: str, task_token: str, timeout_seconds: int) -> dict[str, Any]:
    """The workflow's wait begins: the job shows awaiting_approval until someone answers."""
    now = iso_now()
    job = jobs.get(job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    needs = decisions_needed(job)
    approval = {
        "required": bool(job.get("approvalRequired")) or "second_approval" in needs,
        "state": "waiting",
        "requestedAt": now,
        "expiresAt": iso_after(now, timeout_seconds),
        "needs": needs,
    }
    if not jobs.apply(job_awaiting_approval(job_id, now, task_token, approval, ",".join(needs))):
        # Cancelled (or ended) between its plan and its wait: nothing is left to wait for.
        raise NotAwaitingApproval(f"job {job_id} ended before its plan could wait for approval")
    return approval


def _waiting(jobs: JobStore, job_id: str) -> JobItem:
    job = jobs.get(job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    if (
        job.get("status") != JobStatus.PROCESSING.value
        or job.get("phase") != Phase.AWAITING_APPROVAL.value
        or not job.get("approvalToken")
    ):
        state = (job.get("approval") or {}).get("state")
        detail = f"status {job.get('status')}, phase {job.get('phase')}" + (
            f", approval {state}" if state else ""
        )
        raise NotAwaitingApproval(f"job {job_id} is not waiting for approval ({detail})")
    return job


def _decided(job: JobItem, state: str, by: str, comment: str, now: str) -> dict[str, Any]:
    return {
        **(job.get("approval") or {"required": True}),
        "state": state,
        "decidedBy": by,
        "decidedAt": now,
        "comment": comment,
    }


def _pending(job: JobItem) -> list[str]:
    raw = job.get("pendingDecisions")
    return ["approval"] if raw is None else [part for part in str(raw).split(",") if part]


def approve(jobs: JobStore, workflow: Workflow, job_id: str, *, by: str, comment: str) -> DecisionOut:
    for _ in range(3):
        job = _waiting(jobs, job_id)
        pending = _pending(job)
        asked = [need for need in pending if need in APPROVALS]
        if not asked:
            raise NotAwaitingApproval(
                f"job {job_id} waits for {', '.join(pending)}, not an approval: "
                f"POST /api/deploy/override/{job_id}"
            )
        if "second_approval" in asked and by == job.get("submittedBy"):
            raise SecondIdentityRequired(
                f"job {job_id} destroys protected resources: someone other than its submitter "
                f"({by}) must approve"
            )
        now = iso_now()
        approval = _decided(job, "approved", by, comment, now)
        remaining = [need for need in pending if need not in APPROVALS]
        outcome = _decide(jobs, workflow, job, pending, remaining, approval, {"approval": approval})
        if outcome is not None:
            return outcome
    raise NotAwaitingApproval(f"job {job_id} is no longer waiting for approval")


def override(jobs: JobStore, workflow: Workflow, job_id: str, *, by: str, reason: str) -> DecisionOut:
    """A soft-mandatory failure let through by someone other than the submitter, with a reason."""
    for _ in range(3):
        job = _waiting(jobs, job_id)
        pending = _pending(job)
        if "override" not in pending:
            raise NotAwaitingApproval(
                f"job {job_id} has no failed policy to override (it waits for {', '.join(pending)})"
            )
        if by == job.get("submittedBy"):
            raise SecondIdentityRequired(
                f"a policy failure of job {job_id} can only be overridden by someone other than "
                f"its submitter ({by})"
            )
        now = iso_now()
        check = dict(job.get("policyCheck") or {})
        overridden = [
            f"{r.get('scope')}/{r.get('policy')}"
            for r in check.get("results") or []
            if r.get("overridable") and r.get("outcome") != "passed"
        ]
        check["override"] = {"by": by, "at": now, "reason": reason, "policies": overridden}
        remaining = [need for need in pending if need != "override"]
        approval = {**(job.get("approval") or {}), "needs": remaining}
        outcome = _decide(jobs, workflow, job, pending, remaining, approval, {"policyCheck": check})
        if outcome is not None:
            return outcome
    raise NotAwaitingApproval(f"job {job_id} is no longer waiting for an override")


def _decide(  # noqa: PLR0917 - one decision's parts, each needed
    jobs: JobStore,
    workflow: Workflow,
    job: JobItem,
    pending: list[str],
    remaining: list[str],
    approval: dict[str, Any],
    fields: dict[str, Any],
) -> DecisionOut | None:
    """Record one decision; the last one lets the workflow go on. None: another decision was
    recorded meanwhile (read again and retry)."""
    job_id = str(job["jobId"])
    now = iso_now()
    expected = None if job.get("pendingDecisions") is None else ",".join(pending)
    if remaining:
        kept = {**fields, "approval": {**approval, "state": "waiting", "needs": remaining}}
        if "approval" in fields:
            kept["approval"] |= {"approvedBy": approval.get("decidedBy"), "approvedAt": now}
        if not jobs.apply(job_decision_recorded(job_id, now, ",".join(pending), ",".join(remaining), kept)):
            return None
        return DecisionOut(
            jobId=job_id,
            status=JobStatus.PROCESSING,
            message=f"Recorded: the plan still waits for {', '.join(remaining)}",
        )
    final = {**approval, "state": "approved", "needs": []}
    extra = {key: value for key, value in fields.items() if key != "approval"}
    if not jobs.apply(job_approved(job_id, now, final, pending=expected, fields=extra)):
        return None
    token = str(job["approvalToken"])
    try:
        workflow.resume(token, {"decision": "approved", "by": final.get("decidedBy")})
    except ApprovalWaitEnded:
        # Expired in the same moment: the workflow's expiry path closes the job.
        jobs.apply(
            job_discarded(
                job_id, iso_now(), {**final, "state": "expired"}, _expired_error(job), while_waiting=False
            )
        )
        raise NotAwaitingApproval(f"job {job_id}: the approval had expired; nothing was applied") from None
    except WorkflowUnavailable:
        # Not delivered: the job waits again, so the decision can be given once more.
        jobs.apply(
            job_awaiting_approval(
                job_id, iso_now(), token, job.get("approval") or {}, job.get("pendingDecisions")
            )
        )
        raise
    return DecisionOut(
        jobId=job_id, status=JobStatus.PROCESSING, message="Approved: applying exactly the reviewed plan"
    )


def discard(
    jobs: JobStore, projects: ProjectStore, workflow: Workflow, job_id: str, *, by: str, comment: str
) -> DecisionOut:
    job = _waiting(jobs, job_id)
    now = iso_now()
    error = f"plan discarded by {by}" + (f": {comment}" if comment else "")
    if not jobs.apply(
        job_discarded(job_id, now, _decided(job, "discarded", by, comment, now), error, while_waiting=True)
    ):
        raise NotAwaitingApproval(f"job {job_id} is no longer waiting for approval")
    projects.release(str(job["projectId"]), job_id, restore=job.get("previousProject") or None)
    try:
        workflow.reject(str(job["approvalToken"]), DISCARDED_ERROR, error)
    except (ApprovalWaitEnded, WorkflowUnavailable):
        # The records are final already; an execution left waiting is stopped instead.
        with contextlib.suppress(WorkflowUnavailable):
            workflow.stop(job_id, error)
    return DecisionOut(jobId=job_id, status=JobStatus.FAILED, message="Discarded: nothing was applied")


def _expired_error(job: JobItem) -> str:
    expires = (job.get("approval") or {}).get("expiresAt")
    return "the approval expired" + (f" at {expires}" if expires else "") + ": the plan was discarded"


def close_discarded(
    jobs: JobStore, projects: ProjectStore, job_id: str, *, expired: bool, cause: str = ""
) -> None:
    """The workflow's own discard and expiry paths: the job ends discarded (unless a person's
    discard already closed it) and the project is put back as it was."""
    job = jobs.get(job_id)
    if job is None:
        return
    now = iso_now()
    approval = dict(job.get("approval") or {"required": True})
    if expired:
        approval |= {"state": "expired", "decidedAt": now}
        error = _expired_error(job)
    else:
        approval.setdefault("state", "discarded")
        approval["state"] = "discarded"
        error = cause or "the plan was discarded"
    if not jobs.apply(job_discarded(job_id, now, approval, error, while_waiting=False)):
        jobs.apply(job_failed(job_id, now, error))
    projects.release(str(job["projectId"]), job_id, restore=job.get("previousProject") or None)
