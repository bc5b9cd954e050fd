"""The workflow's own steps, each a Lambda task of the state machine: a queued job's turn, the
review of a plan, its policy check (and the stop a policy makes), a drift check's finding, and
the approval wait with its discard and expiry paths."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from core.records import JobAction, epoch_ms
from core.timings import POLICY_AND_COST, RECORDING, span
from core.transitions import job_timed
from functions.dal.jobs import JobItem, JobStore
from functions.dal.objects import ArtifactReader, CodeStore
from functions.dal.policies import PolicyStore
from functions.dal.projects import ProjectItem, ProjectStore
from functions.logic.approvals import await_approval, close_discarded
from functions.logic.drift import record_drift
from functions.logic.locks import LockServices, release_stale_holder
from functions.logic.policy_check import check_job_policies, stop_for_policy
from functions.logic.queue import take_turn
from functions.logic.review import review_job_plan
from functions.models.exceptions import InvalidRequest, StoreUnavailable

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepServices:
    jobs: JobStore
    projects: ProjectStore
    policies: PolicyStore
    code: CodeStore
    artifacts: ArtifactReader
    locks: LockServices
    default_region: str
    plan_expiry_seconds: int


def _destroy_source(services: StepServices, job: JobItem, project: ProjectItem) -> dict[str, Any]:
    """A destroy runs the project's code as it is when the destroy's turn comes."""
    if job.get("action") != JobAction.DESTROY.value:
        return {}
    source = project.get("codeJobId")
    if not source:
        raise StoreUnavailable(f"project {job['projectId']} has no code to destroy any more")
    if source != job.get("codeJobId") and not services.code.copy(
        str(job["projectId"]), str(source), str(job["jobId"])
    ):
        raise StoreUnavailable(f"the code of job {source} is no longer stored")
    return {"codeJobId": source, "variablesRef": project.get("variablesRef")}


def _record_drift(
    services: StepServices, job_id: str, job: dict[str, Any], *, failed: bool
) -> dict[str, Any]:
    error = job.get("errorInfo") or {}
    return record_drift(
        services.jobs,
        services.projects,
        services.artifacts,
        job_id,
        failed=failed,
        default_region=services.default_region,
        cause=str(error.get("Cause") or error.get("Error") or ""),
    )


# The steps whose time is the job's own (the rest are waits and transitions the answer derives).
TIMED_STEPS = {
    "review_plan": POLICY_AND_COST,
    "check_policies": POLICY_AND_COST,
    "record_drift": RECORDING,
}


def run_step(services: StepServices, event: dict[str, Any]) -> dict[str, Any]:
    step = str(event.get("step"))
    job_id = str((event.get("job") or {}).get("jobId", ""))
    phase = TIMED_STEPS.get(step)
    if phase is None:
        return _run_step(services, event)
    started = epoch_ms()
    try:
        return _run_step(services, event)
    finally:
        _record_span(services.jobs, job_id, span(phase, started, epoch_ms()))


def _record_span(jobs: JobStore, job_id: str, timed: dict[str, Any]) -> None:
    """A step's time is reported, not relied on: failing to write it never fails the step."""
    try:
        jobs.apply(job_timed(job_id, [timed]))
    except Exception:
        LOGGER.warning("the time of a workflow step could not be recorded", exc_info=True)


def _run_step(services: StepServices, event: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0911
    step = event.get("step")
    job = event.get("job") or {}
    job_id = str(job.get("jobId", ""))
    if step == "take_turn":
        turn = take_turn(
            services.jobs,
            services.projects,
            job_id,
            prepare=lambda item, project: _destroy_source(services, item, project),
            free_stale_holder=lambda project_id, holder: release_stale_holder(
                services.locks, project_id, holder, epoch_ms()
            ),
        )
        return turn.as_dict()
    if step == "review_plan":
        return review_job_plan(
            services.jobs,
            services.artifacts,
            job_id,
            default_region=services.default_region,
            plan_expiry_seconds=services.plan_expiry_seconds,
        )
    if step == "check_policies":
        return check_job_policies(
            services.jobs,
            services.policies,
            services.artifacts,
            services.code,
            job_id,
            default_region=services.default_region,
            # A saved plan's apply comes here without a review of its own: its plan had changes.
            has_changes=bool((job.get("review") or {}).get("hasChanges", True)),
        )
    if step == "record_drift":
        return _record_drift(services, job_id, job, failed=bool(event.get("failed")))
    if step == "record_policy_stop":
        stop_for_policy(services.jobs, services.projects, job_id)
        return {"closed": True}
    if step == "await_approval":
        approval = await_approval(
            services.jobs, job_id, str(event["taskToken"]), int(job.get("approvalTimeoutSeconds", 0)) or 1
        )
        return {"waiting": True, "expiresAt": approval["expiresAt"]}
    if step in ("record_discard", "record_expiry"):
        cause = str((event.get("errorInfo") or {}).get("Cause") or "")
        close_discarded(
            services.jobs, services.projects, job_id, expired=step == "record_expiry", cause=cause
        )
        return {"closed": True}
    raise InvalidRequest(f"unknown workflow step {step!r}", "step")
