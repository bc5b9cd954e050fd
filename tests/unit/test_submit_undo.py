"""A submit that fails after taking the project's lock undoes what it wrote (functions/logic/submit.py):
no lock left, the job failed (or never recorded), the project's previous status back, and the
caller told why. Deploys and destroys, failures of the workflow and of the stores, over the
in-memory stores."""

from __future__ import annotations

from typing import Any

import pytest

from core.requests import DeployRequest, DestroyRequest
from functions.logic.submit import submit_deploy, submit_destroy
from functions.models.exceptions import StoreUnavailable, WorkflowUnavailable
from tests.support.fakes import FailingStartWorkflow, FakeCodeStore, FakeJobStore, Fakes, FakeWorkflow

CODE = 'resource "null_resource" "n" {}\n'
V2 = CODE + 'resource "null_resource" "m" {}\n'


def deployed(fakes: Fakes, variables: dict[str, Any] | None = None) -> str:
    """A project whose first deploy completed, as its runner leaves it."""
    job_id = submit_deploy(
        DeployRequest(projectId="p", iacCode=CODE, variables=variables), fakes.submit_stores()
    ).jobId
    fakes.jobs.items[job_id].update(status="completed")
    assert fakes.projects.release("p", job_id, restore={"deploymentStatus": "deployed"})
    return job_id


def the_only_new_job(fakes: Fakes, known: set[str]) -> dict[str, Any]:
    [new] = [job for job_id, job in fakes.jobs.items.items() if job_id not in known]
    return new


def test_a_first_deploy_whose_workflow_cannot_start_leaves_no_trace_but_a_failed_job() -> None:
    fakes = Fakes(workflow=FailingStartWorkflow())

    with pytest.raises(WorkflowUnavailable, match="StateMachineDoesNotExist"):
        submit_deploy(DeployRequest(projectId="p", iacCode=CODE), fakes.submit_stores())

    # the job is recorded failed, saying why
    [job] = fakes.jobs.items.values()
    assert job["status"] == "failed" and job["endTime"]
    assert job["error"].startswith("the job could not start: the workflow could not start")
    # and the project holds nothing of it: no lock, no status, no code pointer
    project = fakes.projects.items["p"]
    for field in ("activeJobId", "activeAction", "deploymentStatus", "deploymentJobId", "codeJobId"):
        assert field not in project, field
    assert fakes.workflow.started == []


def test_a_redeploy_whose_workflow_cannot_start_gives_the_project_back_as_it_was() -> None:
    # Given a deployed project
    fakes = Fakes()
    first = deployed(fakes)
    before = dict(fakes.projects.items["p"])

    # When a new deploy cannot start its workflow
    fakes.workflow = FailingStartWorkflow()
    with pytest.raises(WorkflowUnavailable):
        submit_deploy(DeployRequest(projectId="p", iacCode=V2), fakes.submit_stores())

    # Then the lock is released and the project points at the first deployment and code again
    project = fakes.projects.items["p"]
    assert "activeJobId" not in project and "activeAction" not in project
    assert (project["deploymentStatus"], project["deploymentJobId"], project["codeJobId"]) == (
        "deployed",
        first,
        first,
    )
    assert project["codeFiles"] == before["codeFiles"]
    # the new job is failed; the first one is untouched
    new = the_only_new_job(fakes, {first})
    assert new["status"] == "failed" and new["error"].startswith("the job could not start")
    assert fakes.jobs.items[first]["status"] == "completed"
    # and a deploy once the workflow is back is accepted
    fakes.workflow = FakeWorkflow()
    accepted = submit_deploy(DeployRequest(projectId="p", iacCode=V2), fakes.submit_stores())
    assert fakes.projects.items["p"]["activeJobId"] == accepted.jobId


class UnwritableCodeStore(FakeCodeStore):
    def put(self, project_id: str, job_id: str, files: dict[str, str]) -> None:
        raise StoreUnavailable("the workspace bucket is unavailable right now (SlowDown); try again")


