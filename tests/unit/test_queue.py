"""A busy project's queue (functions/logic/queue.py, submit.py, cancel.py, workflow_steps.py), over
the in-memory stores: deploys queue instead of being refused, only the queue's head takes the
project, in arrival order, dead jobs ahead are passed over, supersede and whenBusy=reject, and a
queued job's turn records what the project held then."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from core.records import CANCELLED_MESSAGE, JobAction, epoch_ms, new_job_id
from core.requests import DeployRequest, DestroyRequest
from core.transitions import Update
from functions.logic.approvals import discard
from functions.logic.cancel import cancel_job
from functions.logic.jobs import get_job
from functions.logic.queue import position
from functions.logic.submit import submit_deploy, submit_destroy
from functions.logic.workflow_steps import StepServices, run_step
from functions.models.exceptions import ProjectBusy, StoreUnavailable, WorkflowUnavailable
from tests.support.fakes import FailingStartWorkflow, FakeJobStore, Fakes

CODE = 'resource "null_resource" "n" {}\n'
WHO = "arn:aws:iam::1:user/bob"


def code(n: int) -> str:
    return CODE + f"# version {n}\n"


def deploy(fakes: Fakes, n: int = 0, **options: Any) -> str:
    return submit_deploy(
        DeployRequest(projectId="p", iacCode=code(n), **options), fakes.submit_stores()
    ).jobId


def finish(fakes: Fakes, job_id: str, status: str = "completed") -> None:
    """The holder's runner and workflow end it: the job's status, the project deployed and free."""
    fakes.jobs.items[job_id].update(status=status)
    fakes.workflow.executions[job_id] = "SUCCEEDED" if status == "completed" else "FAILED"
    assert fakes.projects.release("p", job_id, restore={"deploymentStatus": "deployed"})


def deployed(fakes: Fakes) -> str:
    """A project whose first deploy completed."""
    first = deploy(fakes)
    finish(fakes, first)
    return first


def queue(fakes: Fakes) -> list[str]:
    return list(fakes.projects.items["p"].get("queue") or [])


def steps(fakes: Fakes) -> StepServices:
    return StepServices(
        jobs=fakes.jobs,
        projects=fakes.projects,
        policies=fakes.policies,
        code=fakes.code,
        artifacts=fakes.artifacts,
        locks=fakes.lock_services(),
        default_region="us-east-1",
        plan_expiry_seconds=3600,
    )


def turn(fakes: Fakes, job_id: str) -> dict[str, Any]:
    return run_step(steps(fakes), {"step": "take_turn", "job": {"jobId": job_id}})


def test_ten_deploys_on_a_busy_project_are_all_accepted_and_queued_in_order() -> None:
    # Given a project a deploy holds
    fakes = Fakes()
    holder = deploy(fakes)

    # When ten more deploys arrive
    accepted = [
        submit_deploy(DeployRequest(projectId="p", iacCode=code(n)), fakes.submit_stores())
        for n in range(1, 11)
    ]

    # Then each is accepted with its place, each waiting for the one before it (the first: the holder)
    ids = [answer.jobId for answer in accepted]
    assert [answer.queuePosition for answer in accepted] == list(range(1, 11))
    assert [answer.waitingFor for answer in accepted] == [holder, *ids[:-1]]
    assert "queued behind" in accepted[0].message and "(position 1)" in accepted[0].message
    assert queue(fakes) == ids and fakes.projects.items["p"]["activeJobId"] == holder
    # every one is recorded pending and queued, with the project fields it will take at its turn,
    # and its workflow started (it waits for its turn)
    for job_id in ids:
        job = fakes.jobs.items[job_id]
        assert (job["status"], job["phase"], job["queued"]) == ("pending", "queued", True)
        assert job["projectFields"]["codeJobId"] == job_id
        assert "previousProject" not in job
    assert fakes.workflow.started == [holder, *ids]
    # and the status answer shows the same place and the job waited for
    project = fakes.projects.get("p")
    for place, job_id in enumerate(ids, start=1):
        assert position(project, job_id) == (place, ([holder, *ids])[place - 1])
        view = get_job(fakes.jobs, fakes.projects, job_id)
        assert (view.queuePosition, view.waitingFor) == (place, ([holder, *ids])[place - 1])
        assert view.result is not None and view.result.message.startswith(f"Job is queued: position {place}")


def test_only_the_queue_head_takes_the_project_strictly_in_arrival_order() -> None:
    # Given a held project with ten deploys queued behind its holder
    fakes = Fakes()
    holder = deploy(fakes)
    ids = [deploy(fakes, n) for n in range(1, 11)]
    shuffle = random.Random(20261202)

    # While the holder runs, no look takes the project
    for job_id in ids:
        assert turn(fakes, job_id) == {"acquired": False, "gone": False}
    assert fakes.projects.items["p"]["activeJobId"] == holder

    ran: list[str] = []
    current = holder
    for _ in ids:
        # When the job holding the project finishes, and every waiting job looks, in any order
        # and more than once
        finish(fakes, current)
        waiting = [job_id for job_id in ids if job_id not in ran]
        acquired = []
        for _ in range(3):
            shuffle.shuffle(waiting)
            acquired += [job_id for job_id in waiting if turn(fakes, job_id)["acquired"]]
        # Then exactly the head of the queue took the project (its repeated looks say so again)
        [current] = set(acquired)
        ran.append(current)
        project = fakes.projects.items["p"]
        assert project["activeJobId"] == current and project["activeAction"] == "deploy"
        assert project["codeJobId"] == current and project["deploymentStatus"] == "pending"
        assert queue(fakes) == [job_id for job_id in ids if job_id not in ran]
        job = fakes.jobs.items[current]
        assert job["queued"] is False and job["status"] == "pending"
    assert ran == ids
    assert "queue" not in fakes.projects.items["p"] or queue(fakes) == []


@pytest.mark.parametrize("end", ["cancelled", "failed"])
def test_a_dead_job_ahead_is_passed_over(end: str) -> None:
    # Given three deploys queued behind a holder, and the first of them ended without leaving
    # the queue (its workflow failed it, or it was cancelled and the queue edit was lost)
    fakes = Fakes()
    holder = deploy(fakes)
    dead, second, third = (deploy(fakes, n) for n in (1, 2, 3))
    fakes.jobs.items[dead].update(status="failed", error=CANCELLED_MESSAGE if end == "cancelled" else "boom")

    # When the holder finishes and the second looks
    finish(fakes, holder)
    assert turn(fakes, third) == {"acquired": False, "gone": False}
    result = turn(fakes, second)

    # Then the dead job is gone from the queue and the second holds the project
    assert result == {"acquired": True, "gone": False}
    assert fakes.projects.items["p"]["activeJobId"] == second
    assert queue(fakes) == [third]
    # and the dead job itself, should its workflow look again, is told it left
    assert turn(fakes, dead) == {"acquired": False, "gone": True}


def test_cancelling_a_queued_job_removes_it_and_the_others_move_up() -> None:
    # Given three deploys queued behind a holder
    fakes = Fakes()
    holder = deploy(fakes)
    first, second, third = (deploy(fakes, n) for n in (1, 2, 3))

    # When the second is cancelled
    result = cancel_job(fakes.jobs, fakes.projects, fakes.workflow, second, WHO)

    # Then it is closed as cancelled, its execution stopped, and it left the queue
    assert result.message == "The job was cancelled before it ran"
    assert (fakes.jobs.items[second]["status"], fakes.jobs.items[second]["error"]) == ("failed", "cancelled")
    assert (second, f"{CANCELLED_MESSAGE} by {WHO}") in fakes.workflow.stopped
    assert queue(fakes) == [first, third]
    # the holder keeps the project, and the third now waits for the first, at place 2
    assert fakes.projects.items["p"]["activeJobId"] == holder
    assert position(fakes.projects.get("p"), third) == (2, first)
    # and its workflow, looking once more, is told the job is gone
    assert turn(fakes, second) == {"acquired": False, "gone": True}


def test_supersede_fails_older_queued_deploys_only() -> None:
    # Given a holder, then a queued deploy, a queued destroy and another queued deploy
    fakes = Fakes()
    deployed(fakes)
    holder = deploy(fakes, 1)
    old_deploy = deploy(fakes, 2)
    destroy = submit_destroy(DestroyRequest(projectId="p"), fakes.submit_stores()).jobId
    older_deploy = deploy(fakes, 3)

    # When a deploy arrives that supersedes
    accepted = submit_deploy(
        DeployRequest(projectId="p", iacCode=code(4), supersede=True), fakes.submit_stores()
    )

    # Then the queued deploys are failed as superseded and their executions stopped
    for job_id in (old_deploy, older_deploy):
        job = fakes.jobs.items[job_id]
        assert job["status"] == "failed" and job["supersededBy"] == accepted.jobId
        assert job["error"] == f"superseded by {accepted.jobId}"
        assert (job_id, f"superseded by {accepted.jobId}") in fakes.workflow.stopped
    # the destroy and the holder are left alone
    assert fakes.jobs.items[destroy]["status"] == "pending"
    assert fakes.jobs.items[holder]["status"] == "pending"
    assert fakes.projects.items["p"]["activeJobId"] == holder
    assert holder not in [job for job, _ in fakes.workflow.stopped]
    assert destroy not in [job for job, _ in fakes.workflow.stopped]
    # and the new deploy waits behind the destroy only
    assert queue(fakes) == [destroy, accepted.jobId]
    assert (accepted.queuePosition, accepted.waitingFor) == (2, destroy)


def test_when_busy_reject_keeps_the_409_and_stores_nothing() -> None:
    # Given a held project
    fakes = Fakes()
    holder = deploy(fakes)
    known_jobs, known_code = set(fakes.jobs.items), set(fakes.code.objects)

    # When a deploy asks to be refused rather than queued
    with pytest.raises(ProjectBusy) as refused:
        deploy(fakes, 1, whenBusy="reject")

    # Then it is refused naming the holder, and nothing of it is left: no job, no code, no queue
    assert refused.value.active_job_id == holder
    assert set(fakes.jobs.items) == known_jobs
    assert set(fakes.code.objects) == known_code
    assert queue(fakes) == [] and fakes.workflow.started == [holder]
    assert fakes.projects.items["p"]["activeJobId"] == holder


def test_a_queued_destroy_runs_the_code_the_project_has_at_its_turn() -> None:
    # Given a deployed project with variables, a redeploy holding it, a deploy without variables
    # and then a destroy queued behind it
    fakes = Fakes()
    first = submit_deploy(
        DeployRequest(projectId="p", iacCode=code(0), variables={"name": "v1"}), fakes.submit_stores()
    ).jobId
    finish(fakes, first)
    holder = deploy(fakes, 1, variables={"name": "v2"})
    later = deploy(fakes, 2)
    destroy = submit_destroy(DestroyRequest(projectId="p"), fakes.submit_stores()).jobId
    # (at its submit it copied the code of the job holding the project)
    assert fakes.code.objects[("p", destroy)] == {"main.tf": code(1)}

    # When the holder and the deploy ahead of the destroy both complete, and the destroy's turn comes
    finish(fakes, holder)
    assert turn(fakes, later)["acquired"]
    finish(fakes, later)
    assert "variablesRef" not in fakes.projects.items["p"]  # that deploy had no variables
    assert turn(fakes, destroy) == {"acquired": True, "gone": False}

    # Then the destroy holds the project and runs the latest code, with the latest variables (none)
    assert fakes.projects.items["p"]["activeJobId"] == destroy
    assert fakes.projects.items["p"]["activeAction"] == "destroy"
    assert fakes.code.objects[("p", destroy)] == {"main.tf": code(2)}
    job = fakes.jobs.items[destroy]
    assert job["codeJobId"] == later
    assert "variablesRef" not in job


def test_a_queued_destroy_whose_project_lost_its_code_fails_and_gives_the_project_back() -> None:
    # Given a destroy queued behind a deploy, and the project's code pointer gone when its turn comes
    fakes = Fakes()
    deployed(fakes)
    holder = deploy(fakes, 1)
    destroy = submit_destroy(DestroyRequest(projectId="p"), fakes.submit_stores()).jobId
    finish(fakes, holder)
    del fakes.projects.items["p"]["codeJobId"]

    # When its turn comes
    result = turn(fakes, destroy)

    # Then the job fails saying why, and the project is free again, as it was
    assert result == {"acquired": False, "gone": True}
    job = fakes.jobs.items[destroy]
    assert job["status"] == "failed" and "has no code to destroy" in job["error"]
    project = fakes.projects.items["p"]
    assert "activeJobId" not in project and project["deploymentStatus"] == "deployed"
    assert queue(fakes) == []


def test_an_undone_queued_submit_leaves_the_queue() -> None:
    # Given a held project with one deploy queued
    fakes = Fakes()
    holder = deploy(fakes)
    waiting = deploy(fakes, 1)

    # When another queued deploy cannot start its workflow
    fakes.workflow = FailingStartWorkflow()
    with pytest.raises(WorkflowUnavailable):
        deploy(fakes, 2)

    # Then its job is failed and it is no longer in the queue; the others are untouched
    [undone] = [job for job in fakes.jobs.items.values() if job["jobId"] not in (holder, waiting)]
    assert undone["status"] == "failed" and undone["error"].startswith("the job could not start")
    assert queue(fakes) == [waiting]
    assert fakes.projects.items["p"]["activeJobId"] == holder


def test_a_turn_records_the_project_as_it_was_then_so_a_discard_restores_that() -> None:
    # Given a deployed project, a redeploy holding it and a gated deploy queued behind
    fakes = Fakes()
    deployed(fakes)
    holder = deploy(fakes, 1)
    gated = deploy(fakes, 2, approval="required")

    # When the redeploy completes, and the gated deploy takes its turn, plans and waits
    finish(fakes, holder)
    assert turn(fakes, gated)["acquired"]
    previous = fakes.jobs.items[gated]["previousProject"]
    assert (previous["deploymentStatus"], previous["deploymentJobId"], previous["codeJobId"]) == (
        "deployed",
        holder,
        holder,
    )
    fakes.jobs.items[gated].update(status="processing", phase="awaiting_approval", approvalToken="tok")
    fakes.workflow.wait_on("tok")
    discard(fakes.jobs, fakes.projects, fakes.workflow, gated, by=WHO, comment="")

    # Then the project is back to the redeploy that completed: its status, deployment and code
    project = fakes.projects.items["p"]
    assert "activeJobId" not in project
    assert (project["deploymentStatus"], project["deploymentJobId"], project["codeJobId"]) == (
        "deployed",
        holder,
        holder,
    )


class LosesTheTurnRecordOnce(FakeJobStore):
    """A job table whose write of a queued job's turn fails once (throttled, or the Lambda timed out
    after the project's lock was taken): Step Functions retries the step."""

    failed = False

    def apply(self, change: Update) -> bool:
        if "previousProject" in change.set and not self.failed:
            self.failed = True
            raise StoreUnavailable("the job table is unavailable right now (ThrottlingException)")
        return super().apply(change)


