"""Drift checks: whether a project's real infrastructure still matches what it deployed.

A check is a job of its own (action ``drift``): it plans the project's deployed code read-only,
never takes the project's lock, and is skipped, and recorded as skipped, while another job runs,
so it never blocks a deploy. Its finding goes on its job (the history) and, in short, on the
project (the fleet view): ``status`` is the latest check's, ``baseline`` the last conclusive one
(clean or drifted), which is what notifications compare, so a skipped or errored check between
two drifted ones is not news.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from core.drift import DriftStatus, cost_plans, drift_report
from core.records import DeploymentStatus, JobAction, JobStatus, Phase, epoch_ms, iso_now, new_job_id
from core.requests import RemediateRequest
from core.responses import (
    DeployAccepted,
    DriftCheckAccepted,
    DriftCheckOut,
    DriftFleetEntry,
    DriftFleetOut,
    DriftOut,
)
from core.transitions import job_drift_recorded, project_updated
from cost import estimate
from functions.dal.jobs import JobItem, JobStore
from functions.dal.objects import ArtifactReader
from functions.dal.projects import ProjectItem, ProjectStore
from functions.dal.schedules import OFF, DriftSchedules, rate_seconds
from functions.logic.locks import release_stale_holder
from functions.logic.submit import Submission, SubmitStores, start_read_only, submit_redeploy
from functions.models.exceptions import (
    InvalidRequest,
    JobNotFound,
    NotDeployed,
    NotDrifted,
    ProjectNotFound,
    StaleDriftCheck,
    StoreUnavailable,
    WorkflowUnavailable,
)

LOGGER = logging.getLogger(__name__)
CHECKABLE = (DeploymentStatus.DEPLOYED.value, DeploymentStatus.FAILED.value)
TRIGGERS = ("manual", "schedule", "rollback")
CONCLUSIVE = (DriftStatus.CLEAN.value, DriftStatus.DRIFTED.value)
DEFAULT_SCHEDULE = "rate(1 day)"


# --- starting a check ---------------------------------------------------------------------------


def _running_holder(jobs: JobStore, project: ProjectItem) -> str | None:
    """The job holding the project, if it is still running: one that has ended (its workflow
    only releasing the lock now) changes nothing any more."""
    holder = project.get("activeJobId")
    if not holder:
        return None
    job = jobs.get(str(holder))
    if job is not None and job.get("status") not in (JobStatus.PENDING.value, JobStatus.PROCESSING.value):
        return None
    return str(holder)


def _busy_holder(stores: SubmitStores, project_id: str, project: ProjectItem) -> str | None:
    """The job that runs on the project now; a holder that is gone or over does not count."""
    holder = _running_holder(stores.jobs, project)
    if not holder:
        return None
    with contextlib.suppress(StoreUnavailable, WorkflowUnavailable):
        if release_stale_holder(stores.locks, project_id, str(holder), epoch_ms()):
            return None
    return str(holder)


def start_check(
    stores: SubmitStores, project_id: str, *, trigger: str = "manual", caller: str = "unknown"
) -> DriftCheckAccepted:
    """Start a drift check of the project's deployed code, or record it skipped if a job runs."""
    if trigger not in TRIGGERS:
        raise InvalidRequest(f"unknown trigger {trigger!r}", "trigger")
    project = stores.projects.get(project_id)
    if project is None:
        raise ProjectNotFound(f"no project {project_id}")
    source = project.get("codeJobId")
    job_id = new_job_id(JobAction.DRIFT)
    basis = {"deploymentJobId": project.get("deploymentJobId"), "codeJobId": source}
    # Before the deployment status: a running deploy makes it pending until it ends.
    holder = _busy_holder(stores, project_id, project) if source else None
    if holder is not None:
        reason = f"job {holder} is running on the project"
        _record_skipped(stores, project, job_id, trigger=trigger, caller=caller, basis=basis, reason=reason)
        return DriftCheckAccepted(jobId=job_id, status="skipped", message=f"Drift check skipped: {reason}")
    if project.get("deploymentStatus") not in CHECKABLE or not source or not project.get("deploymentJobId"):
        raise NotDeployed(
            f"project {project_id} has nothing deployed to check "
            f"(deployment status {project.get('deploymentStatus') or 'not_deployed'})"
        )
    if not stores.code.copy(project_id, str(source), job_id):
        raise StoreUnavailable(f"the code of job {source} is no longer stored")
    submission = Submission(
        JobAction.DRIFT,
        project_id,
        job_id,
        job_fields={
            "variablesRef": project.get("variablesRef"),
            "codeJobId": source,
            "trigger": trigger,
            "driftBasis": basis,
        },
        submitted_by=caller,
    )
    accepted = start_read_only(
        stores, submission, undo_storage=lambda: stores.code.delete(project_id, job_id)
    )
    return DriftCheckAccepted(jobId=accepted.jobId, status="accepted", message=accepted.message)


