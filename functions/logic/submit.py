"""Submitting jobs: a deploy or destroy (direct or gated), a speculative plan, the apply of a
saved plan. Each stores what its runner needs, takes the project's lock or joins its queue, and
starts the workflow.

Every step after the lock is undone if a later one fails: the job is marked failed, the project
gets its previous status back and its lock is released (or the job leaves the queue), and the
caller learns why. A lock held by a job that is gone or over never blocks a submit: it is
released and taken for the new job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from core.hcl.preflight import PreflightPolicy
from core.hcl.tfvars import VariableFileError, split_variable_files
from core.hcl.validation import static_findings
from core.items import WorkflowInput
from core.records import (
    JobAction,
    JobMode,
    JobStatus,
    Phase,
    code_digest,
    epoch_ms,
    iso_now,
    new_job_id,
)
from core.requests import ApplyRequest, CodeRequest, DeployRequest, DestroyRequest, PlanRequest
from core.responses import DeployAccepted
from functions.dal.jobs import JobItem, JobStore
from functions.dal.objects import CodeStore, StateReader
from functions.dal.policies import PolicyStore
from functions.dal.projects import ProjectItem, ProjectStore
from functions.dal.variables import VariableStore
from functions.dal.workflow import Workflow
from functions.logic.locks import LockServices, reap_state_lock, release_stale_holder
from functions.logic.policies import policy_set, snapshot
from functions.logic.queue import enqueue, leave_queue, lock_fields, supersede_queued
from functions.logic.queue import position as queue_position
from functions.logic.validation import REFUSING_CHECKS, stored_findings
from functions.models.exceptions import (
    InvalidConfiguration,
    InvalidRequest,
    JobNotFound,
    PlanNotReady,
    ProjectBusy,
    ProjectNotFound,
    StalePlan,
    StoreUnavailable,
    WorkflowUnavailable,
)

ACCEPTED_MESSAGES = {
    JobAction.DEPLOY: "Infrastructure deployment started",
    JobAction.DESTROY: "Infrastructure destruction started",
    JobAction.PLAN: "Plan started",
    JobAction.DRIFT: "Drift check started",
}
GATED_MESSAGES = {
    JobAction.DEPLOY: "Infrastructure deployment started: its plan will wait for approval",
    JobAction.DESTROY: "Infrastructure destruction started: its plan will wait for approval",
}
WhenBusy = Literal["queue", "reject"]


@dataclass(frozen=True)
class SubmitStores:
    jobs: JobStore
    projects: ProjectStore
    code: CodeStore
    variables: VariableStore
    workflow: Workflow
    run_timeout_seconds: int
    policy: PreflightPolicy
    locks: LockServices
    states: StateReader
    approval_timeout_seconds: int = 7 * 24 * 3600
    plan_expiry_seconds: int = 7 * 24 * 3600
    queue_poll_seconds: int = 5
    policies: PolicyStore | None = None


@dataclass(frozen=True)
class Submission:
    """One job about to start: what it is, what the project gets with its lock, and how it runs."""

    action: JobAction
    project_id: str
    job_id: str
    mode: JobMode = JobMode.DIRECT
    when_busy: WhenBusy = "queue"
    supersede: bool = False
    project_fields: Mapping[str, Any] | None = None  # None: the job takes no lock (a plan)
    job_fields: Mapping[str, Any] | None = None
    plan_job_id: str | None = None
    submitted_by: str = "unknown"
    allow_destroy: bool = False


def code_hash(files: Mapping[str, str]) -> str:
    """The code's identity (core.records.code_digest), as the runner takes it of the same files."""
    return code_digest({path: text.encode() for path, text in files.items()})


def _checked_code(
    request: CodeRequest, stores: SubmitStores, job_id: str
) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """(files, variables, project fields of the code) or the 400 that refuses the code."""
    try:
        files, file_variables = split_variable_files(request.workspace_files())
    except VariableFileError as exc:
        raise InvalidRequest(str(exc), "files") from exc
    # Values given in the request win over those of variable files, as -var wins over tfvars.
    variables = {**file_variables, **(request.variables or {})}
    # One parse for both: what refuses the code now, and what GET validate reports later.
    findings = static_findings(files, stores.policy)
    refused = [finding for finding in findings if finding.check in REFUSING_CHECKS]
    if refused:
        first = refused[0]
        raise InvalidConfiguration(
            f"the configuration cannot be deployed: {first.describe()}"
            + (f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""),
            [finding.as_dict() for finding in refused],
        )
    fields = {
        "codeFiles": sorted(files),
        "staticFindings": stored_findings(findings, job_id, stores.policy),
        "codeJobId": job_id,
    }
    return files, variables, fields


