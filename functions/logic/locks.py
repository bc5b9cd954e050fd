"""Stale locks and stuck jobs: what a dead runner leaves behind, found and cleared.

Two locks guard a project. The project lock (``activeJobId`` on its record) admits one job at a
time; terraform's state lock guards the state while terraform runs: the lock file beside the
state (terraform 1.10+) or an item in the lock table (older versions; a 1.10+ job that met such an
item takes both). Each kind is judged and cleared alike.

A terraform state lock is stale when the job that took it is no longer running: its build has
ended (CodeBuild says so), so no terraform process can still write the state. A project lock is
stale when its job's record is missing, the job has ended, or its workflow execution and build
are gone; a young lock is never stale, since a job is created and started just after the lock.
Stale locks are cleared by the reaper (before a new job on the project, and on a schedule); any
other lock only by an operator, through the admin endpoint, which records who did it and why.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from core.records import (
    TERMINAL_JOB_STATUSES,
    DeploymentStatus,
    JobAction,
    JobStatus,
    epoch_ms,
    iso_now,
    state_lock_ids,
)
from core.responses import ProjectLockCleared, UnlockOut
from core.timings import epoch_ms_of
from functions.dal.build_slots import BuildSlotStore
from functions.dal.builds import BuildStatus
from functions.dal.jobs import JobItem, JobStore
from functions.dal.locks import LockStore, StateLock
from functions.dal.projects import ProjectItem, ProjectStore
from functions.dal.workflow import Workflow
from functions.logic.build_slots import reclaim_build_slots
from functions.models.exceptions import NothingToShow, ProjectBusy, StoreUnavailable, WorkflowUnavailable

OWNER_CANDIDATES = 10
STATE_LOCKING_ACTIONS = (JobAction.DEPLOY.value, JobAction.DESTROY.value)
# A job's record, execution and build appear within the submitting request (29 s at most): a
# younger lock is its submit still at work, never stale.
STUCK_AFTER_SECONDS = 120
# An ended job's runner and workflow free its project right after recording the end; give them
# this long before the lock counts as left behind, so their last writes never race a new job.
SETTLE_SECONDS = 15
RUNNING = "RUNNING"
LockKind = Literal["state", "project", "all"]


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


def inspect_state_locks(services: LockServices, project_id: str) -> list[LockVerdict]:
    """A verdict on each of the project's held state locks (lock file first, then lock item)."""
    item_id, lockfile_id = state_lock_ids(services.state_bucket, project_id)
    held = [services.locks.get(lockfile_id), services.locks.get(item_id)]
    locks = [lock for lock in held if lock is not None]
    if not locks:
        return []
    # Only deploys and destroys take the state lock: plans and drift checks plan with -lock=false,
    # and counting one started meanwhile (or many, scheduled) would make a running deploy's lock
    # look stale. The newest of them started before the lock was taken is the one that took it.
    recent = [
        job
        for action in STATE_LOCKING_ACTIONS
        for job in services.jobs.page(project_id, OWNER_CANDIDATES, None, action=action)[0]
    ]
    recent.sort(key=lambda job: int(job.get("createdAt", 0)), reverse=True)
    verdicts: list[LockVerdict] = []
    for lock in locks:
        created = _timestamp(lock.created)
        owner = next((job for job in recent if _timestamp(str(job.get("startTime", ""))) <= created), None)
        verdicts.append(LockVerdict(lock, owner, owner is not None and build_running(services, owner)))
    return verdicts


def inspect_state_lock(services: LockServices, project_id: str) -> LockVerdict | None:
    return next(iter(inspect_state_locks(services, project_id)), None)


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


def reap_state_lock(services: LockServices, project_id: str) -> list[LockVerdict]:
    """Clear the project's state locks whose owner is gone; returns the verdicts of those cleared."""
    cleared: list[LockVerdict] = []
    for verdict in inspect_state_locks(services, project_id):
        if verdict.owner_running or not services.locks.delete(verdict.lock):
            continue
        owner = verdict.owner_job_id or "an unknown job"
        _record(services, project_id, verdict, "reaper", f"stale: {owner} is no longer running")
        cleared.append(verdict)
    return cleared


def _state_unlock_refusal(verdict: LockVerdict) -> ProjectBusy:
    return ProjectBusy(
        f"the lock belongs to job {verdict.owner_job_id}, which is still running; cancel it, or pass "
        '"force": true if you know its build is gone',
        verdict.owner_job_id,
    )


def _clear_state_lock(
    services: LockServices, project_id: str, verdict: LockVerdict, by: str, reason: str
) -> bool:
    cleared = services.locks.delete(verdict.lock)
    if cleared:
        _record(services, project_id, verdict, by, reason or "forced by an operator")
    return cleared


# --- the project lock -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectLockVerdict:
    project: ProjectItem
    job: JobItem | None
    stale_reason: str | None  # None: the holder may still be running
    execution: str | None = None  # the workflow's status, where it was asked

    @property
    def project_id(self) -> str:
        return str(self.project["projectId"])

    @property
    def job_id(self) -> str:
        return str(self.project["activeJobId"])

    @property
    def stale(self) -> bool:
        return self.stale_reason is not None

    @property
    def job_status(self) -> JobStatus | None:
        return JobStatus(self.job["status"]) if self.job else None


