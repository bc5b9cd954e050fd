"""What a plan waits for once its policies are checked, and who may give it: a second person's
approval of protected deletes, another person's override of a soft-mandatory failure, both
recorded; decisions given together never leave the job stuck."""

from __future__ import annotations

from typing import Any

import pytest

from core.requests import DeployRequest, OverrideRequest, PolicyDryRunRequest, PolicyRequest
from functions.logic.approvals import approve, await_approval, override
from functions.logic.jobs import get_job
from functions.logic.policies import dry_run, put_policy
from functions.logic.policy_check import next_step
from functions.logic.submit import submit_deploy
from functions.models.exceptions import NotAwaitingApproval, SecondIdentityRequired
from tests.support.fakes import Fakes

CODE = 'resource "null_resource" "n" {}\n'
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAf-task-token"
ALICE = "arn:aws:iam::1:user/alice"
BOB = "arn:aws:iam::1:user/bob"
DAY = 24 * 3600
SOFT_FAILURE = {
    "policy": "types",
    "scope": "install",
    "kind": "rego",
    "level": "soft-mandatory",
    "version": 1,
    "hash": "sha256:x",
    "outcome": "failed",
    "messages": ["aws_instance.a uses m5.24xlarge"],
    "overridable": True,
}


def waiting_job(fakes: Fakes, requires: list[str], *, approval: str | None = None) -> str:
    """Alice's deploy, its plan checked with these requirements, its workflow waiting."""
    job_id = submit_deploy(
        DeployRequest(projectId="p", iacCode=CODE, approval=approval), fakes.submit_stores(), caller=ALICE
    ).jobId
    check: dict[str, Any] = {
        "outcome": "needs_override" if requires == ["override"] else "needs_approval",
        "message": "m",
        "results": [SOFT_FAILURE],
        "requires": requires,
    }
    fakes.jobs.items[job_id].update(status="processing", phase="plan", policyCheck=check)
    await_approval(fakes.jobs, job_id, TOKEN, DAY)
    fakes.workflow.wait_on(TOKEN)
    return job_id


def test_a_deploy_with_policies_is_checked_before_it_applies() -> None:
    # Given an install with one enabled policy and one turned off
    fakes = Fakes()
    put_policy(
        fakes.policies, "budget", PolicyRequest(level="mandatory", settings={"maxMonthlyTotal": 10}), ALICE
    )
    put_policy(fakes.policies, "public-exposure", PolicyRequest(level="off"), ALICE)
    # When Alice deploys
    job_id = submit_deploy(
        DeployRequest(projectId="p", iacCode=CODE), fakes.submit_stores(), caller=ALICE
    ).jobId
    # Then the job is planned and checked first, under exactly the enabled version, and knows who sent it
    job = fakes.jobs.items[job_id]
    assert job["mode"] == "checked" and job["submittedBy"] == ALICE
    assert job["policySet"] == [{"scope": "install", "name": "budget", "version": 1}]


def test_a_deploy_without_policies_runs_direct_and_says_no_policies() -> None:
    fakes = Fakes()
    put_policy(fakes.policies, "budget", PolicyRequest(level="off"), ALICE)
    job_id = submit_deploy(
        DeployRequest(projectId="p", iacCode=CODE), fakes.submit_stores(), caller=ALICE
    ).jobId
    job = fakes.jobs.items[job_id]
    assert job["mode"] == "direct" and "policySet" not in job
    view = get_job(fakes.jobs, fakes.projects, job_id)
    assert view.policies is not None and view.policies.outcome == "no_policies"
    assert view.policies.message == "no policies"


def test_an_override_by_the_submitter_is_refused_and_by_another_accepted() -> None:
    # Given Alice's job waiting on a soft-mandatory failure
    fakes = Fakes()
    job_id = waiting_job(fakes, ["override"])
    view = get_job(fakes.jobs, fakes.projects, job_id)
    assert view.actions is not None and view.actions.canOverride and not view.actions.canApprove
    assert "override" in (view.result.message if view.result else "")

    # When Alice overrides her own job, or anyone approves it
    with pytest.raises(SecondIdentityRequired):
        override(fakes.jobs, fakes.workflow, job_id, by=ALICE, reason="I know")
    with pytest.raises(NotAwaitingApproval, match="override"):
        approve(fakes.jobs, fakes.workflow, job_id, by=BOB, comment="")
    assert TOKEN in fakes.workflow.waiting

    # Then Bob's override lets the workflow go on, and is recorded with the policy it let through
    answer = override(fakes.jobs, fakes.workflow, job_id, by=BOB, reason="capacity test, ticket 42")
    assert answer.message.startswith("Approved")
    assert fakes.workflow.answers[TOKEN][0] == "success"
    record = fakes.jobs.items[job_id]["policyCheck"]["override"]
    assert record["by"] == BOB and record["reason"] == "capacity test, ticket 42"
    assert record["policies"] == ["install/types"]
    assert fakes.jobs.items[job_id]["phase"] == "init"


def test_protected_deletes_need_a_second_person() -> None:
    fakes = Fakes()
    job_id = waiting_job(fakes, ["second_approval"])
    with pytest.raises(SecondIdentityRequired, match="someone other than its submitter"):
        approve(fakes.jobs, fakes.workflow, job_id, by=ALICE, comment="mine")
    assert TOKEN in fakes.workflow.waiting
    approve(fakes.jobs, fakes.workflow, job_id, by=BOB, comment="checked the backups")
    assert fakes.workflow.answers[TOKEN][0] == "success"
    approval = fakes.jobs.items[job_id]["approval"]
    assert approval["decidedBy"] == BOB and approval["state"] == "approved"


