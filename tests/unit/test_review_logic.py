"""The workflow's review of a plan (functions/logic/review.py, jobs.py) over the in-memory stores:
the stored review document (summary, cost, markdown, basis), the job fields it sets, a speculative
plan completed by it, a gated plan with nothing to change, and reads before a review exists."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.redaction import redact_plan
from core.requests import DeployRequest, PlanRequest
from functions.logic.jobs import get_job, get_plan
from functions.logic.policy_check import check_job_policies
from functions.logic.review import PLAN_CREATED, read_review, review_job_plan
from functions.logic.submit import submit_deploy, submit_plan
from functions.models.exceptions import JobNotFound, PlanNotReady
from tests.support.fakes import Fakes

CODE = 'resource "aws_instance" "web" {\n  ami           = "ami-0abc"\n  instance_type = "t3.micro"\n}\n'
SECRET = "Zq9-hunter2-db-password"
CREATED = "2026-12-02T06:00:00.000Z"
AWS = "registry.terraform.io/hashicorp/aws"


def _instance(name: str, instance_type: str, ami: str, instance_id: str) -> dict[str, Any]:
    return {
        "address": f"aws_instance.{name}",
        "mode": "managed",
        "type": "aws_instance",
        "name": name,
        "provider_name": AWS,
        "values": {"id": instance_id, "ami": ami, "instance_type": instance_type, "tags": {"Name": name}},
    }


def _plan(*, prior: bool = True) -> dict[str, Any]:
    """``terraform show -json`` of a plan that creates one instance, replaces one (its AMI forces
    it) and deletes one, with a sensitive variable; as the runner stores it, redacted."""
    plan: dict[str, Any] = {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "variables": {"db_password": {"value": SECRET}},
        "resource_changes": [
            {
                "address": "aws_instance.web",
                "mode": "managed",
                "type": "aws_instance",
                "name": "web",
                "provider_name": AWS,
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": {"ami": "ami-0abc", "instance_type": "t3.micro", "tags": {"Name": "web"}},
                    "after_unknown": {"id": True, "arn": True},
                    "before_sensitive": False,
                    "after_sensitive": {"tags": {}},
                },
            },
            {
                "address": "aws_instance.db",
                "mode": "managed",
                "type": "aws_instance",
                "name": "db",
                "provider_name": AWS,
                "change": {
                    "actions": ["delete", "create"],
                    "before": {
                        "id": "i-0123",
                        "ami": "ami-0old",
                        "instance_type": "t3.small",
                        "tags": {"Name": "db"},
                    },
                    "after": {"ami": "ami-0new", "instance_type": "t3.small", "tags": {"Name": "db"}},
                    "after_unknown": {"id": True},
                    "before_sensitive": {"tags": {}},
                    "after_sensitive": {"tags": {}},
                    "replace_paths": [["ami"]],
                },
                "action_reason": "replace_because_cannot_update",
            },
            {
                "address": "aws_instance.old",
                "mode": "managed",
                "type": "aws_instance",
                "name": "old",
                "provider_name": AWS,
                "change": {
                    "actions": ["delete"],
                    "before": {
                        "id": "i-0456",
                        "ami": "ami-0old",
                        "instance_type": "t3.large",
                        "tags": {"Name": "old"},
                    },
                    "after": None,
                    "after_unknown": {},
                    "before_sensitive": {"tags": {}},
                    "after_sensitive": False,
                },
            },
        ],
        "configuration": {"root_module": {"variables": {"db_password": {"sensitive": True}}}},
    }
    if prior:
        plan["prior_state"] = {
            "format_version": "1.0",
            "terraform_version": "1.11.4",
            "values": {
                "root_module": {
                    "resources": [
                        _instance("db", "t3.small", "ami-0old", "i-0123"),
                        _instance("old", "t3.large", "ami-0old", "i-0456"),
                    ]
                }
            },
        }
    else:
        # a first deploy: nothing to delete or replace
        plan["resource_changes"] = plan["resource_changes"][:1]
    return redact_plan(plan, {})


def _no_changes_plan() -> dict[str, Any]:
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "resource_changes": [
            {
                "address": "aws_instance.web",
                "mode": "managed",
                "type": "aws_instance",
                "name": "web",
                "provider_name": AWS,
                "change": {
                    "actions": ["no-op"],
                    "before": {"id": "i-0789", "ami": "ami-0abc", "instance_type": "t3.micro"},
                    "after": {"id": "i-0789", "ami": "ami-0abc", "instance_type": "t3.micro"},
                    "after_unknown": {},
                    "before_sensitive": {},
                    "after_sensitive": {},
                },
            }
        ],
        "prior_state": {
            "values": {"root_module": {"resources": [_instance("web", "t3.micro", "ami-0abc", "i-0789")]}}
        },
    }


def planned(fakes: Fakes, job_id: str, plan: dict[str, Any]) -> None:
    """The job's plan build ran: processing, its plan saved and stored (redacted)."""
    fakes.jobs.items[job_id].update(
        status="processing",
        phase="plan",
        savedPlan={
            "key": "k",
            "stateSerial": 4,
            "stateLineage": "lin-1",
            "createdAt": CREATED,
            "codeHash": "h",
        },
    )
    fakes.artifacts.plans[("p", job_id)] = plan