def test_a_deploy_whose_code_cannot_be_stored_records_no_job_and_frees_the_project() -> None:
    fakes = Fakes(code=UnwritableCodeStore())
    first = "deploy-1700000000000-deployed1"
    fakes.projects.items["p"] = {"projectId": "p", "deploymentStatus": "deployed", "deploymentJobId": first}

    with pytest.raises(StoreUnavailable, match="SlowDown"):
        submit_deploy(DeployRequest(projectId="p", iacCode=V2), fakes.submit_stores())

    # the job record was never written, no workflow started, and the project is as it was
    assert fakes.jobs.items == {} and fakes.workflow.started == []
    assert fakes.projects.items["p"]["deploymentStatus"] == "deployed"
    assert fakes.projects.items["p"]["deploymentJobId"] == first
    assert "activeJobId" not in fakes.projects.items["p"]


class UnwritableJobStore(FakeJobStore):
    """A job table that takes new records but fails every later write (throttled past the retries)."""

    def fail_if_active(self, job_id: str, error: str) -> bool:
        raise StoreUnavailable("the job table is unavailable right now (ThrottlingException); try again")


def test_the_lock_is_released_even_when_the_job_cannot_be_marked_failed() -> None:
    fakes = Fakes(jobs=UnwritableJobStore(), workflow=FailingStartWorkflow())

    with pytest.raises(WorkflowUnavailable):
        submit_deploy(DeployRequest(projectId="p", iacCode=CODE), fakes.submit_stores())

    # the caller learns of the first failure; the job could not be closed, the project is free
    [job] = fakes.jobs.items.values()
    assert job["status"] == "pending"
    assert "activeJobId" not in fakes.projects.items["p"]
    assert "deploymentStatus" not in fakes.projects.items["p"]


def test_a_destroy_whose_workflow_cannot_start_leaves_the_project_deployed() -> None:
    # Given a deployed project
    fakes = Fakes()
    first = deployed(fakes)

    # When its destroy cannot start its workflow
    fakes.workflow = FailingStartWorkflow()
    with pytest.raises(WorkflowUnavailable):
        submit_destroy(DestroyRequest(projectId="p"), fakes.submit_stores())

    # Then the project is deployed and free, with its code; the destroy job failed
    project = fakes.projects.items["p"]
    assert "activeJobId" not in project and "activeAction" not in project
    assert (project["deploymentStatus"], project["deploymentJobId"], project["codeJobId"]) == (
        "deployed",
        first,
        first,
    )
    destroy = the_only_new_job(fakes, {first})
    assert destroy["action"] == "destroy" and destroy["status"] == "failed"
    assert destroy["error"].startswith("the job could not start")


def test_a_destroy_whose_code_is_gone_records_no_job_and_frees_the_project() -> None:
    # Given a deployed project whose stored code was removed
    fakes = Fakes()
    first = deployed(fakes)
    fakes.code.objects.clear()

    with pytest.raises(StoreUnavailable, match=f"the code of job {first} is no longer stored"):
        submit_destroy(DestroyRequest(projectId="p"), fakes.submit_stores())

    assert set(fakes.jobs.items) == {first} and fakes.workflow.started == [first]
    project = fakes.projects.items["p"]
    assert "activeJobId" not in project
    assert (project["deploymentStatus"], project["deploymentJobId"]) == ("deployed", first)


def test_an_undone_redeploy_keeps_the_variables_of_the_deployed_code() -> None:
    # Given a project deployed with one set of variables
    fakes = Fakes()
    deployed(fakes, {"name": "v1"})
    reference = fakes.projects.items["p"]["variablesRef"]

    # When a redeploy with other variables cannot start its workflow
    fakes.workflow = FailingStartWorkflow()
    with pytest.raises(WorkflowUnavailable):
        submit_deploy(
            DeployRequest(projectId="p", iacCode=V2, variables={"name": "v2"}), fakes.submit_stores()
        )

    # Then the project still refers to the variables its deployed code was applied with
    assert fakes.projects.items["p"]["variablesRef"] == reference