_JOB_STAMP = re.compile(r"^[a-z]+-(?P<ms>\d{13})-")


def _job_created_ms(job_id: str) -> int | None:
    stamp = _JOB_STAMP.match(job_id)
    return int(stamp["ms"]) if stamp else None


def _held_since_ms(project: ProjectItem) -> int | None:
    """When the lock was taken: job ids carry their creation time, the record its last update."""
    created = _job_created_ms(str(project.get("activeJobId", "")))
    return created if created is not None else epoch_ms_of(project.get("lastUpdated"))


def inspect_project_lock(
    services: LockServices, project: ProjectItem, now_ms: int
) -> ProjectLockVerdict | None:
    """Whether the job holding the project can still be at work; None if no job holds it."""
    holder = project.get("activeJobId")
    if not holder:
        return None
    job = services.jobs.get(str(holder))
    if job is None:
        since = _held_since_ms(project)
        young = since is not None and now_ms - since < STUCK_AFTER_SECONDS * 1000
        # A young lock without a record is its submit still storing the code.
        return ProjectLockVerdict(project, None, None if young else f"its job {holder} has no record")
    status = JobStatus(job["status"])
    if status in TERMINAL_JOB_STATUSES:
        ended = epoch_ms_of(job.get("endTime") or job.get("updatedAt"))
        settling = ended is not None and now_ms - ended < SETTLE_SECONDS * 1000
        return ProjectLockVerdict(
            project, job, None if settling else f"its job {holder} has already {status}"
        )
    if now_ms - int(job.get("createdAt", now_ms)) < STUCK_AFTER_SECONDS * 1000:
        return ProjectLockVerdict(project, job, None)
    execution = services.workflow.status(str(holder))
    if execution == RUNNING or build_running(services, job):
        return ProjectLockVerdict(project, job, None, execution)
    reason = f"the workflow of its job {holder} ended ({execution or 'never started'}) without recording it"
    return ProjectLockVerdict(project, job, reason, execution)


def _outcome(verdict: ProjectLockVerdict) -> dict[str, Any]:
    """What the project says after the release, where the job never recorded its outcome on it."""
    project = verdict.project
    if (
        project.get("deploymentStatus") != DeploymentStatus.PENDING
        or project.get("deploymentJobId") != verdict.job_id
    ):
        return {}  # the runner recorded the outcome (or another job's) already: keep it
    job = verdict.job or {}
    previous = job.get("previousProject")
    if verdict.job_status in TERMINAL_JOB_STATUSES and not job.get("buildId") and isinstance(previous, dict):
        return dict(previous)  # the job never reached terraform: the project is as it was before it
    return {"deploymentStatus": DeploymentStatus.FAILED.value}


def release_project_lock(
    services: LockServices, verdict: ProjectLockVerdict, by: str, reason: str, *, forced: bool = False
) -> tuple[bool, bool]:
    """Fail the holder if it is still active, then free the project, recording who and why.

    Returns (released, job failed). The release is conditional on the same holder, so a lock
    that changed meanwhile is left alone.
    """
    job_failed = False
    if verdict.job is not None and verdict.job_status not in TERMINAL_JOB_STATUSES:
        message = f"the project lock was cleared by {by}: {reason}"
        job_failed = services.jobs.fail_if_active(verdict.job_id, message)
        if forced:
            # Its build may still run terraform: stop it, as a cancel does, before a new job starts.
            with contextlib.suppress(WorkflowUnavailable):
                services.workflow.stop(verdict.job_id, message)
    record = {
        "jobId": verdict.job_id,
        "jobStatus": verdict.job_status.value if verdict.job_status else None,
        "clearedBy": by,
        "clearedAt": iso_now(),
        "reason": reason,
        "forced": forced,
    }
    # The record goes in with the release, atomically: it is written only if the lock was freed.
    restore = {**_outcome(verdict), "lastProjectUnlock": record}
    released = services.projects.release(verdict.project_id, verdict.job_id, restore=restore)
    return released, job_failed


def release_stale_holder(services: LockServices, project_id: str, holder: str, now_ms: int) -> bool:
    """A submit met a busy project: free it if its holder is stale; True if the project is free now."""
    created = _job_created_ms(holder)
    if created is not None and now_ms - created < SETTLE_SECONDS * 1000:
        # Too young to be stale whatever its record says (missing, active or just ended): the
        # usual case of a busy project costs no read at all.
        return False
    project = services.projects.get(project_id)
    if project is None:
        return False
    if project.get("activeJobId") != holder:
        return not project.get("activeJobId")  # freed meanwhile
    verdict = inspect_project_lock(services, project, now_ms)
    if verdict is None or not verdict.stale:
        return False
    released, _ = release_project_lock(services, verdict, "reaper", f"stale: {verdict.stale_reason}")
    return released


