"""A busy project's queue: a deploy or destroy submitted while another job holds the project waits
its turn instead of being refused, and the project's jobs run one at a time in arrival order.

The project item keeps the queue (``queue``: job ids, oldest first). A job takes the project's
lock only at the queue's head (core.transitions.project_locked), so no poll, retry or race can
overtake: the workflow of a queued job asks again every few seconds (``take_turn``). A job ahead
that is gone (cancelled, superseded, failed) is passed over, so a dead job never blocks the queue.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from core.records import DeploymentStatus, JobAction, JobStatus, iso_now
from core.transitions import (
    ACTIVE,
    job_failed,
    job_superseded,
    job_took_turn,
    project_enqueued,
    project_queue_replaced,
)
from functions.dal.jobs import JobItem, JobStore
from functions.dal.projects import ProjectItem, ProjectStore
from functions.models.exceptions import ProjectBusy, StoreUnavailable, WorkflowUnavailable

QUEUE_EDIT_ATTEMPTS = 5


@dataclass(frozen=True)
class Turn:
    """What ``take_turn`` found: the job holds the project now, or it left the queue for good."""

    acquired: bool
    gone: bool = False

    def as_dict(self) -> dict[str, bool]:
        return {"acquired": self.acquired, "gone": self.gone}


def lock_fields(action: JobAction, job_id: str, now: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """What a project says while a job holds it: the job's action, deployment pending on it, and
    the job's own fields (its code, findings, variables: see submit)."""
    return {
        "activeAction": action.value,
        "deploymentStatus": DeploymentStatus.PENDING.value,
        "deploymentJobId": job_id,
        "lastUpdated": now,
        **fields,
    }


def queue_of(project: ProjectItem | None) -> list[str]:
    return [str(job) for job in (project or {}).get("queue") or []]


def position(project: ProjectItem | None, job_id: str) -> tuple[int | None, str | None]:
    """(1-based place in the queue, the job it waits for: the one ahead, or the holder)."""
    queue = queue_of(project)
    if job_id not in queue:
        return None, None
    index = queue.index(job_id)
    ahead = queue[index - 1] if index else (project or {}).get("activeJobId")
    return index + 1, str(ahead) if ahead else None


def enqueue(projects: ProjectStore, project_id: str, job_id: str) -> tuple[int, str | None]:
    """Join the end of the queue; returns the job's place and the job it waits for."""
    projects.apply(project_enqueued(project_id, job_id, iso_now()))
    place, waiting_for = position(projects.get(project_id), job_id)
    return place or 1, waiting_for


def leave_queue(projects: ProjectStore, project_id: str, job_ids: Collection[str]) -> bool:
    """Take jobs out of the queue (a conditional write on the queue as read, retried if it moved)."""
    for _ in range(QUEUE_EDIT_ATTEMPTS):
        queue = queue_of(projects.get(project_id))
        kept = [job for job in queue if job not in job_ids]
        if kept == queue or projects.apply(project_queue_replaced(project_id, queue, kept)):
            return True
    return False


def _active(job: JobItem | None) -> bool:
    return job is not None and job.get("status") in ACTIVE


def supersede_queued(
    jobs: JobStore,
    projects: ProjectStore,
    stop: Callable[[str, str], None],
    project_id: str,
    new_job_id: str,
) -> list[str]:
    """Older queued deploys of the project give way to a newer one (HCP's auto-cancel of pending
    runs): each is failed ("superseded by ..."), its execution stopped and it leaves the queue.
    Destroys queued are left alone: a deploy is not a reason to drop a destroy someone asked for."""
    superseded: list[str] = []
    now = iso_now()
    for job_id in queue_of(projects.get(project_id)):
        if job_id == new_job_id:
            break
        job = jobs.get(job_id)
        if job is None or job.get("action") != JobAction.DEPLOY.value:
            continue
        if jobs.apply(job_superseded(job_id, now, new_job_id)):
            superseded.append(job_id)
            with contextlib.suppress(WorkflowUnavailable):
                stop(job_id, f"superseded by {new_job_id}")
    if superseded:
        leave_queue(projects, project_id, superseded)
    return superseded


PrepareTurn = Callable[[JobItem, ProjectItem], dict[str, Any]]


def take_turn(
    jobs: JobStore,
    projects: ProjectStore,
    job_id: str,
    *,
    prepare: PrepareTurn | None = None,
    free_stale_holder: Callable[[str, str], bool] | None = None,
) -> Turn:
    """One look at the queue for a waiting job: take the project if it is this job's turn.

    ``prepare`` runs once the lock is held (a destroy copies the project's latest code then) and
    returns fields for the job record; if it fails the job fails and the project is put back.
    """
    job = jobs.get(job_id)
    if job is None or not _active(job):
        return Turn(False, gone=True)
    project_id = str(job["projectId"])
    project = projects.get(project_id) or {}
    if job.get("status") == JobStatus.PROCESSING.value or (
        project.get("activeJobId") == job_id and job.get("queued") is not True
    ):
        return Turn(True)  # an earlier look took the turn and its answer was lost
    queue = queue_of(project)
    if job_id not in queue and project.get("activeJobId") != job_id:
        jobs.apply(job_failed(job_id, iso_now(), "the job left its project's queue without running"))
        return Turn(False, gone=True)
    if project.get("activeJobId") == job_id:
        # An earlier look took the lock but its record of the turn was lost (the job table
        # failed, or the step timed out and was retried): finish that turn rather than wait on
        # a lock this job holds. What the lock replaced is not known any more.
        return _claim(jobs, projects, job, project, prepare)
    ahead = queue[: queue.index(job_id)] if job_id in queue else []
    gone = [other for other in ahead if not _active(jobs.get(other))]
    if gone:
        leave_queue(projects, project_id, gone)
        project = projects.get(project_id) or {}
    holder = project.get("activeJobId")
    if holder and holder != job_id and free_stale_holder is not None:
        with contextlib.suppress(StoreUnavailable, WorkflowUnavailable):
            if free_stale_holder(project_id, str(holder)):
                project = projects.get(project_id) or {}
    if queue_of(project)[:1] != [job_id] or (project.get("activeJobId") not in (None, job_id)):
        return Turn(False)
    return _claim(jobs, projects, job, project, prepare)


def _claim(
    jobs: JobStore, projects: ProjectStore, job: JobItem, project: ProjectItem, prepare: PrepareTurn | None
) -> Turn:
    job_id, project_id = str(job["jobId"]), str(job["projectId"])
    now = iso_now()
    fields = lock_fields(JobAction(job["action"]), job_id, now, job.get("projectFields") or {})
    try:
        previous = projects.acquire(project_id, job_id, fields, from_queue=True)
    except ProjectBusy:
        return Turn(False)
    try:
        extra = prepare(job, project) if prepare is not None else {}
    except (StoreUnavailable, ValueError) as exc:
        message = getattr(exc, "message", str(exc))
        jobs.apply(job_failed(job_id, now, f"the job could not start: {message}"))
        projects.release(project_id, job_id, restore=previous)
        return Turn(False, gone=True)
    jobs.apply(job_took_turn(job_id, now, previous, extra))
    return Turn(True)
