"""Submitting a deploy or a destroy: take the project's lock, store the code, start the workflow.

Every step after the lock is undone if a later one fails: the job is marked failed, the project
gets its previous status back and its lock is released, and the caller learns why. A lock held
by a job that is gone or over never blocks a submit: it is released and taken for the new job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.hcl.preflight import PreflightPolicy
from core.hcl.tfvars import VariableFileError, split_variable_files
from core.hcl.validation import static_findings
from core.items import WorkflowInput
from core.records import DeploymentStatus, JobAction, JobStatus, Phase, epoch_ms, iso_now, new_job_id
from core.requests import DeployRequest, DestroyRequest
from core.responses import DeployAccepted
from functions.dal.jobs import JobStore
from functions.dal.objects import CodeStore
from functions.dal.projects import ProjectStore
from functions.dal.variables import VariableStore
from functions.dal.workflow import Workflow
from functions.logic.locks import LockServices, reap_state_lock, release_stale_holder
from functions.logic.validation import REFUSING_CHECKS, stored_findings
from functions.models.exceptions import (
    InvalidConfiguration,
    InvalidRequest,
    ProjectBusy,
    ProjectNotFound,
    StoreUnavailable,
    WorkflowUnavailable,
)

ACCEPTED_MESSAGES = {
    JobAction.DEPLOY: "Infrastructure deployment started",
    JobAction.DESTROY: "Infrastructure destruction started",
}


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


def _clear_stale_lock(stores: SubmitStores, project_id: str) -> None:
    """A state lock left by a runner that died would fail this job at once: clear it first.

    Best effort: if CodeBuild or the lock table cannot tell, the job's runner waits for the lock.
    """
    with contextlib.suppress(StoreUnavailable, WorkflowUnavailable):
        reap_state_lock(stores.locks, project_id)


def submit_deploy(request: DeployRequest, stores: SubmitStores) -> DeployAccepted:
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
    job_id = new_job_id(JobAction.DEPLOY)
    # Set with the lock, so a job undone (or cancelled before it ran) puts the previous ones back.
    fields = {"codeFiles": sorted(files), "staticFindings": stored_findings(findings, job_id, stores.policy)}
    now, previous = _take_project(
        stores, JobAction.DEPLOY, request.projectId, job_id, fields, code_is_new=True
    )

    def prepare() -> dict[str, Any]:
        stores.code.put(request.projectId, job_id, files)
        reference = stores.variables.save(request.projectId, variables) if variables else None
        # Undone, the project keeps the variables its deployed code was applied with.
        previous["variablesRef"] = (stores.projects.get(request.projectId) or {}).get("variablesRef")
        stores.projects.update(request.projectId, {"variablesRef": reference})
        return {"variablesRef": reference, "codeJobId": job_id}

    return _start(
        stores, JobAction.DEPLOY, request.projectId, job_id, now=now, previous=previous, prepare=prepare
    )


def submit_destroy(request: DestroyRequest, stores: SubmitStores) -> DeployAccepted:
    project = stores.projects.get(request.projectId)
    source_job = (project or {}).get("codeJobId")
    if not project or not source_job:
        raise ProjectNotFound(f"project {request.projectId} has no deployed code to destroy")
    job_id = new_job_id(JobAction.DESTROY)
    now, previous = _take_project(stores, JobAction.DESTROY, request.projectId, job_id, {}, code_is_new=False)

    def prepare() -> dict[str, Any]:
        # The runner reads the job's own workspace; a destroy runs the project's latest code.
        if not stores.code.copy(request.projectId, str(source_job), job_id):
            raise StoreUnavailable(f"the code of job {source_job} is no longer stored")
        return {"variablesRef": project.get("variablesRef"), "codeJobId": source_job}

    return _start(
        stores, JobAction.DESTROY, request.projectId, job_id, now=now, previous=previous, prepare=prepare
    )


def _take_project(
    stores: SubmitStores,
    action: JobAction,
    project_id: str,
    job_id: str,
    fields: dict[str, Any],
    *,
    code_is_new: bool,
) -> tuple[str, dict[str, Any]]:
    """The project's lock, taken for the job: (now, the fields it replaced)."""
    now = iso_now()
    _clear_stale_lock(stores, project_id)
    taken = {
        "activeAction": action.value,
        "deploymentStatus": DeploymentStatus.PENDING.value,
        "deploymentJobId": job_id,
        "lastUpdated": now,
        **({"codeJobId": job_id} if code_is_new else {}),
        **fields,
    }
    try:
        return now, stores.projects.acquire(project_id, job_id, taken)
    except ProjectBusy as busy:
        if not busy.active_job_id or not _freed_stale_holder(stores, project_id, busy.active_job_id):
            raise
    # Once more, and only once: a submit racing this one may have taken the freed project first.
    return now, stores.projects.acquire(project_id, job_id, taken)


def _freed_stale_holder(stores: SubmitStores, project_id: str, holder: str) -> bool:
    """Best effort: if the job table or the workflow cannot tell, the caller gets the 409."""
    with contextlib.suppress(StoreUnavailable, WorkflowUnavailable):
        return release_stale_holder(stores.locks, project_id, holder, epoch_ms())
    return False


def _start(
    stores: SubmitStores,
    action: JobAction,
    project_id: str,
    job_id: str,
    *,
    now: str,
    previous: dict[str, Any],
    prepare: Callable[[], dict[str, Any]],
) -> DeployAccepted:
    try:
        extra = prepare()
        stores.jobs.create(
            {
                "jobId": job_id,
                "projectId": project_id,
                "action": action.value,
                "status": JobStatus.PENDING.value,
                "progress": 0,
                "phase": Phase.QUEUED.value,
                "kind": "job",
                "createdAt": epoch_ms(),
                "startTime": now,
                "updatedAt": now,
                "previousProject": previous,
                **{k: v for k, v in extra.items() if v is not None},
            }
        )
        workflow_input = WorkflowInput(
            jobId=job_id, projectId=project_id, action=action, runTimeoutSeconds=stores.run_timeout_seconds
        )
        stores.workflow.start(job_id, workflow_input.model_dump())
    except (StoreUnavailable, WorkflowUnavailable) as exc:
        _undo(stores, project_id, job_id, previous, f"the job could not start: {exc.message}")
        raise
    return DeployAccepted(jobId=job_id, message=ACCEPTED_MESSAGES[action])


def _undo(stores: SubmitStores, project_id: str, job_id: str, previous: dict[str, Any], reason: str) -> None:
    """Best effort: the lock is released even if marking the job failed did not work."""
    with contextlib.suppress(StoreUnavailable):
        stores.jobs.fail_if_active(job_id, reason)
    with contextlib.suppress(StoreUnavailable):
        stores.projects.release(project_id, job_id, restore=previous)