def test_a_turn_whose_record_was_lost_is_taken_on_the_next_look() -> None:
    # Given a queued deploy whose turn took the project's lock but could not record it on the job
    fakes = Fakes(jobs=LosesTheTurnRecordOnce())
    holder = deploy(fakes)
    waiting = deploy(fakes, 1)
    behind = deploy(fakes, 2)
    finish(fakes, holder)
    with pytest.raises(StoreUnavailable):
        turn(fakes, waiting)
    assert fakes.projects.items["p"]["activeJobId"] == waiting
    assert fakes.jobs.items[waiting]["queued"] is True

    # When the step is retried
    result = turn(fakes, waiting)

    # Then the job has its turn (it does not wait for ever on a lock it holds), and the job behind
    # it still waits
    assert result == {"acquired": True, "gone": False}
    assert fakes.jobs.items[waiting]["queued"] is False
    assert turn(fakes, behind) == {"acquired": False, "gone": False}
    assert queue(fakes) == [behind]


def test_a_superseding_deploy_that_cannot_start_supersedes_nothing() -> None:
    # Given a holder and a deploy queued behind it
    fakes = Fakes()
    holder = deploy(fakes)
    waiting = deploy(fakes, 1)

    # When a superseding deploy cannot start its workflow
    fakes.workflow = FailingStartWorkflow()
    with pytest.raises(WorkflowUnavailable):
        deploy(fakes, 2, supersede=True)

    # Then the queued deploy was not given up for a job that never ran: still pending, still queued
    assert fakes.jobs.items[waiting]["status"] == "pending"
    assert "supersededBy" not in fakes.jobs.items[waiting]
    assert fakes.workflow.stopped == []
    assert queue(fakes) == [waiting]
    assert fakes.projects.items["p"]["activeJobId"] == holder


