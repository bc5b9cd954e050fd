"""Drift checks over the in-memory stores (functions/logic/drift.py): when one starts, when it is
recorded skipped, what its finding does to the project's status and baseline, when remediation
is refused, and the schedules."""

from __future__ import annotations

from typing import Any

import pytest

from core.requests import DeployRequest, RemediateRequest
from functions.dal.schedules import rate_seconds
from functions.logic import drift
from functions.logic.settings import put_settings
from functions.logic.submit import submit_deploy
from functions.models.exceptions import (
    InvalidRequest,
    NotDeployed,
    NotDrifted,
    ProjectNotFound,
    StaleDriftCheck,
)
from tests.support.fakes import FakeDriftSchedules, Fakes

CODE = 'resource "aws_sqs_queue" "q" {\n  name = "q"\n}\n'
STATE = {"serial": 3, "lineage": "L-1", "resources": []}


def deployed(fakes: Fakes, project_id: str = "p") -> str:
    job_id = submit_deploy(DeployRequest(projectId=project_id, iacCode=CODE), fakes.submit_stores()).jobId
    fakes.jobs.items[job_id].update(status="completed")
    assert fakes.projects.release(project_id, job_id, restore={"deploymentStatus": "deployed"})
    fakes.projects.items[project_id]["deploymentJobId"] = job_id
    fakes.states.states[project_id] = dict(STATE)
    return job_id


def refresh_plan(*, drifted: bool) -> dict[str, Any]:
    entries = (
        [
            {
                "address": "aws_sqs_queue.q",
                "mode": "managed",
                "type": "aws_sqs_queue",
                "name": "q",
                "change": {
                    "actions": ["update"],
                    "before": {"delay_seconds": 0},
                    "after": {"delay_seconds": 9},
                },
            }
        ]
        if drifted
        else []
    )
    return {
        "resource_drift": entries,
        "prior_state": {"values": {"root_module": {"resources": [{"mode": "managed"}]}}},
    }


def finish(fakes: Fakes, job_id: str, *, drifted: bool, failed: bool = False) -> dict[str, Any]:
    """What the check's build leaves (its plans and run facts), then the workflow's record step."""
    job = fakes.jobs.items[job_id]
    job["driftRun"] = {"stateSerial": 3, "stateLineage": "L-1", "codeHash": "h", "terraformVersion": "1.11.4"}
    if not failed:
        fakes.artifacts.drift_plans[("p", job_id)] = refresh_plan(drifted=drifted)
        fakes.artifacts.plans[("p", job_id)] = {"resource_changes": []}
    else:
        job["error"] = "terraform plan failed: boom"
    result = drift.record_drift(
        fakes.jobs, fakes.projects, fakes.artifacts, job_id, failed=failed, default_region="us-east-1"
    )
    job["status"] = "failed" if failed else "completed"
    return result


def started(fakes: Fakes) -> str:
    accepted = drift.start_check(fakes.submit_stores(), "p", caller="alice")
    assert accepted.status == "accepted"
    return accepted.jobId


def test_a_check_takes_no_lock_and_runs_the_deployed_code() -> None:
    fakes = Fakes()
    deploy_job = deployed(fakes)
    job_id = started(fakes)
    job = fakes.jobs.items[job_id]
    assert job["action"] == "drift" and job["codeJobId"] == deploy_job and job["trigger"] == "manual"
    assert "policySet" not in job and "policyCheck" not in job  # it plans nothing that is applied
    assert fakes.projects.items["p"].get("activeJobId") is None
    assert job_id in fakes.workflow.started
    assert fakes.code.read("p", job_id) == fakes.code.read("p", deploy_job)


def test_nothing_deployed_is_refused_and_an_unknown_project_is_404() -> None:
    fakes = Fakes()
    with pytest.raises(ProjectNotFound):
        drift.start_check(fakes.submit_stores(), "nobody")
    deployed(fakes)
    fakes.projects.items["p"]["deploymentStatus"] = "destroyed"
    with pytest.raises(NotDeployed, match="destroyed"):
        drift.start_check(fakes.submit_stores(), "p")
    with pytest.raises(InvalidRequest):
        drift.start_check(fakes.submit_stores(), "p", trigger="cron")


def test_a_check_while_a_job_runs_is_recorded_skipped_without_a_build() -> None:
    fakes = Fakes()
    deployed(fakes)
    running = submit_deploy(DeployRequest(projectId="p", iacCode=CODE), fakes.submit_stores()).jobId
    fakes.workflow.executions[running] = "RUNNING"
    skipped = drift.start_check(fakes.submit_stores(), "p")
    assert skipped.status == "skipped" and running in skipped.message
    assert skipped.jobId not in fakes.workflow.started
    record = fakes.jobs.items[skipped.jobId]
    assert record["status"] == "completed" and record["drift"]["status"] == "skipped"
    assert fakes.projects.items["p"]["activeJobId"] == running  # the deploy keeps its lock
    assert fakes.projects.items["p"]["drift"]["status"] == "skipped"
    # Once that job has ended (its workflow only releasing the lock), a check runs.
    fakes.jobs.items[running]["status"] = "completed"
    fakes.projects.items["p"]["deploymentStatus"] = "deployed"
    assert drift.start_check(fakes.submit_stores(), "p").status == "accepted"


