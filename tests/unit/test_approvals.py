"""The approval gate (functions/logic/approvals.py, jobs.py, cancel.py) over the in-memory stores:
the wait, approve and discard (each once, never both), a wait that already ended, a workflow that
cannot be told, the expiry path, and what the status answer offers and never shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from core.requests import DeployRequest
from functions.logic.approvals import DISCARDED_ERROR, approve, await_approval, close_discarded, discard
from functions.logic.cancel import cancel_job
from functions.logic.jobs import get_job, job_view
from functions.logic.submit import submit_deploy
from functions.models.exceptions import NotAwaitingApproval, WorkflowUnavailable
from tests.support.fakes import Fakes, FakeWorkflow

CODE = 'resource "null_resource" "n" {}\n'
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAf-task-token"
WHO = "arn:aws:iam::1:user/alice"
DAY = 24 * 3600


def deployed(fakes: Fakes) -> str:
    first = submit_deploy(DeployRequest(projectId="p", iacCode=CODE), fakes.submit_stores()).jobId
    fakes.jobs.items[first].update(status="completed")
    assert fakes.projects.release("p", first, restore={"deploymentStatus": "deployed"})
    return first


def gated(fakes: Fakes) -> str:
    """A gated redeploy of a deployed project, its plan made: the job processing, holding the project."""
    job_id = submit_deploy(
        DeployRequest(projectId="p", iacCode=CODE + "# v2\n", approval="required"), fakes.submit_stores()
    ).jobId
    fakes.jobs.items[job_id].update(status="processing", phase="plan")
    return job_id


def waiting(fakes: Fakes) -> str:
    """A gated job whose plan waits for approval, its workflow waiting on the token."""
    job_id = gated(fakes)
    await_approval(fakes.jobs, job_id, TOKEN, DAY)
    fakes.workflow.wait_on(TOKEN)
    return job_id


def status_json(fakes: Fakes, job_id: str) -> str:
    return get_job(fakes.jobs, fakes.projects, job_id).model_dump_json()


def test_the_wait_shows_awaiting_approval_with_when_it_expires() -> None:
    # Given a gated job whose plan is made
    fakes = Fakes()
    job_id = gated(fakes)

    # When the workflow's wait begins
    approval = await_approval(fakes.jobs, job_id, TOKEN, DAY)

    # Then the job waits, keeping the token, and says since when and until when
    job = fakes.jobs.items[job_id]
    assert (job["status"], job["phase"], job["approvalToken"]) == ("processing", "awaiting_approval", TOKEN)
    assert job["approval"] == approval
    assert approval["state"] == "waiting" and approval["required"] is True
    requested = datetime.fromisoformat(approval["requestedAt"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(approval["expiresAt"].replace("Z", "+00:00"))
    assert (expires - requested).total_seconds() == DAY
    view = get_job(fakes.jobs, fakes.projects, job_id)
    assert view.result is not None and view.result.message == "Job is waiting for approval of its plan"
    assert view.approval is not None and view.approval.state == "waiting"


def test_a_job_that_ended_before_its_wait_does_not_wait() -> None:
    # Given a gated job cancelled between its plan and its wait
    fakes = Fakes()
    job_id = gated(fakes)
    fakes.jobs.items[job_id].update(status="failed", error="cancelled")

    # When the wait begins, it is refused and nothing is recorded
    with pytest.raises(NotAwaitingApproval, match="ended before"):
        await_approval(fakes.jobs, job_id, TOKEN, DAY)
    assert "approvalToken" not in fakes.jobs.items[job_id]


def test_approve_records_the_decision_resumes_the_workflow_and_drops_the_token() -> None:
    # Given a job waiting for approval
    fakes = Fakes()
    job_id = waiting(fakes)

    # When someone approves it
    answer = approve(fakes.jobs, fakes.workflow, job_id, by=WHO, comment="looks right")

    # Then who, when and why are recorded, the workflow resumes on the token, and the token is gone
    assert (answer.jobId, answer.status.value) == (job_id, "processing")
    job = fakes.jobs.items[job_id]
    approval = job["approval"]
    assert (approval["state"], approval["decidedBy"], approval["comment"]) == ("approved", WHO, "looks right")
    assert approval["decidedAt"] and approval["requestedAt"] and approval["expiresAt"]
    assert fakes.workflow.answers[TOKEN] == ("success", {"decision": "approved", "by": WHO})
    assert "approvalToken" not in job
    assert (job["status"], job["phase"]) == ("processing", "init")
    # the project stays the job's: the plan is being applied
    assert fakes.projects.items["p"]["activeJobId"] == job_id


def test_approve_twice_is_refused_the_second_time() -> None:
    fakes = Fakes()
    job_id = waiting(fakes)
    approve(fakes.jobs, fakes.workflow, job_id, by=WHO, comment="")
    decided = dict(fakes.jobs.items[job_id]["approval"])

    with pytest.raises(NotAwaitingApproval, match="not waiting for approval"):
        approve(fakes.jobs, fakes.workflow, job_id, by="arn:aws:iam::1:user/mallory", comment="again")

    # the first decision stands
    assert fakes.jobs.items[job_id]["approval"] == decided


def test_discard_ends_the_job_gives_the_project_back_and_rejects_the_token() -> None:
    # Given a deployed project and a gated redeploy waiting for approval
    fakes = Fakes()
    first = deployed(fakes)
    job_id = waiting(fakes)
    assert fakes.projects.items["p"]["deploymentStatus"] == "pending"

    # When someone discards it
    answer = discard(fakes.jobs, fakes.projects, fakes.workflow, job_id, by=WHO, comment="wrong region")

    # Then the job ends failed, phase discarded, saying who and why
    assert (answer.status.value, answer.message) == ("failed", "Discarded: nothing was applied")
    job = fakes.jobs.items[job_id]
    assert (job["status"], job["phase"]) == ("failed", "discarded")
    assert job["error"] == f"plan discarded by {WHO}: wrong region" and job["endTime"]
    assert (job["approval"]["state"], job["approval"]["decidedBy"]) == ("discarded", WHO)
    assert "approvalToken" not in job
    # the project is free and as it was before the job
    project = fakes.projects.items["p"]
    assert "activeJobId" not in project and "activeAction" not in project
    assert (project["deploymentStatus"], project["deploymentJobId"], project["codeJobId"]) == (
        "deployed",
        first,
        first,
    )
    # and the workflow's wait fails with the error its Catch routes to the discard path
    status, detail = fakes.workflow.answers[TOKEN]
    assert (status, detail["error"]) == ("failure", DISCARDED_ERROR)
    assert detail["error"] == "Discarded"


def test_approve_after_discard_is_refused_and_nothing_resumes() -> None:
    fakes = Fakes()
    job_id = waiting(fakes)
    discard(fakes.jobs, fakes.projects, fakes.workflow, job_id, by=WHO, comment="")

    with pytest.raises(NotAwaitingApproval):
        approve(fakes.jobs, fakes.workflow, job_id, by=WHO, comment="")

    assert fakes.jobs.items[job_id]["approval"]["state"] == "discarded"
    assert fakes.workflow.answers[TOKEN][0] == "failure"


def test_discard_after_approve_is_refused_and_the_project_stays_the_jobs() -> None:
    fakes = Fakes()
    job_id = waiting(fakes)
    approve(fakes.jobs, fakes.workflow, job_id, by=WHO, comment="")

    with pytest.raises(NotAwaitingApproval):
        discard(fakes.jobs, fakes.projects, fakes.workflow, job_id, by=WHO, comment="")

    assert fakes.jobs.items[job_id]["status"] == "processing"
    assert fakes.projects.items["p"]["activeJobId"] == job_id


def test_approve_when_the_wait_already_ended_closes_the_job_as_expired() -> None:
    # Given a job on record as waiting whose workflow wait has already ended (it timed out)
    fakes = Fakes()
    job_id = gated(fakes)
    await_approval(fakes.jobs, job_id, TOKEN, DAY)  # no task waits on the token

    # When someone approves it
    with pytest.raises(NotAwaitingApproval, match="expired; nothing was applied"):
        approve(fakes.jobs, fakes.workflow, job_id, by=WHO, comment="")

    # Then the job is closed as expired, not approved
    job = fakes.jobs.items[job_id]
    assert (job["status"], job["phase"], job["approval"]["state"]) == ("failed", "discarded", "expired")
    assert job["error"].startswith("the approval expired at ")
    assert TOKEN not in fakes.workflow.answers


class UnreachableWorkflow(FakeWorkflow):
    """Step Functions throttled past the retries: the answer on the token is not delivered."""

    def resume(self, task_token: str, output: dict[str, Any]) -> None:
        raise WorkflowUnavailable("the workflow could not be told (ThrottlingException)")


def test_approve_when_the_workflow_is_unavailable_leaves_the_job_waiting_to_be_approved_again() -> None:
    # Given a waiting job and a workflow that cannot be reached
    fakes = Fakes(workflow=UnreachableWorkflow())
    job_id = waiting(fakes)

    # When someone approves it, the caller learns it did not go through
    with pytest.raises(WorkflowUnavailable):
        approve(fakes.jobs, fakes.workflow, job_id, by=WHO, comment="")

    # Then the job waits again, with its token and its approval still waiting
    job = fakes.jobs.items[job_id]
    assert (job["status"], job["phase"], job["approvalToken"]) == ("processing", "awaiting_approval", TOKEN)
    assert job["approval"]["state"] == "waiting"
    view = job_view(job)
    assert view.actions is not None and view.actions.canApprove

    # and once the workflow is back, the approval goes through
    reachable = FakeWorkflow()
    reachable.wait_on(TOKEN)
    approve(fakes.jobs, reachable, job_id, by=WHO, comment="second try")
    assert reachable.answers[TOKEN][0] == "success"
    assert fakes.jobs.items[job_id]["approval"]["comment"] == "second try"


@pytest.mark.parametrize(
    ("expired", "state", "error"),
    [
        (True, "expired", "the approval expired at "),
        (False, "discarded", "the plan was discarded"),
    ],
)
def test_the_workflows_own_discard_and_expiry_paths_close_the_job(
    expired: bool, state: str, error: str
) -> None:
    # Given a deployed project and a gated redeploy waiting for approval
    fakes = Fakes()
    first = deployed(fakes)
    job_id = waiting(fakes)

    # When the workflow's wait times out (or is discarded from the workflow's side)
    close_discarded(fakes.jobs, fakes.projects, job_id, expired=expired)

    # Then the job ends discarded with the state saying why, and the project is as it was
    job = fakes.jobs.items[job_id]
    assert (job["status"], job["phase"], job["approval"]["state"]) == ("failed", "discarded", state)
    assert job["error"].startswith(error) and "approvalToken" not in job
    project = fakes.projects.items["p"]
    assert "activeJobId" not in project
    assert (project["deploymentStatus"], project["deploymentJobId"]) == ("deployed", first)


def test_the_workflows_discard_path_after_a_persons_discard_keeps_the_persons_record() -> None:
    fakes = Fakes()
    job_id = waiting(fakes)
    discard(fakes.jobs, fakes.projects, fakes.workflow, job_id, by=WHO, comment="no")
    before = dict(fakes.jobs.items[job_id])

    close_discarded(fakes.jobs, fakes.projects, job_id, expired=False, cause="Discarded")

    assert fakes.jobs.items[job_id] == before


def actions(fakes: Fakes, job_id: str) -> tuple[bool, bool, bool]:
    view = get_job(fakes.jobs, fakes.projects, job_id)
    assert view.actions is not None
    return view.actions.canApprove, view.actions.canDiscard, view.actions.canCancel


def test_the_status_answer_offers_only_the_actions_that_apply_and_never_shows_the_token() -> None:
    fakes = Fakes()
    deployed(fakes)
    # queued (pending): cancel only
    job_id = gated(fakes)
    fakes.jobs.items[job_id].update(status="pending", phase="queued")
    assert actions(fakes, job_id) == (False, False, True)
    # planning (processing): cancel only
    fakes.jobs.items[job_id].update(status="processing", phase="plan")
    assert actions(fakes, job_id) == (False, False, True)
    # waiting for approval: all three, and the token is nowhere in the answer
    await_approval(fakes.jobs, job_id, TOKEN, DAY)
    fakes.workflow.wait_on(TOKEN)
    assert actions(fakes, job_id) == (True, True, True)
    assert TOKEN not in status_json(fakes, job_id) and "approvalToken" not in status_json(fakes, job_id)
    # approved and applying: cancel only
    approve(fakes.jobs, fakes.workflow, job_id, by=WHO, comment="")
    assert actions(fakes, job_id) == (False, False, True)
    # ended: nothing
    fakes.jobs.items[job_id].update(status="completed", phase="done")
    assert actions(fakes, job_id) == (False, False, False)
    # a discarded one: nothing either, and no token
    other = gated(fakes)
    await_approval(fakes.jobs, other, TOKEN + "2", DAY)
    fakes.workflow.wait_on(TOKEN + "2")
    discard(fakes.jobs, fakes.projects, fakes.workflow, other, by=WHO, comment="")
    assert actions(fakes, other) == (False, False, False)
    assert TOKEN not in status_json(fakes, other)


def test_cancelling_a_job_waiting_for_approval_closes_it_and_gives_the_project_back() -> None:
    # Given a deployed project and a gated redeploy waiting for approval
    fakes = Fakes()
    first = deployed(fakes)
    job_id = waiting(fakes)

    # When it is cancelled
    answer = cancel_job(fakes.jobs, fakes.projects, fakes.workflow, job_id, WHO)

    # Then it is closed here (no build runs while it waits) and the project is as it was
    assert answer.message == "The plan waiting for approval was cancelled"
    job = fakes.jobs.items[job_id]
    assert (job["status"], job["phase"], job["error"]) == ("failed", "discarded", "cancelled")
    # its approval no longer says it waits: the cancel discarded the plan, and the token is gone
    assert (job["approval"]["state"], job["approval"]["decidedBy"]) == ("discarded", WHO)
    assert job["approval"]["expiresAt"] and "approvalToken" not in job
    assert fakes.workflow.executions[job_id] == "ABORTED"
    project = fakes.projects.items["p"]
    assert "activeJobId" not in project
    assert (project["deploymentStatus"], project["deploymentJobId"]) == ("deployed", first)
    # and it can no longer be approved
    with pytest.raises(NotAwaitingApproval):
        approve(fakes.jobs, fakes.workflow, job_id, by=WHO, comment="")
    assert TOKEN not in status_json(fakes, job_id)
