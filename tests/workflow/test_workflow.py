"""Every path through statemachine/provisioning.asl.json, run by moto with the real runner."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from localmode.services import LocalServices
from tests.support.api import Api, clear_environment_caches

pytestmark = pytest.mark.terraform

SUCCESS_PATH = [
    "Is the action one we run?",
    "Does the job wait for its turn?",
    "Take a build slot",
    "Is there a build slot?",
    "Mark the job as processing",
    "Which way does the job run?",
    "Run terraform in CodeBuild",
    "Free the build slot",
    "Record the result",
    "Release the project lock",
    "Job finished",
]
FAILURE_TAIL = [
    "Record the failure",
    "Mark the deployment failed",
    "Release the project lock after the failure",
    "Free the build slot after the failure",
    "Job failed",
]
SLOW = """
resource "aws_s3_bucket" "first" {
  bucket = "{project}-first"
}

resource "null_resource" "slow" {
  depends_on = [aws_s3_bucket.first]
  provisioner "local-exec" {
    command = "sleep {seconds}"
  }
}
"""


def execution_arn(api: Api, job_id: str) -> str:
    return api.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{job_id}"


def wait_execution(api: Api, job_id: str, expected: str, timeout: float = 300) -> None:
    """Wait for the execution to end; a different ending fails with the history's failures."""
    client = api.emulated.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = str(client.describe_execution(executionArn=execution_arn(api, job_id))["status"])
        if status != "RUNNING":
            failures = [e for e in history(api, job_id) if "Failed" in e["type"] or "TimedOut" in e["type"]]
            assert status == expected, json.dumps(failures, default=str, indent=1)[:4000]
            return
        time.sleep(0.3)
    raise AssertionError(f"execution {job_id} still running")


def history(api: Api, job_id: str) -> list[dict[str, Any]]:
    client = api.emulated.client("stepfunctions")
    return list(
        client.get_execution_history(executionArn=execution_arn(api, job_id), maxResults=1000)["events"]
    )


def exited_states(events: list[dict[str, Any]]) -> list[str]:
    names = []
    for event in events:
        if event["type"].endswith("StateExited"):
            names.append(event["stateExitedEventDetails"]["name"])
        elif event["type"] in ("FailStateEntered", "SucceedStateEntered"):
            names.append(event["stateEnteredEventDetails"]["name"])
    return list(dict.fromkeys(names))


# A job's phases must account for its wall time; what none covers (``other``) stays this small.
TIMINGS_TOLERANCE = 0.05


def assert_timings_add_up(api: Api, job_id: str, *phases: str) -> dict[str, int]:
    """Every path records where its time went: the named phases took time, the phases add up to
    the job's wall time, and the log ends with the runner's timings line."""
    status = api.get(f"/api/deploy/status/{job_id}").json()
    timings = status["timings"]
    assert timings is not None, status
    parts = {k: v for k, v in timings.items() if k not in ("total", "startUpDetail")}
    assert sum(parts.values()) == timings["total"]
    assert timings["other"] <= TIMINGS_TOLERANCE * timings["total"], timings
    for phase in phases:
        assert timings[phase] > 0, (phase, timings)
    history = api.get("/api/deploy/jobs", query=f"projectId={status['projectId']}").json()["jobs"]
    assert next(j for j in history if j["jobId"] == job_id)["timings"] == timings
    log = api.get(f"/api/deploy/logs/{job_id}").json()["content"]
    assert "timings: " in log.rstrip().splitlines()[-1], log[-500:]
    return dict(timings)


def deploy(api: Api, project: str, code: str, **extra: object) -> str:
    response = api.post("/api/deploy", {"projectId": project, "iacCode": code, **extra})
    assert response.status == 202, response.body
    return str(response.json()["jobId"])


def test_a_deploy_goes_through_every_state_in_order(api: Api, services: LocalServices) -> None:
    code = 'resource "aws_s3_bucket" "b" {\n  bucket = "wf-ok-bucket"\n}\noutput "name" {\n  value = aws_s3_bucket.b.bucket\n}\n'
    job_id = deploy(api, "wf-ok", code)
    seen_progress = []
    while (status := api.get(f"/api/deploy/status/{job_id}").json())["status"] in ("pending", "processing"):
        seen_progress.append((status["phase"], status["progress"]))
        time.sleep(0.2)

    wait_execution(api, job_id, "SUCCEEDED")
    assert exited_states(history(api, job_id)) == SUCCESS_PATH
    assert status["status"] == "completed" and status["progress"] == 100
    assert status["result"]["outputs"] == {"name": "wf-ok-bucket"}
    progress = [p for _, p in seen_progress]
    assert progress == sorted(progress), "progress never goes back"
    assert api.get("/api/deploy/infrastructure/wf-ok").json()["deploymentStatus"] == "deployed"
    assert api.emulated.project("wf-ok").get("activeJobId") is None
    timings = assert_timings_add_up(api, job_id, "queued", "startUp", "workspace", "init", "plan", "apply")
    assert timings["validate"] == 0, "a plan that succeeds is not validated again"