def test_a_holder_that_ended_long_ago_without_freeing_the_project_is_passed_over() -> None:
    # Given a deploy queued behind a holder whose job failed long ago but never released the
    # project (its workflow died before its last step)
    fakes = Fakes()
    deployed(fakes)
    long_ago = epoch_ms() - 3600 * 1000
    holder = new_job_id(JobAction.DEPLOY, long_ago)
    ended = datetime.fromtimestamp(long_ago / 1000 + 60, UTC).isoformat(timespec="milliseconds")
    fakes.projects.items["p"].update(activeJobId=holder, activeAction="deploy", deploymentStatus="pending")
    fakes.jobs.items[holder] = {
        "jobId": holder,
        "projectId": "p",
        "action": "deploy",
        "status": "processing",
        "createdAt": long_ago,
        "startTime": ended,
    }
    fakes.workflow.executions[holder] = "RUNNING"
    waiting = deploy(fakes, 1)
    assert queue(fakes) == [waiting]  # (running then: the submit queued behind it)
    fakes.jobs.items[holder].update(status="failed", endTime=ended.replace("+00:00", "Z"))
    fakes.workflow.executions[holder] = "FAILED"

    # When the queued deploy looks
    result = turn(fakes, waiting)

    # Then the stale lock is released (with a record of why) and the queued deploy takes the project
    assert result == {"acquired": True, "gone": False}
    project = fakes.projects.items["p"]
    assert project["activeJobId"] == waiting and queue(fakes) == []
    assert project["lastProjectUnlock"]["jobId"] == holder