def reap_project_locks(services: LockServices, now_ms: int) -> list[str]:
    """Free every project whose holder is stale; returns their ids."""
    released: list[str] = []
    for project in services.projects.locked():
        with contextlib.suppress(StoreUnavailable, WorkflowUnavailable):
            verdict = inspect_project_lock(services, project, now_ms)
            if verdict is None or not verdict.stale:
                continue
            if release_project_lock(services, verdict, "reaper", f"stale: {verdict.stale_reason}")[0]:
                released.append(verdict.project_id)
    return released


def _project_unlock_refusal(verdict: ProjectLockVerdict) -> ProjectBusy:
    return ProjectBusy(
        f"the project lock belongs to job {verdict.job_id}, which may still be running; cancel it, or "
        'pass "force": true to fail it and free the project',
        verdict.job_id,
    )


# --- the admin endpoint ---------------------------------------------------------------------------


def force_unlock(
    services: LockServices,
    project_id: str,
    *,
    by: str,
    reason: str,
    force: bool,
    lock: LockKind = "state",
    now_ms: int | None = None,
) -> UnlockOut:
    """Clear what the operator asked for. Both locks are judged before either is touched, so a
    refusal (409) leaves everything as it was; the state lock goes first, so a job admitted by
    the freed project never meets the old state lock."""
    now_ms = epoch_ms() if now_ms is None else now_ms
    states = inspect_state_locks(services, project_id) if lock in ("state", "all") else []
    state = next((verdict for verdict in states if verdict.owner_running), states[0] if states else None)
    project: ProjectLockVerdict | None = None
    if lock in ("project", "all"):
        record = services.projects.get(project_id)
        project = inspect_project_lock(services, record, now_ms) if record else None
    if state is None and project is None:
        what = {"state": "state is", "project": "project is", "all": "state and project are"}[lock]
        raise NothingToShow(f"project {project_id}'s {what} not locked")
    if not force and state is not None and state.owner_running:
        raise _state_unlock_refusal(state)
    if not force and project is not None and not project.stale:
        raise _project_unlock_refusal(project)
    # Every one of them, even after one that changed meanwhile (no short cut).
    cleared_each = [_clear_state_lock(services, project_id, verdict, by, reason) for verdict in states]
    state_cleared = all(cleared_each)
    project_out: ProjectLockCleared | None = None
    if project is not None:
        forced = not project.stale
        why = reason or (f"stale: {project.stale_reason}" if project.stale else "forced by an operator")
        released, job_failed = release_project_lock(services, project, by, why, forced=forced)
        project_out = ProjectLockCleared(
            jobId=project.job_id,
            jobStatus=project.job_status,
            stale=not forced,
            cleared=released,
            jobFailed=job_failed,
        )
    cleared = state_cleared and (project_out is None or project_out.cleared)
    return UnlockOut(
        projectId=project_id,
        lock=lock,
        cleared=cleared,
        lockId=state.lock.id if state else None,
        ownerJobId=state.owner_job_id if state else (project.job_id if project else None),
        projectLock=project_out,
        clearedBy=by,
        message=_unlock_message(state is not None, project_out, cleared),
    )


def _unlock_message(state: bool, project: ProjectLockCleared | None, cleared: bool) -> str:
    if not cleared:
        return "A lock changed meanwhile and was left as it is"
    parts = (["the state lock"] if state else []) + (["the project lock"] if project else [])
    message = f"{' and '.join(parts).capitalize()} {'were' if len(parts) > 1 else 'was'} cleared"
    if project is not None and project.jobFailed:
        message += f"; job {project.jobId} is marked failed"
    return message


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
    released_projects: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # passes that could not run, and why


_LOCK_PATH = re.compile(
    r"^(?P<bucket>[^/]+)/projects/(?P<project>[A-Za-z0-9_-]{1,64})/terraform\.tfstate(?:\.tflock)?$"
)


def reap(services: LockServices, now_ms: int) -> ReapReport:
    """One pass of the reaper: stuck jobs first (they free their projects), then project locks
    left behind, then stale state locks."""
    failed = reap_stuck_jobs(services, services.jobs.active(), now_ms)
    skipped: list[str] = []
    try:
        released = reap_project_locks(services, now_ms)
    except StoreUnavailable as exc:  # the listing itself: the other passes still run
        released, skipped = [], [f"project locks: {exc.message}"]
    cleared: list[str] = []
    projects: dict[str, None] = {}  # a project holding both kinds is judged once
    for lock_id in services.locks.held():
        match = _LOCK_PATH.match(lock_id)
        if match is not None and match["bucket"] == services.state_bucket:
            projects[match["project"]] = None
    for project_id in projects:
        with contextlib.suppress(StoreUnavailable, WorkflowUnavailable):
            cleared += [verdict.lock.lock_id for verdict in reap_state_lock(services, project_id)]
    return ReapReport(failed, cleared, released, skipped)


# --- build slots ----------------------------------------------------------------------------------


def reap_build_slots(services: LockServices, slots: BuildSlotStore, now_ms: int) -> list[str]:
    """Build slots left behind: a slot (or a waiting place) whose job has ended, or whose execution
    is no longer running (a cancel stops the execution before it can hand the slot back), is
    reclaimed. Returns the job ids whose slots went back."""
    return reclaim_build_slots(slots, services.jobs, services.workflow.status, now_ms)
