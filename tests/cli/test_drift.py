"""Drift from the command line, against the fake of the contract in the test's process: a
project's latest check with its attributes, --check (start, wait, show), the fleet, exit codes
(0 clean, 2 drifted, 1 errored), --remediate, and the drift schedule in settings."""

from __future__ import annotations

import json
from typing import Any

from tests.cli.fake_api import DEPLOY_JOB, PROJECT, FakeApi, job
from tests.cli.helpers import Run, invoke

# The fake API runs in this process: the fast lane runs these (tests/conftest.py).
IN_PROCESS = True

CHECK_JOB = "drift-1764166000002-ef56ab78c"
DRIFT = f"/api/deploy/drift/{PROJECT}"


def cli(fake: FakeApi, *argv: str) -> Run:
    return invoke(*argv, endpoint=fake.url)


def check(status: str = "drifted", **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "jobId": CHECK_JOB,
        "projectId": PROJECT,
        "status": status,
        "jobStatus": "completed",
        "trigger": "manual",
        "startedAt": "2026-12-02T07:00:00.000Z",
        "checkedAt": "2026-12-02T07:00:20.000Z",
        "message": "Drift: 1 resource(s) changed outside terraform" if status == "drifted" else "No drift",
        "counts": {"drifted": 1 if status == "drifted" else 0, "plannedChanges": 0, "managed": 2},
        "resources": [],
        "plannedChanges": [],
        "stateSerial": 4,
        "terraformVersion": "1.11.4",
    }
    if status == "drifted":
        document["resources"] = [
            {
                "address": "aws_sqs_queue.jobs",
                "type": "aws_sqs_queue",
                "name": "jobs",
                "actions": ["update"],
                "attributes": [{"attribute": "visibility_timeout_seconds", "before": 30, "after": 120}],
            }
        ]
        document["cost"] = {
            "recorded": 1.0,
            "actual": 3.5,
            "delta": 2.5,
            "priced": 1,
            "unpriced": 0,
            "lowerBound": False,
        }
    document.update(fields)
    return document


def drift(latest: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "projectId": PROJECT,
        "status": latest["status"] if latest else "never_checked",
        "baseline": "drifted" if latest and latest["status"] == "drifted" else None,
        "schedule": "rate(1 day)",
        "latest": latest,
        "history": [dict(latest, resources=[], plannedChanges=[])] if latest else [],
        "next": None,
    }


def test_a_drifted_project_names_the_attribute_and_exits_2(fake: FakeApi) -> None:
    fake.route("GET", DRIFT, (200, drift(check())))
    run = cli(fake, "drift", PROJECT)
    assert run.code == 2, run.out
    assert "drifted" in run.out and "aws_sqs_queue.jobs" in run.out
    assert "visibility_timeout_seconds" in run.out and "120" in run.out
    assert "+2.50" in run.out


def test_clean_exits_0_and_errored_exits_1_and_json_is_the_document(fake: FakeApi) -> None:
    fake.route("GET", DRIFT, (200, drift(check("clean"))))
    assert cli(fake, "drift", PROJECT).code == 0
    fake.route("GET", DRIFT, (200, drift(check("errored", reason="terraform plan failed"))))
    assert cli(fake, "drift", PROJECT).code == 1
    fake.route("GET", DRIFT, (200, drift(None)))
    never = cli(fake, "drift", PROJECT)
    assert never.code == 0 and "never checked" in never.out
    fake.route("GET", DRIFT, (200, drift(check())))
    shown = cli(fake, "--json", "drift", PROJECT)
    assert json.loads(shown.out)["latest"]["jobId"] == CHECK_JOB


def test_check_starts_one_waits_for_it_and_shows_it(fake: FakeApi) -> None:
    fake.route(
        "POST", DRIFT, (202, {"jobId": CHECK_JOB, "status": "accepted", "message": "Drift check started"})
    )
    fake.script(
        CHECK_JOB,
        job(CHECK_JOB, action="drift", phase="plan"),
        job(CHECK_JOB, "completed", "done", 100, action="drift"),
    )
    fake.route("GET", DRIFT, (200, drift(check("clean"))))
    run = cli(fake, "drift", PROJECT, "--check")
    assert run.code == 0, run.err
    assert fake.sent("POST", DRIFT) == [{}]
    assert len([r for r in fake.requests if r.path == f"/api/deploy/status/{CHECK_JOB}"]) == 2
    assert "clean" in run.out


def test_a_skipped_check_says_why(fake: FakeApi) -> None:
    message = f"Drift check skipped: job {DEPLOY_JOB} is running on the project"
    fake.route("POST", DRIFT, (202, {"jobId": CHECK_JOB, "status": "skipped", "message": message}))
    fake.route("GET", DRIFT, (200, drift(check("skipped", reason=f"job {DEPLOY_JOB} is running"))))
    run = cli(fake, "drift", PROJECT, "--check")
    assert run.code == 0 and DEPLOY_JOB in run.err


def test_the_fleet_without_a_project(fake: FakeApi) -> None:
    entry = {"projectId": PROJECT, "status": "drifted", "drifted": 1, "plannedChanges": 1}
    fake.route("GET", "/api/deploy/drift", (200, {"projects": [entry], "counts": {"drifted": 1}}))
    run = cli(fake, "drift")
    assert run.code == 0 and PROJECT in run.out and "drifted" in run.out


def test_remediate_submits_and_follows_the_job(fake: FakeApi) -> None:
    path = f"{DRIFT}/remediate"
    fake.route(
        "POST",
        path,
        (202, {"jobId": DEPLOY_JOB, "status": "accepted", "message": f"Started: remediating {CHECK_JOB}"}),
    )
    fake.script(DEPLOY_JOB, job(DEPLOY_JOB, "completed", "done", 100))
    run = cli(fake, "drift", PROJECT, "--remediate", "apply")
    assert run.code == 0, run.err
    assert fake.sent("POST", path) == [{"mode": "apply"}]
    refused = cli(fake, "drift", PROJECT, "--remediate", "now")
    assert refused.code == 2


def test_settings_sets_the_drift_schedule(fake: FakeApi) -> None:
    path = f"/api/deploy/settings/{PROJECT}"
    fake.route(
        "PUT", path, (200, {"projectId": PROJECT, "approval": "auto", "driftSchedule": "rate(6 hours)"})
    )
    run = cli(fake, "settings", PROJECT, "--drift-schedule", "rate(6 hours)")
    assert run.code == 0 and "drift checked rate(6 hours)" in run.out
    assert fake.sent("PUT", path) == [{"driftSchedule": "rate(6 hours)"}]