def speculative(fakes: Fakes, plan: dict[str, Any]) -> str:
    job_id = submit_plan(PlanRequest(projectId="p", iacCode=CODE), fakes.submit_stores()).jobId
    planned(fakes, job_id, plan)
    return job_id


def review(fakes: Fakes, job_id: str) -> dict[str, Any]:
    """The workflow's review, then (as the workflow goes on) its policy check."""
    reviewed = review_job_plan(
        fakes.jobs, fakes.artifacts, job_id, default_region="us-east-1", plan_expiry_seconds=3600
    )
    check_job_policies(
        fakes.jobs,
        fakes.policies,
        fakes.artifacts,
        fakes.code,
        job_id,
        default_region="us-east-1",
        has_changes=reviewed["hasChanges"],
    )
    return reviewed


def test_a_review_stores_the_changes_the_cost_and_the_markdown() -> None:
    # Given a plan job whose plan creates, replaces and deletes
    fakes = Fakes()
    job_id = speculative(fakes, _plan())

    # When the workflow reviews it
    result = review(fakes, job_id)

    # Then the workflow learns there are changes
    assert result == {"hasChanges": True}
    # and the review document has every change, the counts (a replace counts as add and destroy)
    document = fakes.artifacts.reviews[("p", job_id)]
    assert document["summary"]["add"] == 2 and document["summary"]["destroy"] == 2
    assert document["summary"]["change"] == 0 and document["summary"]["replace"] == 1
    actions = {change["address"]: change["action"] for change in document["resourceChanges"]}
    assert set(actions) == {"aws_instance.web", "aws_instance.db", "aws_instance.old"}
    assert actions["aws_instance.web"] == "create" and actions["aws_instance.old"] == "delete"
    assert "replace" in actions["aws_instance.db"]
    # the cost before and after from list prices: three instances before, two after
    cost = document["cost"]
    assert cost["prior"] > cost["proposed"] > 0
    assert cost["delta"] == round(cost["proposed"] - cost["prior"], 2) < 0
    assert (cost["currency"], cost["priced"], cost["unpriced"], cost["lowerBound"]) == ("USD", 2, 0, False)
    # the markdown for a pull request, naming the project, the job and the resources
    markdown = document["markdown"]
    assert job_id in markdown and "aws_instance.db" in markdown and "aws_instance.old" in markdown
    # what the plan was made against, and when it expires
    basis = document["basis"]
    assert (basis["stateSerial"], basis["stateLineage"], basis["createdAt"]) == (4, "lin-1", CREATED)
    assert basis["expiresAt"] == "2026-12-02T07:00:00.000Z"
    # and no secret anywhere in it
    assert SECRET not in json.dumps(document)
    # the job carries the summary, the cost and where the review is
    job = fakes.jobs.items[job_id]
    assert job["planSummary"] == document["summary"] and job["planCost"] == cost
    assert job["reviewKey"] == f"plans/p/{job_id}.review.json"


def test_a_first_deploys_prior_cost_is_zero() -> None:
    # Given a plan with no prior state (nothing deployed yet)
    fakes = Fakes()
    job_id = speculative(fakes, _plan(prior=False))

    review(fakes, job_id)

    # Then the prior cost is $0, not unknown, and the delta is the whole proposed cost
    cost = fakes.jobs.items[job_id]["planCost"]
    assert cost["prior"] == 0.0 and cost["proposed"] > 0
    assert cost["delta"] == cost["proposed"]


def test_a_speculative_plan_ends_with_its_review_and_policy_check() -> None:
    # Given a speculative plan job processing its plan
    fakes = Fakes()
    job_id = speculative(fakes, _plan())

    review(fakes, job_id)

    # Then the job is completed, saying what the plan does, and the status shows the plan
    job = fakes.jobs.items[job_id]
    assert (job["status"], job["phase"], job["progress"]) == ("completed", "done", 100)
    assert job["resultMessage"] == f"{PLAN_CREATED}: 2 to add, 0 to change, 2 to destroy" and job["endTime"]
    view = get_job(fakes.jobs, fakes.projects, job_id)
    assert view.plan is not None and view.plan.hasChanges and view.plan.summary.replace == 1
    assert view.plan.cost is not None and view.plan.cost.prior is not None
    # a speculative plan never touched the project
    assert "activeJobId" not in (fakes.projects.items.get("p") or {})


def test_a_speculative_plan_with_no_changes_says_so() -> None:
    fakes = Fakes()
    job_id = speculative(fakes, _no_changes_plan())

    assert review(fakes, job_id) == {"hasChanges": False}

    assert fakes.jobs.items[job_id]["resultMessage"] == f"{PLAN_CREATED}: no changes"
    assert fakes.jobs.items[job_id]["status"] == "completed"


