"""Applying a speculative plan's saved file (functions/logic/submit.py: stale_reasons, submit_apply)
over the in-memory stores: each reason a plan can no longer be applied as reviewed, the refusals
(not a plan, not finished, stale), and the apply job a fresh plan gets."""

from __future__ import annotations

from typing import Any

import pytest

from core.records import epoch_ms, iso_now
from core.requests import ApplyRequest, DeployRequest, DestroyRequest, PlanRequest
from functions.logic.submit import stale_reasons, submit_apply, submit_deploy, submit_destroy, submit_plan
from functions.models.exceptions import JobNotFound, PlanNotReady, ProjectBusy, StalePlan
from tests.support.fakes import Fakes

CODE = 'resource "null_resource" "n" {}\n'
PLANNED = CODE + 'resource "null_resource" "m" {}\n'
DAY = 24 * 3600
STATE = {"version": 4, "serial": 7, "lineage": "5f0c-lineage", "resources": []}


def plan_job(**saved: Any) -> dict[str, Any]:
    """A completed plan job made against project code ``deploy-1`` (variables version 3) and STATE."""
    return {
        "jobId": "plan-1700000000000-plannedjob",
        "projectId": "p",
        "action": "plan",
        "status": "completed",
        "startTime": iso_now(),
        "savedPlan": {
            "key": "plans/p/plan-1700000000000-plannedjob.tfplan",
            "stateSerial": 7,
            "stateLineage": "5f0c-lineage",
            "createdAt": iso_now(),
            **saved,
        },
        "planBasis": {"projectCodeJobId": "deploy-1", "projectVariablesVersion": "3"},
    }


PROJECT = {"projectId": "p", "codeJobId": "deploy-1", "variablesRef": {"secretId": "s", "versionId": "3"}}


def reasons(
    job: dict[str, Any] | None = None,
    project: dict[str, Any] | None = None,
    state: dict[str, Any] | None = STATE,
    *,
    age_s: float = 0,
) -> list[str]:
    return stale_reasons(job or plan_job(), project or PROJECT, state, epoch_ms() + int(age_s * 1000), DAY)


def test_a_plan_of_the_state_code_and_variables_as_they_are_is_not_stale() -> None:
    assert reasons() == []
    # and neither is one made without a state while there still is none
    assert reasons(plan_job(stateSerial=None, stateLineage=None), state=None) == []


def test_the_state_moved_since_the_plan() -> None:
    # Given another deploy wrote the state since (same lineage, a later serial)
    [reason] = reasons(state={**STATE, "serial": 8})
    assert reason == "the state moved since the plan (serial 7 → 8)"


def test_the_states_lineage_changed_since_the_plan() -> None:
    # Given the state was replaced (destroyed and made again, or pushed from elsewhere)
    [reason] = reasons(state={**STATE, "lineage": "9a1d-other", "serial": 7})
    assert reason == "the state's lineage changed since the plan (5f0c-lineage → 9a1d-other)"


def test_a_state_made_since_a_plan_that_had_none() -> None:
    # Given a plan made with no state yet, and a deploy since that made one
    [reason] = reasons(plan_job(stateSerial=None, stateLineage=None), state={**STATE, "serial": 1})
    assert reason == "the state's lineage changed since the plan (no state → 5f0c-lineage)"


def test_a_state_gone_since_the_plan() -> None:
    [reason] = reasons(state=None)
    assert reason == "the state's lineage changed since the plan (5f0c-lineage → no state)"


def test_the_projects_code_changed_since_the_plan() -> None:
    [reason] = reasons(project={**PROJECT, "codeJobId": "deploy-2"})
    assert reason == "the project's code changed since the plan (now the code of deploy-2)"


def test_the_projects_variables_changed_since_the_plan() -> None:
    [reason] = reasons(project={**PROJECT, "variablesRef": {"secretId": "s", "versionId": "4"}})
    assert reason == "the project's variables changed since the plan"
    # variables removed since count as a change too
    assert reasons(project={**PROJECT, "variablesRef": None}) == [reason]


