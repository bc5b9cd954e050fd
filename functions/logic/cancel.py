"""Cancelling a job: stop its execution; the runner's signal path stops terraform safely.

A job that has not reached its build yet is closed here, since no runner will record it.
"""

from __future__ import annotations

from core.records import CANCELLED_MESSAGE, TERMINAL_JOB_STATUSES, JobStatus, Phase, iso_now
from core.responses import CancelOut
from core.transitions import job_discarded
from functions.dal.jobs import JobItem, JobStore
from functions.dal.projects import ProjectStore
from functions.dal.workflow import Workflow
from functions.logic.queue import leave_queue
from functions.models.exceptions import JobAlreadyFinished, JobNotFound

RUNNING = "RUNNING"


def cancel_job(
    jobs: JobStore, projects: ProjectStore, workflow: Workflow, job_id: str, requested_by: str
) -> CancelOut:
    item = jobs.get(job_id)
    if item is None:
        raise JobNotFound(f"no job {job_id}")
    status = JobStatus(item["status"])
    if status in TERMINAL_JOB_STATUSES:
        raise JobAlreadyFinished(f"job {job_id} has already {status.value}; there is nothing to cancel")
    jobs.request_cancel(job_id, requested_by)
    execution = workflow.status(job_id)
    workflow.stop(job_id, f"{CANCELLED_MESSAGE} by {requested_by}")
    waiting = item.get("phase") == Phase.AWAITING_APPROVAL.value
    # A job still waiting for a build slot (its record says why) has no build running either.
    slot_wait = bool(item.get("pendingReason"))
    if status is JobStatus.PENDING or execution != RUNNING or waiting or slot_wait:
        # No build is running for this job (queued, waiting for approval, or none ever will):
        # close the records here.
        if (waiting and _discard_waiting(jobs, item, requested_by)) or jobs.fail_if_active(
            job_id, CANCELLED_MESSAGE
        ):
            projects.release(item["projectId"], job_id, restore=item.get("previousProject") or None)
        if item.get("queued"):
            leave_queue(projects, str(item["projectId"]), [job_id])
        message = (
            "The plan waiting for approval was cancelled"
            if waiting
            else "The job was cancelled before it ran"
        )
        return CancelOut(jobId=job_id, status=JobStatus.FAILED, message=message)
    return CancelOut(
        jobId=job_id,
        status=status,
        message="Cancellation requested: terraform stops safely and the job ends as failed (cancelled)",
    )


def _discard_waiting(jobs: JobStore, item: JobItem, requested_by: str) -> bool:
    """A plan waiting for approval that is cancelled is discarded by it: the approval says so
    (not "waiting" on a job that ended) and the token goes. False if it no longer waits."""
    now = iso_now()
    approval = {
        **(item.get("approval") or {"required": True}),
        "state": "discarded",
        "decidedBy": requested_by,
        "decidedAt": now,
        "comment": CANCELLED_MESSAGE,
    }
    return jobs.apply(job_discarded(str(item["jobId"]), now, approval, CANCELLED_MESSAGE, while_waiting=True))