def _record_skipped(
    stores: SubmitStores,
    project: ProjectItem,
    job_id: str,
    *,
    trigger: str,
    caller: str,
    basis: Mapping[str, Any],
    reason: str,
) -> None:
    now = iso_now()
    report = {"status": DriftStatus.SKIPPED.value, "reason": reason}
    stores.jobs.create(
        {
            "jobId": job_id,
            "projectId": project["projectId"],
            "action": JobAction.DRIFT.value,
            "status": JobStatus.COMPLETED.value,
            "progress": 100,
            "phase": Phase.DONE.value,
            "kind": "job",
            "createdAt": epoch_ms(),
            "startTime": now,
            "updatedAt": now,
            "endTime": now,
            "resultMessage": f"Drift check skipped: {reason}",
            "trigger": trigger,
            "submittedBy": caller,
            "driftBasis": dict(basis),
            "drift": report,
        }
    )
    _record_on_project(stores.projects, project, job_id, now=now, report=report, trigger=trigger)


# --- recording what a check found ---------------------------------------------------------------


def drift_cost(refresh_plan: Mapping[str, Any], default_region: str) -> dict[str, Any] | None:
    """The drifted resources' monthly cost as the state records them and as they are now."""
    recorded_plan, actual_plan = cost_plans(refresh_plan)
    if not recorded_plan["resource_changes"] and not actual_plan["resource_changes"]:
        return None
    recorded = estimate(plan=recorded_plan, default_region=default_region).to_dict()
    actual = estimate(plan=actual_plan, default_region=default_region).to_dict()
    unpriced = len({e["address"] for e in [*recorded.get("unpriced", []), *actual.get("unpriced", [])]})
    before, after = float(recorded["costs"]["total"]), float(actual["costs"]["total"])
    return {
        "recorded": before,
        "actual": after,
        "delta": round(after - before, 2),
        "currency": actual["costs"].get("currency", "USD"),
        "priced": len({r["address"] for r in [*recorded.get("resources", []), *actual.get("resources", [])]}),
        "unpriced": unpriced,
        "lowerBound": unpriced > 0,
    }


def _moved_during(jobs: JobStore, project: ProjectItem, job: JobItem) -> str | None:
    """Why a finished check cannot be trusted: the project changed while it ran."""
    basis = job.get("driftBasis") or {}
    if project.get("deploymentJobId") != basis.get("deploymentJobId"):
        return f"job {project.get('deploymentJobId')} deployed the project during the check"
    holder = _running_holder(jobs, project)
    if holder:
        return f"job {holder} was running on the project when the check ended"
    return None