def test_an_expired_plan() -> None:
    [reason] = reasons(age_s=DAY + 60)
    assert reason == "the plan is older than its expiry (24 h): plan again"
    # a day old less a minute is still fresh
    assert reasons(age_s=DAY - 60) == []


def test_every_reason_is_given_at_once() -> None:
    got = reasons(
        project={"projectId": "p", "codeJobId": "deploy-2"}, state={**STATE, "serial": 9}, age_s=2 * DAY
    )
    assert len(got) == 4
    assert [reason.split(" ")[1] for reason in got] == ["plan", "state", "project's", "project's"]


# --- submit_apply ---------------------------------------------------------------------------------


def deployed(fakes: Fakes) -> str:
    first = submit_deploy(
        DeployRequest(projectId="p", iacCode=CODE, variables={"size": "s"}), fakes.submit_stores()
    ).jobId
    fakes.jobs.items[first].update(status="completed")
    assert fakes.projects.release("p", first, restore={"deploymentStatus": "deployed"})
    fakes.states.states["p"] = dict(STATE)
    return first


def planned(fakes: Fakes) -> str:
    """A speculative plan of new code and variables, completed, its file saved against STATE."""
    job_id = submit_plan(
        PlanRequest(projectId="p", iacCode=PLANNED, variables={"size": "m"}), fakes.submit_stores()
    ).jobId
    fakes.jobs.items[job_id].update(
        status="completed",
        savedPlan={
            "key": "k",
            "stateSerial": STATE["serial"],
            "stateLineage": STATE["lineage"],
            "createdAt": iso_now(),
        },
    )
    return job_id


def test_applying_a_job_that_is_not_a_plan_is_refused() -> None:
    fakes = Fakes()
    first = deployed(fakes)

    with pytest.raises(PlanNotReady, match="is a deploy job, not a plan"):
        submit_apply(first, ApplyRequest(), fakes.submit_stores())
    with pytest.raises(JobNotFound):
        submit_apply("plan-1700000000000-nosuchjob", ApplyRequest(), fakes.submit_stores())


@pytest.mark.parametrize("status", ["pending", "processing", "failed"])
def test_applying_a_plan_that_has_not_completed_is_refused(status: str) -> None:
    # Given a plan job still running (or failed)
    fakes = Fakes()
    deployed(fakes)
    plan = planned(fakes)
    fakes.jobs.items[plan]["status"] = status
    known = set(fakes.jobs.items)

    with pytest.raises(PlanNotReady, match=f"has not completed \\(status {status}\\)"):
        submit_apply(plan, ApplyRequest(), fakes.submit_stores())

    # and nothing was started
    assert set(fakes.jobs.items) == known


def test_a_completed_plan_without_a_saved_file_is_refused() -> None:
    fakes = Fakes()
    deployed(fakes)
    plan = planned(fakes)
    del fakes.jobs.items[plan]["savedPlan"]

    with pytest.raises(PlanNotReady):
        submit_apply(plan, ApplyRequest(), fakes.submit_stores())


def test_applying_a_stale_plan_is_refused_with_every_reason() -> None:
    # Given a plan, and then a deploy that moved the state and changed the project's code
    fakes = Fakes()
    deployed(fakes)
    plan = planned(fakes)
    other = submit_deploy(
        DeployRequest(projectId="p", iacCode=CODE + "# other\n"), fakes.submit_stores()
    ).jobId
    fakes.jobs.items[other].update(status="completed")
    fakes.projects.release("p", other, restore={"deploymentStatus": "deployed"})
    fakes.states.states["p"] = {**STATE, "serial": 8}
    known = set(fakes.jobs.items)

    # When the plan is applied
    with pytest.raises(StalePlan) as refused:
        submit_apply(plan, ApplyRequest(), fakes.submit_stores())

    # Then it is refused with the reasons, the first one in the message, and nothing started
    assert refused.value.reasons == [
        "the state moved since the plan (serial 7 → 8)",
        f"the project's code changed since the plan (now the code of {other})",
        "the project's variables changed since the plan",
    ]
    assert refused.value.details() == {"reasons": refused.value.reasons}
    assert refused.value.message.endswith(refused.value.reasons[0])
    assert set(fakes.jobs.items) == known
    assert fakes.projects.items["p"].get("activeJobId") is None


