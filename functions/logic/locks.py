"""Stale locks and stuck jobs: what a dead runner leaves behind, found and cleared.

A terraform state lock is stale when the job that took it is no longer running: its build has
ended (CodeBuild says so), so no terraform process can still write the state. Such a lock is
cleared by the reaper (before a new job on the project, and on a schedule); any other lock only
by an operator, through the admin endpoint, which records who did it and why.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from functions.dal.builds import BuildStatus
from functions.dal.jobs import JobItem, JobStore
from functions.dal.locks import LockStore, StateLock
from functions.dal.projects import ProjectStore
from functions.dal.workflow import Workflow
from functions.models.exceptions import NothingToShow, ProjectBusy, StoreUnavailable, WorkflowUnavailable
from functions.models.output import UnlockOut
from provisioner.records import TERMINAL_JOB_STATUSES, DeploymentStatus, JobStatus, iso_now, state_lock_id

OWNER_CANDIDATES = 10
STUCK_AFTER_SECONDS = 120


@dataclass(frozen=True)
class LockServices:
    projects: ProjectStore
    jobs: JobStore
    locks: LockStore
    builds: BuildStatus
    workflow: Workflow
    state_bucket: str


@dataclass(frozen=True)
class LockVerdict:
    lock: StateLock
    owner: JobItem | None
    owner_running: bool

    @property
    def owner_job_id(self) -> str | None:
        return str(self.owner["jobId"]) if self.owner else None


def _timestamp(value: str) -> str:
    """Comparable text of an RFC 3339 time: terraform writes nanoseconds, we write milliseconds."""
    return value.replace("Z", "").replace("+00:00", "")[:23]


def build_running(services: LockServices, job: JobItem) -> bool:
    """Whether the job's terraform process can still be alive: its build is in progress."""
    build_id = str(job.get("buildId") or "")
    if not build_id:
        return False  # the runner never started, so it took no lock
    if ":" not in build_id:
        # Not a CodeBuild build id (a runner started by hand): only the record can tell.
        return JobStatus(job["status"]) not in TERMINAL_JOB_STATUSES
    return services.builds.status(build_id) == "IN_PROGRESS"


def inspect_state_lock(services: LockServices, project_id: str) -> LockVerdict | None:
    lock = services.locks.get(state_lock_id(services.state_bucket, project_id))
    if lock is None:
        return None
    created = _timestamp(lock.created)
    recent, _ = services.jobs.page(project_id, OWNER_CANDIDATES, None)
    # The newest job started before the lock was taken is the one that took it.
    owner = next((job for job in recent if _timestamp(str(job.get("startTime", ""))) <= created), None)
    return LockVerdict(lock, owner, owner is not None and build_running(services, owner))


def _record(services: LockServices, project_id: str, verdict: LockVerdict, by: str, reason: str) -> None:
    services.projects.update(
        project_id,
        {
            "lastUnlock": {
                "lockId": verdict.lock.id,
                "lockCreated": verdict.lock.created,
                "lockOwnerJobId": verdict.owner_job_id,
                "clearedBy": by,
                "clearedAt": iso_now(),
                "reason": reason,
            }
        },
    )


def reap_state_lock(services: LockServices, project_id: str) -> LockVerdict | None:
    """Clear the project's state lock if its owner is gone; returns the verdict when one was cleared."""
    verdict = inspect_state_lock(services, project_id)
    if verdict is None or verdict.owner_running:
        return None
    if not services.locks.delete(verdict.lock):
        return None
    owner = verdict.owner_job_id or "an unknown job"
    _record(services, project_id, verdict, "reaper", f"stale: {owner} is no longer running")
    return verdict


def force_unlock(services: LockServices, project_id: str, by: str, reason: str, force: bool) -> UnlockOut:
    verdict = inspect_state_lock(services, project_id)
    if verdict is None:
        raise NothingToShow(f"project {project_id}'s state is not locked")
    if verdict.owner_running and not force:
        raise ProjectBusy(
            f"the lock belongs to job {verdict.owner_job_id}, which is still running; cancel it, or pass "
            '"force": true if you know its build is gone',
            verdict.owner_job_id,
        )
    cleared = services.locks.delete(verdict.lock)
    if cleared:
        _record(services, project_id, verdict, by, reason or "forced by an operator")
    return UnlockOut(
        projectId=project_id,
        cleared=cleared,
        lockId=verdict.lock.id,
        ownerJobId=verdict.owner_job_id,
        clearedBy=by,
        message="The state lock was cleared"
        if cleared
        else "The lock changed meanwhile; nothing was cleared",
    )


def reap_stuck_jobs(services: LockServices, active_jobs: list[JobItem], now_ms: int) -> list[str]:
    """Jobs still pending or processing whose execution has ended: fail them and free their project."""
    failed: list[str] = []
    for job in active_jobs:
        if now_ms - int(job.get("createdAt", now_ms)) < STUCK_AFTER_SECONDS * 1000:
            continue
        with contextlib.suppress(StoreUnavailable, WorkflowUnavailable):
            execution = services.workflow.status(str(job["jobId"]))
            if execution == "RUNNING" or build_running(services, job):
                continue
            reason = f"the workflow ended ({execution or 'never started'}) without recording the job"
            if services.jobs.fail_if_active(str(job["jobId"]), reason):
                restore: dict[str, Any] = {"deploymentStatus": DeploymentStatus.FAILED.value}
                services.projects.release(str(job["projectId"]), str(job["jobId"]), restore=restore)
                failed.append(str(job["jobId"]))
    return failed


@dataclass(frozen=True)
class ReapReport:
    failed_jobs: list[str]
    cleared_locks: list[str]


_LOCK_PATH = re.compile(r"^(?P<bucket>[^/]+)/projects/(?P<project>[A-Za-z0-9_-]{1,64})/terraform\.tfstate$")


def reap(services: LockServices, now_ms: int) -> ReapReport:
    """One pass of the reaper: stuck jobs first (they free their projects), then stale locks."""
    failed = reap_stuck_jobs(services, services.jobs.active(), now_ms)
    cleared: list[str] = []
    for lock_id in services.locks.held():
        match = _LOCK_PATH.match(lock_id)
        if match is None or match["bucket"] != services.state_bucket:
            continue
        with contextlib.suppress(StoreUnavailable, WorkflowUnavailable):
            if reap_state_lock(services, match["project"]) is not None:
                cleared.append(lock_id)
    return ReapReport(failed, cleared)
