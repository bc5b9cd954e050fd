"""The approval gate: a gated job's plan waits for a person, who approves it (the workflow applies
exactly that plan) or discards it (the job ends failed, phase discarded, and the project gets
back the status it had). A wait no one answers expires and discards itself.

Who decides, when and why is kept on the job (``approval``). The decision is written first, on
the condition that the job still waits, so of an approve and a discard racing only one wins;
then the workflow is told through the task token it waits on.
"""

from __future__ import annotations

import contextlib
from typing import Any

from core.records import JobStatus, Phase, iso_after, iso_now
from core.responses import DecisionOut
from core.transitions import job_approved, job_awaiting_approval, job_discarded, job_failed
from functions.dal.jobs import JobItem, JobStore
from functions.dal.projects import ProjectStore
from functions.dal.workflow import Workflow
from functions.models.exceptions import (
    ApprovalWaitEnded,
    JobNotFound,
    NotAwaitingApproval,
    WorkflowUnavailable,
)

DISCARDED_ERROR = "Discarded"  # the error the workflow's wait catches


def await_approval(jobs: JobStore, job_id: str, task_token: str, timeout_seconds: int) -> dict[str, Any]:
    """The workflow's wait begins: the job shows awaiting_approval until someone answers."""
    now = iso_now()
    approval = {
        "required": True,
        "state": "waiting",
        "requestedAt": now,
        "expiresAt": iso_after(now, timeout_seconds),
    }
    if not jobs.apply(job_awaiting_approval(job_id, now, task_token, approval)):
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


def approve(jobs: JobStore, workflow: Workflow, job_id: str, *, by: str, comment: str) -> DecisionOut:
    job = _waiting(jobs, job_id)
    now = iso_now()
    approval = _decided(job, "approved", by, comment, now)
    if not jobs.apply(job_approved(job_id, now, approval)):
        raise NotAwaitingApproval(f"job {job_id} is no longer waiting for approval")
    token = str(job["approvalToken"])
    try:
        workflow.resume(token, {"decision": "approved", "by": by})
    except ApprovalWaitEnded:
        # Expired in the same moment: the workflow's expiry path closes the job.
        jobs.apply(
            job_discarded(
                job_id, iso_now(), {**approval, "state": "expired"}, _expired_error(job), while_waiting=False
            )
        )
        raise NotAwaitingApproval(f"job {job_id}: the approval had expired; nothing was applied") from None
    except WorkflowUnavailable:
        # Not delivered: the job waits again, so the approval can be given once more.
        jobs.apply(job_awaiting_approval(job_id, iso_now(), token, job.get("approval") or {}))
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
