"""Reading jobs: the seed's status shape, the history, and the full log."""

from __future__ import annotations

import codecs

from core.records import TERMINAL_JOB_STATUSES, JobStatus, Phase, stored_json
from core.responses import (
    Approval,
    JobActions,
    JobListOut,
    JobOut,
    JobPlan,
    JobResult,
    JobSummary,
    JobTimings,
    LogOut,
    PlanCost,
    PlanOut,
    PlanSummary,
    PolicyCheckOut,
)
from core.timings import job_timings
from functions.dal.jobs import JobItem, JobStore
from functions.dal.objects import ArtifactReader
from functions.dal.projects import ProjectItem, ProjectStore
from functions.logic.queue import position
from functions.logic.review import read_review
from functions.models.exceptions import JobNotFound

DEFAULT_MESSAGES = {
    JobStatus.PENDING: "Job is queued and waiting to start",
    JobStatus.PROCESSING: "Job is running",
}
MAX_LOG_CHUNK = 1024 * 1024


def job_view(item: JobItem, project: ProjectItem | None = None) -> JobOut:
    """The seed's status shape, plus the queue, the approval gate and the plan where they apply.

    ``project``: the job's project, read only for a queued job (its place in the queue)."""
    status = JobStatus(item["status"])
    message = item.get("resultMessage") or DEFAULT_MESSAGES.get(status) or status.value
    phase = item.get("phase")
    place, waiting_for = position(project, str(item["jobId"])) if item.get("queued") else (None, None)
    pending = pending_decisions(item)
    if status is JobStatus.PROCESSING and phase == Phase.AWAITING_APPROVAL.value:
        message = WAITING_MESSAGES.get(pending[0] if pending else "approval", WAITING_MESSAGES["approval"])
    elif status is JobStatus.PROCESSING and phase:
        message = f"Job is running: {phase}"
    elif status is JobStatus.PENDING and place is not None:
        message = f"Job is queued: position {place}, waiting for {waiting_for or 'the job in progress'}"
    reason = pending_reason(item)
    if reason and status is JobStatus.PENDING and place is None:
        message = f"Job is {reason}"
    plan = item.get("planSummary")
    waiting = status is JobStatus.PROCESSING and phase == Phase.AWAITING_APPROVAL.value
    approval = item.get("approval")
    cost = item.get("planCost")
    return JobOut(
        jobId=item["jobId"],
        projectId=item["projectId"],
        action=item.get("action", "deploy"),
        status=status,
        progress=int(item.get("progress", 0)),
        phase=str(item.get("phase", "queued")),
        result=JobResult(
            message=str(message),
            logs=str(item.get("logTail", "")),
            outputs=stored_json(item.get("outputsJson"), {}),
        ),
        error=item.get("error") if status is JobStatus.FAILED else None,
        startTime=item.get("startTime"),
        endTime=item.get("endTime"),
        updatedAt=item.get("updatedAt"),
        planSummary=PlanSummary(**plan) if isinstance(plan, dict) else None,
        queuePosition=place,
        waitingFor=waiting_for,
        pendingReason=reason,
        approval=Approval(**approval) if isinstance(approval, dict) else None,
        actions=JobActions(
            canApprove=waiting and bool({"approval", "second_approval"} & set(pending)),
            canDiscard=waiting,
            canCancel=status in (JobStatus.PENDING, JobStatus.PROCESSING),
            canOverride=waiting and "override" in pending,
        ),
        policies=policy_check_out(item.get("policyCheck")),
        timings=timings_out(item),
        plan=JobPlan(
            summary=PlanSummary(**plan),
            cost=PlanCost(**cost) if isinstance(cost, dict) else None,
            hasChanges=any(plan.get(k) for k in ("add", "change", "destroy", "import", "forget", "outputs")),
        )
        if isinstance(plan, dict) and item.get("reviewKey")
        else None,
    )


WAITING_MESSAGES = {
    "approval": "Job is waiting for approval of its plan",
    "second_approval": "Job is waiting for a second person to approve the destroys its plan makes",
    "override": "Job is waiting for another person to override a failed policy",
}