def test_a_failing_run_ends_on_the_failure_path(api: Api, services: LocalServices) -> None:
    code = 'resource "aws_s3_bucket" "bad" {\n  bucket = "Not_A_Valid_Bucket!"\n}\n'
    job_id = deploy(api, "wf-fail", code)

    wait_execution(api, job_id, "FAILED")
    states = exited_states(history(api, job_id))
    assert states[:7] == SUCCESS_PATH[:7]
    assert states[7:] == FAILURE_TAIL
    job = api.get(f"/api/deploy/status/{job_id}").json()
    assert job["status"] == "failed"
    # the runner's precise message is kept, not replaced by the workflow's generic one
    assert job["error"].startswith("terraform ")
    assert api.emulated.project("wf-fail").get("activeJobId") is None
    assert api.get("/api/deploy/infrastructure/wf-fail").json()["deploymentStatus"] == "failed"
    failed = [e for e in history(api, job_id) if e["type"] == "TaskFailed"]
    assert json.loads(failed[0]["taskFailedEventDetails"]["cause"])["BuildStatus"] == "FAILED"
    assert_timings_add_up(api, job_id, "startUp", "init", "recording")


def test_an_invalid_configuration_is_validated_after_its_failed_plan(
    api: Api, services: LocalServices
) -> None:
    # Given code that refers to a variable it never declares
    code = 'resource "aws_s3_bucket" "b" {\n  bucket = var.nowhere\n}\n'
    # When it is deployed
    job_id = deploy(api, "wf-invalid", code)
    wait_execution(api, job_id, "FAILED")
    # Then the plan failed, validate ran after it, and its message is the job's error
    job = api.get(f"/api/deploy/status/{job_id}").json()
    assert job["error"].startswith("terraform validate failed: "), job["error"]
    assert "nowhere" in job["error"]
    validation = api.get("/api/deploy/validate/wf-invalid").json()
    assert validation["valid"] is False
    assert validation["terraformValidation"]["jobId"] == job_id
    assert "nowhere" in json.dumps(validation["errors"])
    assert_timings_add_up(api, job_id, "init", "plan", "validate")


def test_the_build_timeout_fires_and_stops_the_build(api: Api, services: LocalServices) -> None:
    # Given the workflow gives the build 8 seconds and the code needs a minute
    original = api_timeout(api, 8)
    try:
        job_id = deploy(api, "wf-timeout", SLOW.replace("{project}", "wf-timeout").replace("{seconds}", "60"))
    finally:
        api_timeout(api, original)

    wait_execution(api, job_id, "FAILED")
    events = history(api, job_id)
    assert any(e["type"] == "TaskTimedOut" for e in events)
    assert exited_states(events)[-len(FAILURE_TAIL) :] == FAILURE_TAIL
    job = api.emulated.job(job_id)
    assert job["status"] == "failed"
    assert "States.Timeout" in job["error"]
    assert api.emulated.project("wf-timeout").get("activeJobId") is None
    # and the build itself was stopped, not left running
    build_id = next(iter(services.builds.running()), None)
    assert (
        build_id is None
        or job_id not in services.builds.describe([build_id])[0]["environment"]["environmentVariables"]
    )


def api_timeout(api: Api, seconds: int) -> int:
    """Set the run timeout the deploy handler passes to the workflow; returns the previous one."""
    previous = int(os.environ.get("RUN_TIMEOUT_SECONDS", str(3 * 3600)))
    os.environ["RUN_TIMEOUT_SECONDS"] = str(seconds)
    clear_environment_caches()
    return previous


def test_a_throttled_build_start_is_retried(api: Api, services: LocalServices) -> None:
    services.builds.inject_start_faults("ThrottlingException", times=2)
    code = 'resource "aws_s3_bucket" "b" {\n  bucket = "wf-retry-bucket"\n}\n'
    job_id = deploy(api, "wf-retry", code)

    wait_execution(api, job_id, "SUCCEEDED")
    events = history(api, job_id)
    failures = [
        e
        for e in events
        if e["type"] == "TaskFailed" and e["taskFailedEventDetails"].get("resourceType") == "codebuild"
    ]
    assert [e["taskFailedEventDetails"]["error"] for e in failures] == ["CodeBuild.ThrottlingException"] * 2
    assert exited_states(events) == SUCCESS_PATH


def test_cancel_stops_the_build_and_the_runner_records_it(api: Api, services: LocalServices) -> None:
    job_id = deploy(api, "wf-cancel", SLOW.replace("{project}", "wf-cancel").replace("{seconds}", "60"))
    deadline = time.monotonic() + 120
    while "null_resource.slow: Creating" not in api.emulated.job(job_id).get("logTail", ""):
        assert time.monotonic() < deadline
        time.sleep(0.3)

    response = api.post(f"/api/deploy/cancel/{job_id}")
    assert response.status == 202 and response.json()["status"] == "processing"

    wait_execution(api, job_id, "ABORTED")
    deadline = time.monotonic() + 120
    while api.emulated.job(job_id)["status"] == "processing":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    job = api.emulated.job(job_id)
    assert job["status"] == "failed" and job["error"] == "cancelled"
    assert api.emulated.project("wf-cancel").get("activeJobId") is None
    assert not services.builds.running()
    # the bucket made before the cancel is in the state
    state = api.get("/api/deploy/state/wf-cancel").json()["state"]
    assert "aws_s3_bucket" in [r["type"] for r in state["resources"]]
    assert_timings_add_up(api, job_id, "startUp", "plan", "apply", "recording")


def test_an_unknown_action_is_refused_by_the_choice(api: Api, services: LocalServices) -> None:
    client = api.emulated.client("stepfunctions")
    client.start_execution(
        stateMachineArn=api.state_machine_arn,
        name="deploy-1700000000000-unknownact",
        input=json.dumps(
            {"jobId": "deploy-1700000000000-unknownact", "projectId": "wf-unknown", "action": "explode"}
        ),
    )
    wait_execution(api, "deploy-1700000000000-unknownact", "FAILED")
    states = exited_states(history(api, "deploy-1700000000000-unknownact"))
    assert states == ["Is the action one we run?", "Record the unknown action", *FAILURE_TAIL]