def test_the_baseline_moves_only_on_a_conclusive_check() -> None:
    fakes = Fakes()
    deployed(fakes)
    assert finish(fakes, started(fakes), drifted=True) == {"status": "drifted"}
    summary = fakes.projects.items["p"]["drift"]
    assert (summary["status"], summary["baseline"], summary["counts"]["drifted"]) == ("drifted", "drifted", 1)
    first = summary["jobId"]

    assert finish(fakes, started(fakes), drifted=False, failed=True) == {"status": "errored"}
    summary = fakes.projects.items["p"]["drift"]
    assert (summary["status"], summary["baseline"], summary["previousBaseline"]) == (
        "errored",
        "drifted",
        "drifted",
    )
    assert summary["conclusiveJobId"] == first and summary["counts"]["drifted"] == 1
    assert "boom" in summary["reason"]

    finish(fakes, started(fakes), drifted=False)
    summary = fakes.projects.items["p"]["drift"]
    assert (summary["status"], summary["baseline"], summary["previousBaseline"]) == (
        "clean",
        "clean",
        "drifted",
    )


def test_a_deploy_during_the_check_makes_it_skipped() -> None:
    fakes = Fakes()
    deployed(fakes)
    job_id = started(fakes)
    fakes.projects.items["p"]["deploymentJobId"] = "deploy-1796219751486-i4f6az3ti"
    assert finish(fakes, job_id, drifted=True) == {"status": "skipped"}
    assert fakes.projects.items["p"]["drift"]["baseline"] is None


def test_the_project_view_has_the_latest_in_full_and_a_history() -> None:
    fakes = Fakes()
    deployed(fakes)
    finish(fakes, started(fakes), drifted=False)
    latest = started(fakes)
    fakes.jobs.items[latest]["createdAt"] += 1  # the same millisecond otherwise
    finish(fakes, latest, drifted=True)
    view = drift.project_drift(fakes.jobs, fakes.projects, "p", limit=10, token=None)
    assert view.status == "drifted" and view.latest is not None and view.latest.jobId == latest
    assert view.latest.resources[0].attributes[0].attribute == "delay_seconds"
    assert [h.status for h in view.history] == ["drifted", "clean"]
    assert all(h.resources == [] for h in view.history)
    assert view.schedule == "rate(1 day)" and view.latest.stateSerial == 3
    fleet = drift.fleet(fakes.projects)
    assert [(e.projectId, e.status, e.drifted) for e in fleet.projects] == [("p", "drifted", 1)]
    assert fleet.counts == {"drifted": 1}


def test_remediation_needs_a_drifted_check_the_state_has_not_moved_past() -> None:
    fakes = Fakes()
    deployed(fakes)
    stores = fakes.submit_stores()
    with pytest.raises(NotDrifted, match="no drift check"):
        drift.remediate(stores, "p", RemediateRequest(mode="apply"))
    finish(fakes, started(fakes), drifted=False)
    with pytest.raises(NotDrifted, match="found no drift"):
        drift.remediate(stores, "p", RemediateRequest(mode="apply"))
    check = started(fakes)
    finish(fakes, check, drifted=True)
    fakes.states.states["p"] = {**STATE, "serial": 4}
    with pytest.raises(StaleDriftCheck, match="serial 3 → 4"):
        drift.remediate(stores, "p", RemediateRequest(mode="apply"))
    fakes.states.states["p"] = dict(STATE)

    plan = drift.remediate(stores, "p", RemediateRequest(mode="plan"), caller="bob")
    plan_job = fakes.jobs.items[plan.jobId]
    assert plan_job["action"] == "plan" and plan_job["remediates"] == check
    assert fakes.projects.items["p"].get("activeJobId") is None  # a plan takes no lock

    apply = drift.remediate(stores, "p", RemediateRequest(mode="apply"), caller="bob")
    apply_job = fakes.jobs.items[apply.jobId]
    assert apply_job["action"] == "deploy" and apply_job["remediates"] == check
    assert fakes.projects.items["p"]["activeJobId"] == apply.jobId
    assert check in apply.message


def test_schedules_follow_the_settings_and_a_destroyed_project_loses_its_own() -> None:
    fakes = Fakes()
    schedules = FakeDriftSchedules()
    deployed(fakes)
    drift.keep_schedule(schedules, fakes.projects.get("p"), "p", "rate(1 day)")
    assert schedules.schedules == {"p": "rate(1 day)"}
    drift.keep_schedule(schedules, fakes.projects.get("p"), "p", "rate(1 day)")
    assert schedules.writes == 1  # unchanged: not written again
    out = put_settings(
        fakes.projects,
        "p",
        "alice",
        drift_schedule="rate(6 hours)",
        schedules=schedules,
        drift_default="rate(1 day)",
    )
    assert out.driftSchedule == "rate(6 hours)" and schedules.schedules["p"] == "rate(6 hours)"
    put_settings(
        fakes.projects, "p", "alice", drift_schedule="off", schedules=schedules, drift_default="rate(1 day)"
    )
    assert schedules.schedules == {}
    for bad in ("rate(0 days)", "rate(1 days)", "rate(2 day)", "cron(0 * * * ? *)", "daily"):
        with pytest.raises(InvalidRequest):
            put_settings(
                fakes.projects, "p", "a", drift_schedule=bad, schedules=schedules, drift_default="off"
            )

    schedules.put("p", "rate(1 day)")
    assert drift.scheduled_check(fakes.submit_stores(), schedules, "p") is not None
    fakes.projects.items["p"]["deploymentStatus"] = "destroyed"
    assert drift.scheduled_check(fakes.submit_stores(), schedules, "p") is None
    assert schedules.schedules == {}


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 day)", 86400), ("rate(12 hours)", 43200)],
)
def test_rate_expressions(expression: str, seconds: int) -> None:
    assert rate_seconds(expression) == seconds