def timings_out(item: JobItem) -> JobTimings | None:
    """Where the job's time went (core/timings.py); none for a record without a creation time."""
    timings = job_timings(
        item.get("createdAt") or item.get("startTime"),
        item.get("endTime"),
        item.get("timeline"),
        item.get("approval"),
    )
    if timings is None:
        return None
    return JobTimings.model_validate({**timings.phases, "startUpDetail": timings.start_up_detail})


def pending_reason(item: JobItem) -> str | None:
    """Why an active job waits to build (functions/logic/build_slots.py writes it); gone once it ends."""
    reason = item.get("pendingReason")
    return str(reason) if reason and item.get("status") in ("pending", "processing") else None


def pending_decisions(item: JobItem) -> list[str]:
    """What a waiting job waits for; a job from before policies waits for an approval only."""
    raw = item.get("pendingDecisions")
    if raw is None:
        return ["approval"] if item.get("phase") == Phase.AWAITING_APPROVAL.value else []
    return [part for part in str(raw).split(",") if part]


def policy_check_out(check: object) -> PolicyCheckOut | None:
    return PolicyCheckOut.model_validate(check) if isinstance(check, dict) else None


def get_job(jobs: JobStore, projects: ProjectStore, job_id: str) -> JobOut:
    item = jobs.view(job_id)
    if item is None:
        raise JobNotFound(f"no job {job_id}")
    project = (
        projects.get(str(item["projectId"])) if item.get("queued") and item["status"] == "pending" else None
    )
    return job_view(item, project)


def get_plan(jobs: JobStore, artifacts: ArtifactReader, job_id: str) -> PlanOut:
    job, document = read_review(jobs, artifacts, job_id)
    return PlanOut(
        jobId=job_id,
        projectId=str(job["projectId"]),
        action=str(job.get("action", "plan")),
        status=JobStatus(job["status"]),
        summary=PlanSummary(**document["summary"]),
        resourceChanges=document.get("resourceChanges", []),
        outputChanges=document.get("outputChanges", []),
        cost=PlanCost(**document["cost"]) if isinstance(document.get("cost"), dict) else None,
        markdown=str(document.get("markdown", "")),
        basis=document.get("basis") or {},
        policies=policy_check_out(job.get("policyCheck")),
    )


def list_jobs(jobs: JobStore, project_id: str | None, limit: int, token: str | None) -> JobListOut:
    items, next_token = jobs.page(project_id, limit, token)
    summaries = [
        JobSummary(
            jobId=item["jobId"],
            projectId=item["projectId"],
            action=item.get("action", "deploy"),
            status=JobStatus(item["status"]),
            progress=int(item.get("progress", 0)),
            phase=str(item.get("phase", "queued")),
            startTime=item.get("startTime"),
            endTime=item.get("endTime"),
            error=item.get("error") if item["status"] == JobStatus.FAILED else None,
            approval=Approval(**item["approval"]) if isinstance(item.get("approval"), dict) else None,
            timings=timings_out(item),
            pendingReason=pending_reason(item),
        )
        for item in items
    ]
    return JobListOut(jobs=summaries, next=next_token)


def read_log(jobs: JobStore, artifacts: ArtifactReader, job_id: str, offset: int) -> LogOut:
    item = jobs.get(job_id)
    if item is None:
        raise JobNotFound(f"no job {job_id}")
    complete = JobStatus(item["status"]) in TERMINAL_JOB_STATUSES
    content, size = artifacts.log(item["projectId"], job_id, offset)
    chunk = content[:MAX_LOG_CHUNK]
    at_end = min(offset, size) + len(chunk) >= size
    # A read may end inside a multi-byte character: hold those bytes back for the next read.
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    text = decoder.decode(chunk, final=at_end and complete)
    next_offset = min(offset, size) + len(chunk) - len(decoder.getstate()[0])
    return LogOut(
        jobId=job_id,
        offset=offset,
        nextOffset=next_offset,
        content=text,
        complete=complete and next_offset >= size,
    )