def record_drift(
    jobs: JobStore,
    projects: ProjectStore,
    artifacts: ArtifactReader,
    job_id: str,
    *,
    failed: bool,
    default_region: str,
    cause: str = "",
) -> dict[str, Any]:
    """The workflow's step after a drift check's build (or its failure): the finding on the job
    and on the project. Returns ``{"status": ...}``."""
    job = jobs.get(job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    project_id = str(job["projectId"])
    project = projects.get(project_id) or {"projectId": project_id}
    report: dict[str, Any]
    refresh_plan = None if failed else artifacts.drift_plan(project_id, job_id)
    plan = None if failed else artifacts.plan(project_id, job_id)
    if refresh_plan is None or plan is None:
        reason = str(job.get("error") or cause or "the check's plans were not stored")
        report = {"status": DriftStatus.ERRORED.value, "reason": reason}
    else:
        report = drift_report(refresh_plan, plan)
        report["cost"] = drift_cost(refresh_plan, default_region)
        moved = _moved_during(jobs, project, job)
        if moved is not None:
            report = {**report, "status": DriftStatus.SKIPPED.value, "reason": moved}
    report.update({k: v for k, v in (job.get("driftRun") or {}).items() if v is not None})
    now = iso_now()
    jobs.apply(job_drift_recorded(job_id, now, {**report, "message": _message(report)}))
    trigger = str(job.get("trigger") or "manual")
    _record_on_project(projects, project, job_id, now=now, report=report, trigger=trigger)
    return {"status": report["status"]}


def _message(report: Mapping[str, Any]) -> str:
    status = report["status"]
    if status == DriftStatus.CLEAN.value:
        return "No drift: the infrastructure matches the state and the code"
    if status == DriftStatus.DRIFTED.value:
        counts = report.get("counts") or {}
        names = ", ".join(r["address"] for r in (report.get("resources") or [])[:3])
        return (
            f"Drift: {counts.get('drifted', 0)} resource(s) changed outside terraform"
            + (f" ({names})" if names else "")
            + f", {counts.get('plannedChanges', 0)} the deployed code would change"
        )
    return f"Drift check {status}: {report.get('reason', '')}".rstrip(": ")


def _record_on_project(
    projects: ProjectStore,
    project: ProjectItem,
    job_id: str,
    *,
    now: str,
    report: Mapping[str, Any],
    trigger: str,
) -> None:
    previous = project.get("drift") or {}
    status = str(report["status"])
    baseline = status if status in CONCLUSIVE else previous.get("baseline")
    counts = (
        report.get("counts") or previous.get("counts") if status not in CONCLUSIVE else report.get("counts")
    )
    summary = {
        "status": status,
        "baseline": baseline,
        "previousBaseline": previous.get("baseline"),
        "jobId": job_id,
        "checkedAt": now,
        "trigger": trigger,
        "counts": counts or {},
        "reason": report.get("reason"),
    }
    if status in CONCLUSIVE:
        summary["conclusiveJobId"] = job_id
    elif previous.get("conclusiveJobId"):
        summary["conclusiveJobId"] = previous["conclusiveJobId"]
    projects.apply(project_updated(str(project["projectId"]), {"drift": summary}))


# --- reading ------------------------------------------------------------------------------------


def check_view(job: JobItem, *, details: bool = True) -> DriftCheckOut:
    report = job.get("drift") or {}
    active = job.get("status") in (JobStatus.PENDING.value, JobStatus.PROCESSING.value)
    if report.get("status"):
        status = str(report["status"])
    elif active:
        status = "running"
    else:
        status = DriftStatus.ERRORED.value
    run = job.get("driftRun") or {}
    return DriftCheckOut.model_validate(
        {
            "jobId": job["jobId"],
            "projectId": job["projectId"],
            "status": status,
            "jobStatus": job["status"],
            "trigger": job.get("trigger"),
            "startedAt": job.get("startTime", ""),
            "checkedAt": job.get("endTime"),
            "message": report.get("message") or job.get("resultMessage") or job.get("error"),
            "reason": report.get("reason") or (job.get("error") if status == "errored" else None),
            "counts": report.get("counts"),
            "resources": report.get("resources", []) if details else [],
            "plannedChanges": report.get("plannedChanges", []) if details else [],
            "cost": report.get("cost"),
            "stateSerial": report.get("stateSerial", run.get("stateSerial")),
            "stateLineage": report.get("stateLineage", run.get("stateLineage")),
            "codeHash": report.get("codeHash", run.get("codeHash")),
            "terraformVersion": report.get("terraformVersion", run.get("terraformVersion")),
        }
    )


def schedule_of(project: ProjectItem | None, install_default: str) -> str:
    return str((project or {}).get("driftSchedule") or install_default)


def project_drift(
    jobs: JobStore,
    projects: ProjectStore,
    project_id: str,
    *,
    limit: int,
    token: str | None,
    install_default: str = DEFAULT_SCHEDULE,
) -> DriftOut:
    project = projects.get(project_id)
    if project is None:
        raise ProjectNotFound(f"no project {project_id}")
    history, next_token = jobs.page(project_id, limit, token, action=JobAction.DRIFT.value)
    latest_job = history[0] if history and token is None else None
    if latest_job is None and (project.get("drift") or {}).get("jobId"):
        latest_job = jobs.get(str(project["drift"]["jobId"]))
    summary = project.get("drift") or {}
    latest = check_view(latest_job) if latest_job else None
    return DriftOut.model_validate(
        {
            "projectId": project_id,
            "status": latest.status if latest else "never_checked",
            "baseline": summary.get("baseline"),
            "schedule": schedule_of(project, install_default),
            "latest": latest,
            "history": [check_view(job, details=False) for job in history],
            "next": next_token,
        }
    )


def fleet(projects: ProjectStore) -> DriftFleetOut:
    entries = []
    for project in sorted(projects.drift_summaries(), key=lambda p: str(p["projectId"])):
        summary = project.get("drift") or {}
        if not summary and project.get("deploymentStatus") not in CHECKABLE:
            continue
        counts = summary.get("counts") or {}
        entries.append(
            DriftFleetEntry.model_validate(
                {
                    "projectId": project["projectId"],
                    "deploymentStatus": project.get("deploymentStatus"),
                    "status": summary.get("status") or "never_checked",
                    "baseline": summary.get("baseline"),
                    "checkedAt": summary.get("checkedAt"),
                    "jobId": summary.get("jobId"),
                    "drifted": int(counts.get("drifted", 0)),
                    "plannedChanges": int(counts.get("plannedChanges", 0)),
                }
            )
        )
    tally: dict[str, int] = {}
    for entry in entries:
        tally[entry.status] = tally.get(entry.status, 0) + 1
    return DriftFleetOut(projects=entries, counts=tally)


# --- repairing ----------------------------------------------------------------------------------


def remediate(
    stores: SubmitStores, project_id: str, request: RemediateRequest, *, caller: str = "unknown"
) -> DeployAccepted:
    """A normal job that brings reality back to the deployed code: a plan to review, or a deploy
    through the project's approvals and policies. Refused when the state or the code moved since
    the check, since what it found may no longer hold."""
    project = stores.projects.get(project_id)
    if project is None:
        raise ProjectNotFound(f"no project {project_id}")
    summary = project.get("drift") or {}
    check_id = summary.get("conclusiveJobId") or summary.get("jobId")
    check = stores.jobs.get(str(check_id)) if check_id else None
    if check is None:
        raise NotDrifted(f"project {project_id} has no drift check yet: POST /api/deploy/drift/{project_id}")
    if summary.get("baseline") != DriftStatus.DRIFTED.value:
        raise NotDrifted(f"project {project_id}'s latest drift check ({check_id}) found no drift to repair")
    run = check.get("driftRun") or {}
    state = stores.states.read(project_id) or {}
    if state.get("lineage") != run.get("stateLineage") or state.get("serial") != run.get("stateSerial"):
        raise StaleDriftCheck(
            f"the state moved since drift check {check_id} (serial {run.get('stateSerial')} → "
            f"{state.get('serial')}): check again"
        )
    if project.get("codeJobId") != (check.get("driftBasis") or {}).get("codeJobId"):
        raise StaleDriftCheck(f"the project's code changed since drift check {check_id}: check again")
    action = JobAction.PLAN if request.mode == "plan" else JobAction.DEPLOY
    accepted = submit_redeploy(
        project_id,
        stores,
        action=action,
        caller=caller,
        approval=request.approval,
        when_busy=request.whenBusy,
        allow_destroy=request.allowDestroy,
        extra={"remediates": check_id},
    )
    return accepted.model_copy(update={"message": f"{accepted.message}: remediating drift check {check_id}"})


# --- schedules ----------------------------------------------------------------------------------


def check_schedule(expression: str) -> str:
    """``off`` or an EventBridge ``rate(...)``; anything else is a 400."""
    if expression != OFF and rate_seconds(expression) is None:
        raise InvalidRequest(
            f"driftSchedule {expression!r} is not one we run: "
            '"off" or "rate(N minutes|hours|days)", e.g. "rate(1 day)" or "rate(6 hours)"',
            "driftSchedule",
        )
    return expression


def keep_schedule(
    schedules: DriftSchedules, project: ProjectItem | None, project_id: str, default: str
) -> None:
    """Best effort after a deploy is accepted: the project's schedule as its settings say. A
    scheduler that cannot be reached never refuses a deploy; the next deploy tries again."""
    try:
        schedules.ensure(project_id, schedule_of(project, default))
    except StoreUnavailable as exc:
        LOGGER.warning("drift schedule of %s not updated: %s", project_id, exc.message)


def scheduled_check(
    stores: SubmitStores,
    schedules: DriftSchedules | None,
    project_id: str,
    *,
    trigger: str = "schedule",
    caller: str = "scheduler",
) -> DriftCheckAccepted | None:
    """A schedule fired (or a rollback asked): check the project. A schedule of a project with
    nothing deployed any more goes instead (the project was destroyed)."""
    try:
        return start_check(stores, project_id, trigger=trigger, caller=caller)
    except (NotDeployed, ProjectNotFound):
        if schedules is not None and trigger == "schedule":
            schedules.remove(project_id)
        return None