def _mode(approval: str | None, project: ProjectItem | None) -> JobMode:
    choice = approval or (project or {}).get("approvalDefault") or "auto"
    return JobMode.GATED if choice == "required" else JobMode.DIRECT


def submit_deploy(request: DeployRequest, stores: SubmitStores, *, caller: str = "unknown") -> DeployAccepted:
    job_id = new_job_id(JobAction.DEPLOY)
    files, variables, fields = _checked_code(request, stores, job_id)
    project = stores.projects.get(request.projectId)
    _refuse_early(stores, request.projectId, project, request.whenBusy)
    stores.code.put(request.projectId, job_id, files)
    reference = stores.variables.save(request.projectId, variables) if variables else None
    # Set with the lock, so a job undone (or cancelled unrun) puts the previous ones back; a
    # deploy without variables clears them (None removes the field).
    project_fields = {**fields, "variablesRef": reference}
    submission = Submission(
        JobAction.DEPLOY,
        request.projectId,
        job_id,
        mode=_mode(request.approval, project),
        when_busy=request.whenBusy,
        supersede=request.supersede,
        project_fields=project_fields,
        job_fields={"variablesRef": reference, "codeJobId": job_id, "codeHash": code_hash(files)},
        submitted_by=caller,
        allow_destroy=request.allowDestroy,
    )
    return _submit(stores, submission, undo_storage=lambda: stores.code.delete(request.projectId, job_id))


def submit_destroy(
    request: DestroyRequest, stores: SubmitStores, *, caller: str = "unknown"
) -> DeployAccepted:
    project = stores.projects.get(request.projectId)
    source_job = (project or {}).get("codeJobId")
    if not project or not source_job:
        raise ProjectNotFound(f"project {request.projectId} has no deployed code to destroy")
    _refuse_early(stores, request.projectId, project, request.whenBusy)
    job_id = new_job_id(JobAction.DESTROY)
    # The runner reads the job's own workspace; a destroy runs the project's latest code (a
    # queued one copies it again when its turn comes, in case a deploy ahead changed it).
    if not stores.code.copy(request.projectId, str(source_job), job_id):
        raise StoreUnavailable(f"the code of job {source_job} is no longer stored")
    submission = Submission(
        JobAction.DESTROY,
        request.projectId,
        job_id,
        mode=_mode(request.approval, project),
        when_busy=request.whenBusy,
        supersede=request.supersede,
        project_fields={},
        job_fields={"variablesRef": project.get("variablesRef"), "codeJobId": source_job},
        submitted_by=caller,
        allow_destroy=request.allowDestroy,
    )
    return _submit(stores, submission, undo_storage=lambda: stores.code.delete(request.projectId, job_id))


def submit_plan(request: PlanRequest, stores: SubmitStores, *, caller: str = "unknown") -> DeployAccepted:
    """A speculative plan: no lock, no queue, no change to the project; its saved plan can be
    applied later (``submit_apply``) while the project is still as it was planned against."""
    job_id = new_job_id(JobAction.PLAN)
    files, variables, fields = _checked_code(request, stores, job_id)
    project = stores.projects.get(request.projectId) or {}
    stores.code.put(request.projectId, job_id, files)
    reference = stores.variables.save(request.projectId, variables) if variables else None
    deployed_variables = project.get("variablesRef") or {}
    basis = {
        "projectCodeJobId": project.get("codeJobId"),
        "projectVariablesVersion": deployed_variables.get("versionId"),
        "deploymentJobId": project.get("deploymentJobId"),
    }
    submission = Submission(
        JobAction.PLAN,
        request.projectId,
        job_id,
        job_fields={
            **fields,
            "variablesRef": reference,
            "codeHash": code_hash(files),
            "planBasis": basis,
        },
        submitted_by=caller,
    )
    return _submit(stores, submission, undo_storage=lambda: stores.code.delete(request.projectId, job_id))