def test_applying_a_fresh_plan_starts_a_saved_mode_deploy_of_the_plans_code() -> None:
    # Given a deployed project and a fresh plan of new code and variables
    fakes = Fakes()
    deployed(fakes)
    plan = planned(fakes)
    plan_item = fakes.jobs.items[plan]

    # When it is applied
    accepted = submit_apply(plan, ApplyRequest(), fakes.submit_stores())

    # Then a deploy job applies exactly that plan: saved mode, pointing at the plan
    assert accepted.message == f"Applying saved plan {plan}"
    job = fakes.jobs.items[accepted.jobId]
    assert (job["action"], job["mode"], job["planJobId"], job["status"]) == (
        "deploy",
        "saved",
        plan,
        "pending",
    )
    assert job["approvalRequired"] is False
    assert job["codeHash"] == plan_item["codeHash"] and job["variablesRef"] == plan_item["variablesRef"]
    # the plan's code is copied into the job's own workspace
    assert (
        fakes.code.objects[("p", accepted.jobId)] == fakes.code.objects[("p", plan)] == {"main.tf": PLANNED}
    )
    # the project is the job's, with the plan's code and variables
    project = fakes.projects.items["p"]
    assert (project["activeJobId"], project["activeAction"], project["deploymentStatus"]) == (
        accepted.jobId,
        "deploy",
        "pending",
    )
    assert project["codeJobId"] == accepted.jobId and job["codeJobId"] == accepted.jobId
    assert project["codeFiles"] == plan_item["codeFiles"] == ["main.tf"]
    assert project["variablesRef"] == plan_item["variablesRef"]
    assert fakes.variables.load(project["variablesRef"]) == {"size": "m"}
    # and its workflow started; the plan job is left as it was
    assert accepted.jobId in fakes.workflow.started
    assert fakes.jobs.items[plan] == plan_item


def test_a_plan_is_stale_as_soon_as_a_deploy_takes_the_project() -> None:
    # Given a fresh plan and then a deploy holding the project (which has not moved the state yet)
    fakes = Fakes()
    deployed(fakes)
    plan = planned(fakes)
    holder = submit_deploy(DeployRequest(projectId="p", iacCode=CODE), fakes.submit_stores())
    # (the holder's code is the project's now: a plan of the code before is stale)
    with pytest.raises(StalePlan):
        submit_apply(plan, ApplyRequest(), fakes.submit_stores())
    assert holder.jobId == fakes.projects.items["p"]["activeJobId"]


def test_applying_a_fresh_plan_while_a_destroy_holds_the_project_queues_behind_it() -> None:
    # Given a fresh plan, and a destroy holding the project (it leaves the code pointer alone)
    fakes = Fakes()
    deployed(fakes)
    plan = planned(fakes)
    destroy = submit_destroy(DestroyRequest(projectId="p"), fakes.submit_stores()).jobId

    # When the plan is applied
    accepted = submit_apply(plan, ApplyRequest(), fakes.submit_stores())

    # Then the apply waits its turn behind the destroy, keeping the plan's fields for then
    assert (accepted.queuePosition, accepted.waitingFor) == (1, destroy)
    job = fakes.jobs.items[accepted.jobId]
    assert job["queued"] is True and job["mode"] == "saved"
    assert job["projectFields"]["codeJobId"] == accepted.jobId
    assert job["projectFields"]["variablesRef"] == fakes.jobs.items[plan]["variablesRef"]
    assert fakes.projects.items["p"]["activeJobId"] == destroy

    # and with whenBusy=reject it is refused instead, leaving no job behind
    known, known_code = set(fakes.jobs.items), set(fakes.code.objects)
    with pytest.raises(ProjectBusy):
        submit_apply(plan, ApplyRequest(whenBusy="reject"), fakes.submit_stores())
    assert set(fakes.jobs.items) == known and set(fakes.code.objects) == known_code
