"""Cancelling a job, each branch of functions/logic/cancel.py without a server: a pending job (closed
here, its project given back as it was), a processing one (its execution stopped, the runner ends
it), one whose execution is already over, one already ended, one that does not exist."""

from __future__ import annotations

import pytest

from core.records import CANCELLED_MESSAGE, JobStatus
from core.requests import DeployRequest
from functions.logic.cancel import cancel_job
from functions.logic.submit import submit_deploy
from functions.models.exceptions import JobAlreadyFinished, JobNotFound
from tests.support.fakes import Fakes

CODE = 'resource "null_resource" "n" {}\n'
WHO = "arn:aws:iam::1:user/bob"


def deployed_then_submitted(fakes: Fakes) -> tuple[str, str]:
    """A project whose first deploy completed, and a second deploy just submitted (pending)."""
    first = submit_deploy(DeployRequest(projectId="p", iacCode=CODE), fakes.submit_stores()).jobId
    fakes.jobs.items[first].update(status="completed")
    fakes.projects.release("p", first, restore={"deploymentStatus": "deployed"})
    fakes.workflow.executions[first] = "SUCCEEDED"
    second = submit_deploy(DeployRequest(projectId="p", iacCode=CODE + "# v2\n"), fakes.submit_stores()).jobId
    assert fakes.projects.items["p"]["activeJobId"] == second
    assert fakes.projects.items["p"]["deploymentStatus"] == "pending"
    return first, second


def test_a_pending_job_is_closed_here_and_the_project_is_as_it_was() -> None:
    # Given a deployed project and a second deploy that has not reached its build
    fakes = Fakes()
    first, second = deployed_then_submitted(fakes)

    # When it is cancelled
    result = cancel_job(fakes.jobs, fakes.projects, fakes.workflow, second, WHO)

    # Then the answer says it ended, and the job is failed as cancelled, naming who asked
    assert (result.jobId, result.status) == (second, JobStatus.FAILED)
    assert result.message == "The job was cancelled before it ran"
    job = fakes.jobs.items[second]
    assert (job["status"], job["error"]) == ("failed", CANCELLED_MESSAGE)
    assert job["cancelRequestedBy"] == WHO and job["cancelRequestedAt"] and job["endTime"]
    # its execution was stopped with the cause
    assert fakes.workflow.stopped == [(second, f"{CANCELLED_MESSAGE} by {WHO}")]
    assert fakes.workflow.executions[second] == "ABORTED"
    # and the project is free, pointing at the first deployment and its code again
    project = fakes.projects.items["p"]
    assert "activeJobId" not in project and "activeAction" not in project
    assert (project["deploymentStatus"], project["deploymentJobId"], project["codeJobId"]) == (
        "deployed",
        first,
        first,
    )


def test_a_processing_job_whose_execution_runs_is_left_to_its_runner() -> None:
    # Given a job its build is running
    fakes = Fakes()
    _, second = deployed_then_submitted(fakes)
    fakes.jobs.items[second]["status"] = "processing"
    assert fakes.workflow.executions[second] == "RUNNING"

    # When it is cancelled
    result = cancel_job(fakes.jobs, fakes.projects, fakes.workflow, second, WHO)

    # Then its execution is stopped (the runner's signal path stops terraform), the request is
    # recorded, and the job and project are left for the runner to close
    assert (result.status, result.jobId) == (JobStatus.PROCESSING, second)
    assert result.message.startswith("Cancellation requested")
    assert fakes.workflow.stopped == [(second, f"{CANCELLED_MESSAGE} by {WHO}")]
    job = fakes.jobs.items[second]
    assert job["status"] == "processing" and job["cancelRequestedBy"] == WHO and "error" not in job
    assert fakes.projects.items["p"]["activeJobId"] == second
    assert fakes.projects.items["p"]["deploymentStatus"] == "pending"


@pytest.mark.parametrize("execution", ["FAILED", "ABORTED", None], ids=["failed", "aborted", "never started"])
def test_a_processing_job_whose_execution_is_over_is_closed_here(execution: str | None) -> None:
    # Given a job still processing on record whose execution is over (no runner will record it)
    fakes = Fakes()
    first, second = deployed_then_submitted(fakes)
    fakes.jobs.items[second]["status"] = "processing"
    if execution is None:
        del fakes.workflow.executions[second]
    else:
        fakes.workflow.executions[second] = execution

    result = cancel_job(fakes.jobs, fakes.projects, fakes.workflow, second, WHO)

    assert result.status is JobStatus.FAILED
    assert fakes.jobs.items[second]["status"] == "failed"
    assert fakes.jobs.items[second]["error"] == CANCELLED_MESSAGE
    assert "activeJobId" not in fakes.projects.items["p"]
    assert fakes.projects.items["p"]["deploymentJobId"] == first


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_a_job_that_already_ended_is_refused_and_nothing_changes(status: str) -> None:
    fakes = Fakes()
    first, second = deployed_then_submitted(fakes)
    fakes.jobs.items[second]["status"] = status
    before = (dict(fakes.jobs.items[second]), dict(fakes.projects.items["p"]))

    with pytest.raises(JobAlreadyFinished, match=f"already {status}"):
        cancel_job(fakes.jobs, fakes.projects, fakes.workflow, second, WHO)

    assert (fakes.jobs.items[second], fakes.projects.items["p"]) == before
    assert "cancelRequestedBy" not in fakes.jobs.items[second]
    assert fakes.workflow.stopped == []
    assert fakes.jobs.items[first]["status"] == "completed"


def test_a_job_that_does_not_exist_is_not_found_and_nothing_is_stopped() -> None:
    fakes = Fakes()
    _, second = deployed_then_submitted(fakes)

    with pytest.raises(JobNotFound, match="deploy-1700000000000-nosuchjob"):
        cancel_job(fakes.jobs, fakes.projects, fakes.workflow, "deploy-1700000000000-nosuchjob", WHO)

    assert fakes.workflow.stopped == []
    assert fakes.projects.items["p"]["activeJobId"] == second


def test_a_pending_job_whose_project_another_job_holds_leaves_that_lock_alone() -> None:
    # Given a pending job whose project was freed and taken by another job meanwhile
    fakes = Fakes()
    _, second = deployed_then_submitted(fakes)
    fakes.projects.items["p"]["activeJobId"] = "deploy-1700000000000-otherjob1"

    cancel_job(fakes.jobs, fakes.projects, fakes.workflow, second, WHO)

    # Then the job is closed, but the other job's lock is kept
    assert fakes.jobs.items[second]["status"] == "failed"
    assert fakes.projects.items["p"]["activeJobId"] == "deploy-1700000000000-otherjob1"