def gated(fakes: Fakes, plan: dict[str, Any]) -> str:
    job_id = submit_deploy(
        DeployRequest(projectId="p", iacCode=CODE, approval="required"), fakes.submit_stores()
    ).jobId
    planned(fakes, job_id, plan)
    return job_id


def test_a_gated_plan_with_no_changes_needs_no_approval() -> None:
    # Given a gated deploy whose plan changes nothing
    fakes = Fakes()
    job_id = gated(fakes, _no_changes_plan())

    # When it is reviewed
    result = review(fakes, job_id)

    # Then the workflow goes on without waiting, and the record says why; the job is not ended
    assert result == {"hasChanges": False}
    job = fakes.jobs.items[job_id]
    assert (
        job["approval"]["state"] == "not_needed" and job["approval"]["comment"] == "the plan has no changes"
    )
    assert job["status"] == "processing"
    view = get_job(fakes.jobs, fakes.projects, job_id)
    assert view.approval is not None and view.approval.state == "not_needed"
    assert view.actions is not None and not view.actions.canApprove


def test_a_gated_plan_with_changes_is_left_to_wait() -> None:
    fakes = Fakes()
    job_id = gated(fakes, _plan())

    assert review(fakes, job_id) == {"hasChanges": True}

    job = fakes.jobs.items[job_id]
    assert "approval" not in job and job["status"] == "processing"
    assert job["planSummary"]["replace"] == 1


def test_a_review_of_a_job_that_ended_meanwhile_does_not_change_it() -> None:
    # Given a gated plan with no changes whose job was cancelled while it was being reviewed
    fakes = Fakes()
    job_id = gated(fakes, _no_changes_plan())
    fakes.jobs.items[job_id].update(status="failed", error="cancelled")
    before = dict(fakes.jobs.items[job_id])

    review(fakes, job_id)

    # Then the closed record is left as it was
    assert fakes.jobs.items[job_id] == before


def test_reading_a_review_before_it_exists_is_plan_not_ready() -> None:
    # Given a plan job whose plan is not reviewed yet
    fakes = Fakes()
    job_id = speculative(fakes, _plan())

    # Then reading its review says it is not ready, with the job's status
    with pytest.raises(PlanNotReady, match="no reviewed plan yet \\(status processing"):
        read_review(fakes.jobs, fakes.artifacts, job_id)
    with pytest.raises(PlanNotReady):
        get_plan(fakes.jobs, fakes.artifacts, job_id)
    with pytest.raises(JobNotFound):
        read_review(fakes.jobs, fakes.artifacts, "plan-1700000000000-nosuchjob")

    # and once reviewed, the plan reads back as stored
    review(fakes, job_id)
    _, document = read_review(fakes.jobs, fakes.artifacts, job_id)
    out = get_plan(fakes.jobs, fakes.artifacts, job_id)
    assert out.markdown == document["markdown"] and out.summary.replace == 1
    assert out.cost is not None and out.cost.delta == document["cost"]["delta"]


def test_a_review_without_a_stored_plan_is_plan_not_ready() -> None:
    fakes = Fakes()
    job_id = speculative(fakes, _plan())
    del fakes.artifacts.plans[("p", job_id)]

    with pytest.raises(PlanNotReady, match="has no stored plan"):
        review(fakes, job_id)
    assert "reviewKey" not in fakes.jobs.items[job_id]


def _import_only_plan() -> dict[str, Any]:
    """A plan that only imports an existing bucket: terraform counts it apart from add/change/destroy."""
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "resource_changes": [
            {
                "address": "aws_s3_bucket.logs",
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "logs",
                "provider_name": AWS,
                "change": {
                    "actions": ["no-op"],
                    "before": {"bucket": "acme-logs"},
                    "after": {"bucket": "acme-logs"},
                    "after_unknown": {},
                    "before_sensitive": {},
                    "after_sensitive": {},
                    "importing": {"id": "acme-logs"},
                },
            }
        ],
    }


def test_a_plan_that_only_imports_has_changes_everywhere_it_is_shown() -> None:
    # Given a speculative plan and a gated deploy whose plans only import a resource
    fakes = Fakes()
    plan_id = speculative(fakes, _import_only_plan())
    gated_id = gated(fakes, _import_only_plan())

    # When they are reviewed
    assert review(fakes, plan_id) == {"hasChanges": True}
    assert review(fakes, gated_id) == {"hasChanges": True}

    # Then the plan's message and the status answer agree with the workflow: there is a change
    message = fakes.jobs.items[plan_id]["resultMessage"]
    assert message != f"{PLAN_CREATED}: no changes" and "1 to import" in message
    for job_id in (plan_id, gated_id):
        view = get_job(fakes.jobs, fakes.projects, job_id)
        assert view.plan is not None and view.plan.hasChanges
    # and the gated one waits for a person (no not_needed approval)
    assert "approval" not in fakes.jobs.items[gated_id]
