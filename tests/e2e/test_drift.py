"""Drift checks through make local's HTTP API, with real terraform: a bucket tagged and a queue
changed behind the service's back (in the sandbox emulator) are found, named down to the
attribute, and remediated; a data source reading something that changed is not drift; a check
while a job runs is skipped and the job is unharmed; a stale check cannot be remediated; the
schedule fires.

Each test deploys a project of its own, so tests stay apart on one server."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import boto3
import pytest

from core.toolchain import Toolchain
from tests.e2e.test_review import accepted, completed, states_visited
from tests.support.local_server import LocalServer

pytestmark = pytest.mark.terraform

# A schedule's minute lasts a second on this server, so rate(1 minute) fires within seconds.
MINUTE_SECONDS = "1"


def app(project_id: str, *, visibility: int = 30, external_queue: bool = False) -> str:
    data = (
        f'data "aws_sqs_queue" "external" {{\n  name = "{project_id}-external"\n}}\n'
        'output "external_url" {\n  value = data.aws_sqs_queue.external.url\n}\n'
        if external_queue
        else ""
    )
    return (
        'provider "aws" {\n  region = "us-east-1"\n}\n'
        f'resource "aws_s3_bucket" "assets" {{\n  bucket = "{project_id.lower()}-assets"\n}}\n'
        f'resource "aws_sqs_queue" "jobs" {{\n  name = "{project_id}-jobs"\n'
        f"  visibility_timeout_seconds = {visibility}\n}}\n" + data
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Iterator[LocalServer]:
    data_dir: Path = tmp_path_factory.mktemp("drift") / "data"
    running = LocalServer(
        data_dir, extra_env={"QUEUE_POLL_SECONDS": "1", "LOCAL_SCHEDULER_MINUTE_SECONDS": MINUTE_SECONDS}
    )
    running.start()
    yield running
    running.stop()


def sandbox(server: LocalServer, project_id: str, service: Literal["s3", "sqs"]) -> Any:
    """A client in the project's own sandbox account: the hand that changes things behind the
    service's back."""
    request = urllib.request.Request(
        server.sandbox_url() + "/_sandbox/accounts",
        data=json.dumps({"projectId": project_id}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        account = json.loads(reply.read())
    return boto3.client(
        service,
        endpoint_url=server.sandbox_url(),
        region_name="us-east-1",
        aws_access_key_id=account["accessKeyId"],
        aws_secret_access_key=account["secretAccessKey"],
    )


def deploy(server: LocalServer, project_id: str, code: str) -> str:
    job = accepted(server, "/api/deploy", {"projectId": project_id, "iacCode": code})
    completed(server, str(job["jobId"]))
    return str(job["jobId"])


def check(server: LocalServer, project_id: str) -> dict[str, Any]:
    """Start a drift check, wait for it, and return the project's drift answer."""
    started = accepted(server, f"/api/deploy/drift/{project_id}")
    assert started["status"] == "accepted", started
    status, _ = server.wait_job(str(started["jobId"]))
    reply = server.get(f"/api/deploy/drift/{project_id}")
    assert reply.status == 200, reply.body
    drift = dict(reply.body)
    assert drift["latest"]["jobId"] == started["jobId"], (drift, status)
    return drift


def attributes(resource: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {a["attribute"]: (a["before"], a["after"]) for a in resource["attributes"]}


def test_changes_made_by_hand_are_drift_named_to_the_attribute_and_remediation_repairs_them(
    server: LocalServer,
) -> None:
    project_id = "drift-hand"
    deploy(server, project_id, app(project_id))
    clean = check(server, project_id)
    assert clean["status"] == "clean", json.dumps(clean["latest"])
    assert clean["latest"]["counts"]["drifted"] == 0
    assert clean["latest"]["stateSerial"] is not None and clean["latest"]["terraformVersion"]

    sandbox(server, project_id, "s3").put_bucket_tagging(
        Bucket=f"{project_id}-assets", Tagging={"TagSet": [{"Key": "owner", "Value": "mallory"}]}
    )
    sqs = sandbox(server, project_id, "sqs")
    queue_url = sqs.get_queue_url(QueueName=f"{project_id}-jobs")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "120"})

    drifted = check(server, project_id)
    latest = drifted["latest"]
    assert drifted["status"] == "drifted" and drifted["baseline"] == "drifted", drifted
    by_address = {r["address"]: r for r in latest["resources"]}
    assert set(by_address) == {"aws_s3_bucket.assets", "aws_sqs_queue.jobs"}, latest["resources"]
    assert attributes(by_address["aws_s3_bucket.assets"])["tags.owner"] == (None, "mallory")
    assert attributes(by_address["aws_sqs_queue.jobs"])["visibility_timeout_seconds"] == (30, 120)
    # The deployed code would put both back.
    assert {r["address"] for r in latest["plannedChanges"]} == set(by_address)
    assert latest["counts"] == {"drifted": 2, "plannedChanges": 2, "managed": 2}
    assert "aws_s3_bucket.assets" in latest["message"]
    visited = states_visited(server, latest["jobId"])
    assert "Check for drift in CodeBuild" in visited and "Record the drift" in visited, visited
    assert "Take the project's turn" not in visited

    fleet = dict(server.get("/api/deploy/drift").body)
    mine = next(p for p in fleet["projects"] if p["projectId"] == project_id)
    assert mine["status"] == "drifted" and mine["drifted"] == 2, mine
    assert fleet["counts"]["drifted"] >= 1

    remediation = accepted(server, f"/api/deploy/drift/{project_id}/remediate", {"mode": "apply"})
    assert latest["jobId"] in remediation["message"]
    completed(server, str(remediation["jobId"]))
    repaired = check(server, project_id)
    assert repaired["status"] == "clean", repaired["latest"]
    assert sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])[
        "Attributes"
    ] == {"VisibilityTimeout": "30"}
    history = repaired["history"]
    assert [h["status"] for h in history[:3]] == ["clean", "drifted", "clean"], history
    assert all(h["resources"] == [] for h in history)  # the history is a summary; latest has details

    nothing = server.post(f"/api/deploy/drift/{project_id}/remediate", {"mode": "apply"})
    assert nothing.status == 409 and nothing.body["error"] == "not_drifted", nothing.body