def test_an_approval_and_an_override_both_count_whichever_comes_first() -> None:
    # Given a gated job that also failed a soft-mandatory policy
    fakes = Fakes()
    job_id = waiting_job(fakes, ["override"], approval="required")
    assert fakes.jobs.items[job_id]["pendingDecisions"] == "approval,override"

    # When the approval comes first, the job still waits for the override
    first = approve(fakes.jobs, fakes.workflow, job_id, by=ALICE, comment="plan looks right")
    assert "override" in first.message and TOKEN in fakes.workflow.waiting
    view = get_job(fakes.jobs, fakes.projects, job_id)
    assert view.approval is not None and view.approval.needs == ["override"]

    # Then the override resumes it, and the approval is still on record
    override(fakes.jobs, fakes.workflow, job_id, by=BOB, reason="ok")
    assert fakes.workflow.answers[TOKEN][0] == "success"
    assert fakes.jobs.items[job_id]["approval"]["approvedBy"] == ALICE


def test_a_decision_on_a_stale_read_is_not_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a job waiting for both, where Bob's override lands between Alice's read and her write
    fakes = Fakes()
    job_id = waiting_job(fakes, ["override"], approval="required")
    original_get = fakes.jobs.get
    raced = {"done": False}

    def get_then_race(job: str) -> Any:
        item = original_get(job)
        if not raced["done"]:
            raced["done"] = True
            override(fakes.jobs, fakes.workflow, job_id, by=BOB, reason="racing")
        return item

    monkeypatch.setattr(fakes.jobs, "get", get_then_race)
    # When Alice approves on what she read before the override
    approve(fakes.jobs, fakes.workflow, job_id, by=ALICE, comment="")
    # Then her stale write is refused, she reads again, and hers is the last decision: it resumes
    assert fakes.workflow.answers[TOKEN][0] == "success"
    assert fakes.jobs.items[job_id]["phase"] == "init"


@pytest.mark.parametrize(
    ("check", "approval_required", "has_changes", "expected"),
    [
        ({"outcome": "failed"}, True, True, "stop"),
        ({"outcome": "needs_override", "requires": ["override"]}, False, True, "wait"),
        ({"outcome": "passed"}, True, True, "wait"),
        ({"outcome": "passed"}, True, False, "apply"),
        ({"outcome": "warned"}, False, True, "apply"),
        ({"outcome": "no_policies"}, False, True, "apply"),
    ],
)
def test_the_way_on_after_the_check(
    check: dict[str, Any], approval_required: bool, has_changes: bool, expected: str
) -> None:
    job = {"jobId": "j", "action": "deploy", "approvalRequired": approval_required}
    assert next_step(job, check, has_changes=has_changes) == expected
    assert next_step({**job, "action": "plan"}, check, has_changes=has_changes) == "end"


def test_an_override_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="reason"):
        OverrideRequest(reason="   ")


PLAN_JOB = "plan-1796190000000-aaaaaaaaa"


def stored_plan(fakes: Fakes) -> None:
    fakes.jobs.items[PLAN_JOB] = {
        "jobId": PLAN_JOB,
        "projectId": "p",
        "action": "plan",
        "status": "completed",
        "planCost": {
            "prior": 0.0,
            "proposed": 20.0,
            "delta": 20.0,
            "priced": 1,
            "free": 0,
            "unpriced": 0,
            "total": 1,
        },
    }
    fakes.artifacts.plans[("p", PLAN_JOB)] = {"resource_changes": []}


def test_a_dry_run_tries_inline_stored_and_whole_sets_and_stores_nothing() -> None:
    fakes = Fakes()
    stored_plan(fakes)
    # an inline built-in, with every optional field sent as null
    inline = PolicyDryRunRequest.model_validate(
        {
            "planJobId": PLAN_JOB,
            "name": "budget",
            "settings": {"maxMonthlyTotal": 1},
            "rego": None,
            "version": None,
        }
    )
    tried = dry_run(
        fakes.policies, fakes.jobs, fakes.artifacts, inline, caller=ALICE, default_region="us-east-1"
    )
    assert tried.outcome == "failed" and "$1.00" in tried.results[0].messages[0]
    assert fakes.policies.items == {}
    # a stored policy is tried at the level asked for, even one stored off
    put_policy(
        fakes.policies,
        "budget",
        PolicyRequest(level="off", projectId="p", settings={"maxMonthlyTotal": 100}),
        ALICE,
    )
    stored = PolicyDryRunRequest(planJobId=PLAN_JOB, name="budget", level="advisory")
    assert (
        dry_run(fakes.policies, fakes.jobs, fakes.artifacts, stored, caller=ALICE, default_region="x").outcome
        == "passed"
    )
    # the whole set: the only policy is off, so there are none
    whole = PolicyDryRunRequest(planJobId=PLAN_JOB)
    assert (
        dry_run(fakes.policies, fakes.jobs, fakes.artifacts, whole, caller=ALICE, default_region="x").outcome
        == "no_policies"
    )
