"""Reading jobs: the seed's status shape, the history, and the full log."""

from __future__ import annotations

import codecs

from core.records import TERMINAL_JOB_STATUSES, JobStatus, stored_json
from core.responses import JobListOut, JobOut, JobResult, JobSummary, LogOut, PlanSummary
from functions.dal.jobs import JobItem, JobStore
from functions.dal.objects import ArtifactReader
from functions.models.exceptions import JobNotFound

DEFAULT_MESSAGES = {
    JobStatus.PENDING: "Job is queued and waiting to start",
    JobStatus.PROCESSING: "Job is running",
}
MAX_LOG_CHUNK = 1024 * 1024


def job_view(item: JobItem) -> JobOut:
    status = JobStatus(item["status"])
    message = item.get("resultMessage") or DEFAULT_MESSAGES.get(status) or status.value
    if status is JobStatus.PROCESSING and item.get("phase"):
        message = f"Job is running: {item['phase']}"
    plan = item.get("planSummary")
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
    )


def get_job(jobs: JobStore, job_id: str) -> JobOut:
    item = jobs.view(job_id)
    if item is None:
        raise JobNotFound(f"no job {job_id}")
    return job_view(item)


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