def test_a_data_source_reading_something_that_changed_is_not_drift(server: LocalServer) -> None:
    project_id = "drift-data"
    sqs = sandbox(server, project_id, "sqs")
    external = sqs.create_queue(QueueName=f"{project_id}-external")["QueueUrl"]
    deploy(server, project_id, app(project_id, external_queue=True))
    sqs.set_queue_attributes(QueueUrl=external, Attributes={"VisibilityTimeout": "300"})
    sqs.tag_queue(QueueUrl=external, Tags={"changed": "yes"})
    drift = check(server, project_id)
    assert drift["status"] == "clean", drift["latest"]
    assert drift["latest"]["resources"] == [] and drift["latest"]["plannedChanges"] == []


def test_a_check_while_a_job_runs_is_skipped_and_the_job_is_unharmed(server: LocalServer) -> None:
    project_id = "drift-busy"
    deploy(server, project_id, app(project_id))
    running = accepted(
        server, "/api/deploy", {"projectId": project_id, "iacCode": app(project_id, visibility=45)}
    )
    skipped = accepted(server, f"/api/deploy/drift/{project_id}")
    assert skipped["status"] == "skipped" and running["jobId"] in skipped["message"], skipped
    completed(server, str(running["jobId"]))
    drift = dict(server.get(f"/api/deploy/drift/{project_id}").body)
    assert drift["latest"]["status"] == "skipped" and drift["latest"]["jobId"] == skipped["jobId"]
    assert drift["baseline"] is None  # no check has concluded yet
    assert check(server, project_id)["status"] == "clean"


def test_a_check_the_state_has_moved_past_cannot_be_remediated(server: LocalServer) -> None:
    project_id = "drift-stale"
    deploy(server, project_id, app(project_id))
    sqs = sandbox(server, project_id, "sqs")
    queue_url = sqs.get_queue_url(QueueName=f"{project_id}-jobs")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "99"})
    assert check(server, project_id)["status"] == "drifted"
    deploy(server, project_id, app(project_id, visibility=60))
    refused = server.post(f"/api/deploy/drift/{project_id}/remediate", {"mode": "plan"})
    assert refused.status == 409 and refused.body["error"] == "stale_drift_check", refused.body
    bad = server.post(f"/api/deploy/drift/{project_id}/remediate", {"mode": "now"})
    assert bad.status == 400, bad.body
    never = server.post("/api/deploy/drift/drift-never-deployed")
    assert never.status in (404, 409), never.body


def test_the_schedule_fires_and_can_be_turned_off(server: LocalServer) -> None:
    project_id = "drift-scheduled"
    deploy(server, project_id, app(project_id))
    bad = server.request("PUT", f"/api/deploy/settings/{project_id}", {"driftSchedule": "cron(0 * * * ? *)"})
    assert bad.status == 400, bad.body
    settings = server.request(
        "PUT", f"/api/deploy/settings/{project_id}", {"driftSchedule": "rate(1 minute)"}
    )
    assert settings.status == 200 and settings.body["driftSchedule"] == "rate(1 minute)", settings.body
    deadline = time.monotonic() + 120
    scheduled: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not scheduled:
        history = dict(server.get(f"/api/deploy/drift/{project_id}").body)["history"]
        scheduled = [h for h in history if h["trigger"] == "schedule" and h["status"] == "clean"]
        time.sleep(1)
    assert scheduled, history
    off = server.request("PUT", f"/api/deploy/settings/{project_id}", {"driftSchedule": "off"})
    assert off.status == 200 and off.body["driftSchedule"] == "off"
    time.sleep(4)  # let a check that had just started finish
    count = len(dict(server.get(f"/api/deploy/drift/{project_id}").body)["history"])
    time.sleep(5)
    assert len(dict(server.get(f"/api/deploy/drift/{project_id}").body)["history"]) == count