def submit_redeploy(
    project_id: str,
    stores: SubmitStores,
    *,
    action: JobAction,
    caller: str = "unknown",
    approval: str | None = None,
    when_busy: WhenBusy = "queue",
    allow_destroy: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> DeployAccepted:
    """The project's deployed code and variables again, as a new job: a deploy (through the
    project's approvals and policies) or a speculative plan. Drift remediation is one."""
    project = stores.projects.get(project_id)
    source_job = (project or {}).get("codeJobId")
    if not project or not source_job:
        raise ProjectNotFound(f"project {project_id} has no deployed code")
    if action is JobAction.DEPLOY:
        _refuse_early(stores, project_id, project, when_busy)
    job_id = new_job_id(action)
    if not stores.code.copy(project_id, str(source_job), job_id):
        raise StoreUnavailable(f"the code of job {source_job} is no longer stored")
    files = stores.code.read(project_id, job_id)
    reference = project.get("variablesRef")
    job_fields: dict[str, Any] = {
        **(extra or {}),
        "variablesRef": reference,
        "codeJobId": job_id,
        "codeHash": code_hash(files),
        "codeFiles": project.get("codeFiles"),
    }
    if action is JobAction.PLAN:
        deployed_variables = reference or {}
        job_fields["planBasis"] = {
            "projectCodeJobId": source_job,
            "projectVariablesVersion": deployed_variables.get("versionId"),
            "deploymentJobId": project.get("deploymentJobId"),
        }
        job_fields["staticFindings"] = project.get("staticFindings")
        submission = Submission(action, project_id, job_id, job_fields=job_fields, submitted_by=caller)
    else:
        project_fields = {
            "codeFiles": project.get("codeFiles"),
            "staticFindings": project.get("staticFindings"),
            "codeJobId": job_id,
            "variablesRef": reference,
        }
        submission = Submission(
            action,
            project_id,
            job_id,
            mode=_mode(approval, project),
            when_busy=when_busy,
            project_fields=project_fields,
            job_fields=job_fields,
            submitted_by=caller,
            allow_destroy=allow_destroy,
        )
    return _submit(stores, submission, undo_storage=lambda: stores.code.delete(project_id, job_id))


def start_read_only(
    stores: SubmitStores, submission: Submission, *, undo_storage: Callable[[], None]
) -> DeployAccepted:
    """A job that takes no lock and joins no queue (a drift check), started as every job is."""
    if submission.project_fields is not None:
        raise ValueError("a read-only job takes no project lock")
    return _submit(stores, submission, undo_storage=undo_storage)


def stale_reasons(
    plan_job: JobItem, project: ProjectItem, state: Mapping[str, Any] | None, now_ms: int, expiry_seconds: int
) -> list[str]:
    """Why a saved plan can no longer be applied as reviewed; empty when it still can."""
    saved = plan_job.get("savedPlan") or {}
    basis = plan_job.get("planBasis") or {}
    reasons: list[str] = []
    created = str(saved.get("createdAt") or plan_job.get("startTime") or "")
    try:
        age = (
            now_ms / 1000 - datetime.fromisoformat(created.replace("Z", "+00:00")).astimezone(UTC).timestamp()
        )
    except ValueError:
        age = float("inf")
    if age > expiry_seconds:
        reasons.append(f"the plan is older than its expiry ({expiry_seconds // 3600} h): plan again")
    serial = state.get("serial") if state else None
    lineage = state.get("lineage") if state else None
    if lineage != saved.get("stateLineage"):
        planned = saved.get("stateLineage") or "no state"
        reasons.append(f"the state's lineage changed since the plan ({planned} → {lineage or 'no state'})")
    elif serial != saved.get("stateSerial"):
        reasons.append(f"the state moved since the plan (serial {saved.get('stateSerial')} → {serial})")
    if project.get("codeJobId") != basis.get("projectCodeJobId"):
        now_code = project.get("codeJobId") or "no job"
        reasons.append(f"the project's code changed since the plan (now the code of {now_code})")
    deployed_variables = (project.get("variablesRef") or {}).get("versionId")
    if deployed_variables != basis.get("projectVariablesVersion"):
        reasons.append("the project's variables changed since the plan")
    return reasons


def submit_apply(
    plan_job_id: str, request: ApplyRequest, stores: SubmitStores, *, caller: str = "unknown"
) -> DeployAccepted:
    """Apply a speculative plan's saved file, unchanged: refused with the reasons when it is stale."""
    plan_job = stores.jobs.get(plan_job_id)
    if plan_job is None:
        raise JobNotFound(f"no job {plan_job_id}")
    if plan_job.get("action") != JobAction.PLAN.value:
        raise PlanNotReady(f"job {plan_job_id} is a {plan_job.get('action')} job, not a plan")
    if plan_job.get("status") != JobStatus.COMPLETED.value or not plan_job.get("savedPlan"):
        raise PlanNotReady(f"plan {plan_job_id} has not completed (status {plan_job.get('status')})")
    project_id = str(plan_job["projectId"])
    project = stores.projects.get(project_id) or {}
    reasons = stale_reasons(
        plan_job, project, stores.states.read(project_id), epoch_ms(), stores.plan_expiry_seconds
    )
    if reasons:
        raise StalePlan(f"plan {plan_job_id} cannot be applied: {reasons[0]}", reasons)
    job_id = new_job_id(JobAction.DEPLOY)
    if not stores.code.copy(project_id, plan_job_id, job_id):
        raise StoreUnavailable(f"the code of plan {plan_job_id} is no longer stored")
    fields = {
        "codeFiles": plan_job.get("codeFiles"),
        "staticFindings": plan_job.get("staticFindings"),
        "codeJobId": job_id,
        "variablesRef": plan_job.get("variablesRef"),
    }
    submission = Submission(
        JobAction.DEPLOY,
        project_id,
        job_id,
        mode=JobMode.SAVED,
        when_busy=request.whenBusy,
        supersede=request.supersede,
        project_fields=fields,
        job_fields={
            "variablesRef": plan_job.get("variablesRef"),
            "codeJobId": job_id,
            "codeHash": plan_job.get("codeHash"),
            "planJobId": plan_job_id,
        },
        plan_job_id=plan_job_id,
        submitted_by=caller,
        allow_destroy=request.allowDestroy,
    )
    accepted = _submit(stores, submission, undo_storage=lambda: stores.code.delete(project_id, job_id))
    return accepted.model_copy(update={"message": f"Applying saved plan {plan_job_id}"})


# --- the common path ----------------------------------------------------------------------------


def _clear_stale_lock(stores: SubmitStores, project_id: str) -> None:
    """A state lock left by a runner that died would fail this job at once: clear it first.

    Best effort: if CodeBuild or the lock table cannot tell, the job's runner waits for the lock.
    """
    with contextlib.suppress(StoreUnavailable, WorkflowUnavailable):
        reap_state_lock(stores.locks, project_id)


def _refuse_early(
    stores: SubmitStores, project_id: str, project: ProjectItem | None, when_busy: WhenBusy
) -> None:
    """A caller who wants a refusal from a busy project gets it before anything is stored (the
    usual 409 of deploys racing for one project); the conditional lock remains the real check."""
    holder = (project or {}).get("activeJobId")
    if when_busy != "reject" or not holder:
        return
    if not _freed_stale_holder(stores, project_id, str(holder)):
        raise ProjectBusy(
            f"project {project_id} has a job in progress ({holder}); wait for it or cancel it", str(holder)
        )


def _take_project(stores: SubmitStores, submission: Submission, now: str) -> dict[str, Any] | None:
    """The project's lock, taken for the job: the fields it replaced; None if the project is busy."""
    _clear_stale_lock(stores, submission.project_id)
    taken = lock_fields(submission.action, submission.job_id, now, submission.project_fields or {})
    for attempt in range(2):
        try:
            return stores.projects.acquire(submission.project_id, submission.job_id, taken)
        except ProjectBusy as busy:
            # Once more, and only once: a submit racing this one may take the freed project first.
            if (
                attempt
                or not busy.active_job_id
                or not _freed_stale_holder(stores, submission.project_id, busy.active_job_id)
            ):
                if submission.when_busy == "reject":
                    raise
                return None
    return None


def _freed_stale_holder(stores: SubmitStores, project_id: str, holder: str) -> bool:
    """Best effort: if the job table or the workflow cannot tell, the job queues (or gets its 409)."""
    with contextlib.suppress(StoreUnavailable, WorkflowUnavailable):
        return release_stale_holder(stores.locks, project_id, holder, epoch_ms())
    return False


def _with_policies(stores: SubmitStores, submission: Submission) -> Submission:
    """The policy set in force now is the one the job's plan is checked against (each version
    recorded). A direct job with policies to pass is planned and checked before it applies."""
    fields: dict[str, Any] = {
        **(submission.job_fields or {}),
        "submittedBy": submission.submitted_by,
        "allowDestroy": submission.allow_destroy or None,
    }
    if submission.action is JobAction.DRIFT:
        return replace(submission, job_fields=fields)  # plans nothing that could be applied
    refs = snapshot(policy_set(stores.policies, submission.project_id)) if stores.policies else []
    if refs:
        fields["policySet"] = refs
    else:
        fields["policyCheck"] = {"outcome": "no_policies", "message": "no policies"}
    mode = JobMode.CHECKED if refs and submission.mode is JobMode.DIRECT else submission.mode
    if submission.action is JobAction.PLAN:
        mode = submission.mode
    return replace(submission, mode=mode, job_fields=fields)


def _submit(
    stores: SubmitStores, submission: Submission, *, undo_storage: Callable[[], None]
) -> DeployAccepted:
    try:
        submission = _with_policies(stores, submission)
    except StoreUnavailable:
        with contextlib.suppress(StoreUnavailable):
            undo_storage()
        raise
    now = iso_now()
    locks = submission.project_fields is not None
    try:
        previous = _take_project(stores, submission, now) if locks else {}
    except ProjectBusy:
        with contextlib.suppress(StoreUnavailable):
            undo_storage()
        raise
    queued = previous is None
    position: tuple[int | None, str | None] = (None, None)
    try:
        stores.jobs.create(_job_item(submission, now, previous, queued=queued))
        if queued:
            position = enqueue(stores.projects, submission.project_id, submission.job_id)
        workflow_input = WorkflowInput(
            jobId=submission.job_id,
            projectId=submission.project_id,
            action=submission.action,
            runTimeoutSeconds=stores.run_timeout_seconds,
            mode=submission.mode,
            queued=queued,
            queuePollSeconds=stores.queue_poll_seconds,
            approvalTimeoutSeconds=stores.approval_timeout_seconds,
            planJobId=submission.plan_job_id or submission.job_id,
        )
        stores.workflow.start(submission.job_id, workflow_input.model_dump())
    except (StoreUnavailable, WorkflowUnavailable) as exc:
        _undo(stores, submission, previous, f"the job could not start: {exc.message}")
        raise
    if queued and submission.supersede:
        # Last, once the job is sure to run: jobs superseded cannot be put back by an undo. Best
        # effort: an older deploy left queued simply runs before this one.
        with contextlib.suppress(StoreUnavailable):
            supersede_queued(
                stores.jobs, stores.projects, stores.workflow.stop, submission.project_id, submission.job_id
            )
            position = queue_position(stores.projects.get(submission.project_id), submission.job_id)
    message = (GATED_MESSAGES if submission.mode is JobMode.GATED else ACCEPTED_MESSAGES)[submission.action]
    if submission.mode is JobMode.CHECKED:
        count = len((submission.job_fields or {}).get("policySet") or [])
        message += f": its plan is checked against {count} {'policy' if count == 1 else 'policies'} first"
    if queued:
        message += f": queued behind {position[1] or 'the job in progress'} (position {position[0]})"
    return DeployAccepted(
        jobId=submission.job_id, message=message, queuePosition=position[0], waitingFor=position[1]
    )


def _job_item(submission: Submission, now: str, previous: dict[str, Any] | None, *, queued: bool) -> JobItem:
    item: JobItem = {
        "jobId": submission.job_id,
        "projectId": submission.project_id,
        "action": submission.action.value,
        "status": JobStatus.PENDING.value,
        "progress": 0,
        "phase": Phase.QUEUED.value,
        "kind": "job",
        "createdAt": epoch_ms(),
        "startTime": now,
        "updatedAt": now,
        "mode": submission.mode.value,
        "approvalRequired": submission.mode is JobMode.GATED,
        **{k: v for k, v in (submission.job_fields or {}).items() if v is not None},
    }
    if previous is not None and submission.project_fields is not None:
        item["previousProject"] = previous
    if queued:
        # What the project gets when the job's turn comes (the lock's own fields are added then).
        item["queued"] = True
        item["projectFields"] = dict(submission.project_fields or {})
    return item


def _undo(stores: SubmitStores, submission: Submission, previous: dict[str, Any] | None, reason: str) -> None:
    """Best effort: the lock is released (or the queue left) even if marking the job failed did not work."""
    with contextlib.suppress(StoreUnavailable):
        stores.jobs.fail_if_active(submission.job_id, reason)
    if submission.project_fields is None:
        return
    with contextlib.suppress(StoreUnavailable):
        if previous is None:
            leave_queue(stores.projects, submission.project_id, [submission.job_id])
        else:
            stores.projects.release(submission.project_id, submission.job_id, restore=previous)
