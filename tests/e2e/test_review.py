"""Plan, review, apply through make local's HTTP API, with real terraform: speculative plans,
saved-plan applies, the approval gate (approve, discard, expiry) and the per-project queue; the
workflow's path is read back from the execution history."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from core.records import workspace_prefix
from core.toolchain import Toolchain
from localmode.emulator import STATE_MACHINE_NAME, ServiceResources
from tests.support.local_server import LocalServer

pytestmark = pytest.mark.terraform

# The module's server holds projects with waiting jobs for as long as a test needs; the expiry
# test has a server of its own whose approvals expire quickly.
APPROVAL_TIMEOUT_SECONDS = 3600
SHORT_APPROVAL_TIMEOUT_SECONDS = 15
DB_PASSWORD = "Review-Db-Passw0rd-41"


def config(*, instance_class: str = "db.t3.micro", marker: str = "1", bucket: bool = True) -> str:
    """A priced database, a bucket and a marker whose trigger forces a replacement."""
    parts = [
        f'variable "db_password" {{\n  type = string\n  sensitive = true\n  default = "{DB_PASSWORD}"\n}}',
        'provider "aws" {\n  region = "us-east-1"\n}',
        'resource "aws_db_instance" "db" {\n  identifier = "review-db"\n  engine = "postgres"\n'
        f'  instance_class = "{instance_class}"\n  allocated_storage = 20\n  username = "app"\n'
        "  password = var.db_password\n  skip_final_snapshot = true\n}",
        f'resource "null_resource" "marker" {{\n  triggers = {{ v = "{marker}" }}\n}}',
        'output "marker" {\n  value = null_resource.marker.id\n}',
    ]
    if bucket:
        parts.append('resource "aws_s3_bucket" "assets" {\n  bucket = "review-assets"\n}')
    return "\n\n".join(parts) + "\n"


def marker_only(value: str) -> str:
    return f'resource "null_resource" "marker" {{\n  triggers = {{ v = "{value}" }}\n}}\n'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Iterator[LocalServer]:
    data_dir: Path = tmp_path_factory.mktemp("review") / "data"
    running = LocalServer(
        data_dir,
        extra_env={"APPROVAL_TIMEOUT_SECONDS": str(APPROVAL_TIMEOUT_SECONDS), "QUEUE_POLL_SECONDS": "1"},
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture
def expiring_server(tmp_path: Path, toolchain: Toolchain) -> Iterator[LocalServer]:
    running = LocalServer(
        tmp_path / "data", extra_env={"APPROVAL_TIMEOUT_SECONDS": str(SHORT_APPROVAL_TIMEOUT_SECONDS)}
    )
    running.start()
    yield running
    running.stop()


def accepted(server: LocalServer, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    reply = server.post(path, body if body is not None else {})
    assert reply.status == 202, (path, reply.status, reply.body)
    return dict(reply.body)


def completed(server: LocalServer, job_id: str) -> dict[str, Any]:
    status, _ = server.wait_job(job_id)
    assert status["status"] == "completed", status
    return status


def wait_for(server: LocalServer, job_id: str, phase: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = dict(server.get(f"/api/deploy/status/{job_id}").body)
        if status["phase"] == phase:
            return status
        assert status["status"] not in ("completed", "failed"), status
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} never reached {phase}")


def project(server: LocalServer, project_id: str) -> dict[str, Any]:
    reply = server.get(f"/api/deploy/infrastructure/{project_id}")
    assert reply.status == 200, reply.body
    return dict(reply.body)


def states_visited(server: LocalServer, job_id: str) -> list[str]:
    """The workflow's states for a job, in the order its execution entered them."""
    client = boto3.client(
        "stepfunctions",
        endpoint_url=server.emulator_url(),
        region_name=ServiceResources().region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    machines = client.list_state_machines()["stateMachines"]
    [arn] = [m["stateMachineArn"] for m in machines if m["name"] == STATE_MACHINE_NAME]
    execution = arn.replace(":stateMachine:", ":execution:") + f":{job_id}"
    events = client.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def deployed(server: LocalServer, project_id: str, code: str, **options: Any) -> str:
    job = accepted(server, "/api/deploy", {"projectId": project_id, "iacCode": code, **options})
    completed(server, job["jobId"])
    return str(job["jobId"])


# --- speculative plans and saved-plan applies ---------------------------------------------------


def test_a_plan_shows_creates_replaces_destroys_and_the_cost_and_leaves_the_project_alone(
    server: LocalServer,
) -> None:
    # Given a deployed project
    deploy_job = deployed(server, "plan-p", config())
    before = project(server, "plan-p")

    # When a plan of new code runs: a bigger database (update), a new marker (replace), no bucket
    job = accepted(
        server,
        "/api/deploy/plan",
        {"projectId": "plan-p", "iacCode": config(instance_class="db.t3.small", marker="2", bucket=False)},
    )
    assert job["jobId"].startswith("plan-") and job["status"] == "accepted"
    locked_while_planning = []
    while (status := dict(server.get(f"/api/deploy/status/{job['jobId']}").body))["status"] not in (
        "completed",
        "failed",
    ):
        locked_while_planning.append(project(server, "plan-p")["activeJobId"])
        time.sleep(0.2)
    assert status["status"] == "completed", status

    # Then the project never changed and no lock was ever taken
    assert set(locked_while_planning) <= {None}
    assert project(server, "plan-p") == before and before["deploymentJobId"] == deploy_job

    # And the plan lists every change exactly, with the cost of exactly this plan
    plan = dict(server.get(f"/api/deploy/plan/{job['jobId']}").body)
    assert plan["summary"] == {"add": 1, "change": 1, "destroy": 2, "replace": 1, "outputs": 1} | {
        k: v
        for k, v in plan["summary"].items()
        if k not in ("add", "change", "destroy", "replace", "outputs")
    }
    actions = {change["address"]: change["action"] for change in plan["resourceChanges"]}
    assert actions == {
        "aws_db_instance.db": "update",
        "null_resource.marker": "replace",
        "aws_s3_bucket.assets": "delete",
    }
    db = next(c for c in plan["resourceChanges"] if c["address"] == "aws_db_instance.db")
    [size] = [a for a in db["attributes"] if a["path"] == "instance_class"]
    assert (size["before"], size["after"]) == ("db.t3.micro", "db.t3.small")
    cost = plan["cost"]
    assert cost["prior"] > 0 and cost["proposed"] > cost["prior"]
    assert cost["delta"] == pytest.approx(cost["proposed"] - cost["prior"], abs=0.01)
    assert status["plan"]["cost"]["delta"] == cost["delta"]
    assert "`null_resource.marker`" in plan["markdown"] and "db.t3.small" in plan["markdown"]
    assert plan["basis"]["stateSerial"] is not None and plan["basis"]["terraformVersion"]
    # A sensitive value is nowhere in what a reviewer reads
    assert DB_PASSWORD not in json.dumps(plan) and DB_PASSWORD not in json.dumps(status)


def test_apply_of_a_saved_plan_applies_exactly_that_plan(server: LocalServer) -> None:
    # Given a plan of one marker
    plan_job = accepted(server, "/api/deploy/plan", {"projectId": "saved-p", "iacCode": marker_only("a")})[
        "jobId"
    ]
    completed(server, plan_job)
    # ... and, after the plan, another resource slipped into the plan's stored code
    s3 = boto3.client(
        "s3",
        endpoint_url=server.emulator_url(),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    extra = 'resource "null_resource" "sneaked_in" {}\n'
    s3.put_object(
        Bucket=ServiceResources().workspaces_bucket,
        Key=workspace_prefix("saved-p", plan_job) + "extra.tf",
        Body=extra.encode(),
    )

    # When the saved plan is applied
    apply_job = accepted(server, f"/api/deploy/apply/{plan_job}")
    assert apply_job["jobId"].startswith("deploy-")
    completed(server, apply_job["jobId"])

    # Then exactly the planned resource exists: the plan file was applied, not the code re-planned
    state = dict(server.get("/api/deploy/state/saved-p").body)["state"]
    addresses = sorted(f"{r['type']}.{r['name']}" for r in state["resources"])
    assert addresses == ["null_resource.marker"]
    assert project(server, "saved-p")["deploymentJobId"] == apply_job["jobId"]
    assert "Apply the plan in CodeBuild" in states_visited(server, apply_job["jobId"])
    assert "Plan in CodeBuild" not in states_visited(server, apply_job["jobId"])

    # And the same plan cannot be applied twice: the state it was made against is gone
    again = server.post(f"/api/deploy/apply/{plan_job}", {})
    assert again.status == 409 and again.body["error"] == "stale_plan"


def test_apply_after_another_deploy_moved_the_state_is_refused_as_stale(server: LocalServer) -> None:
    deployed(server, "stale-p", marker_only("1"))
    plan_job = accepted(server, "/api/deploy/plan", {"projectId": "stale-p", "iacCode": marker_only("2")})[
        "jobId"
    ]
    completed(server, plan_job)
    # Another deploy lands between the plan and its apply
    deployed(server, "stale-p", marker_only("3"))

    refused = server.post(f"/api/deploy/apply/{plan_job}", {})

    assert refused.status == 409, refused.body
    assert refused.body["error"] == "stale_plan"
    reasons = " ".join(refused.body["reasons"])
    assert "state moved since the plan" in reasons and "code changed" in reasons
    # Nothing was started: the project still holds the other deploy's marker
    assert project(server, "stale-p")["activeJobId"] is None


def test_a_plan_that_is_not_finished_or_not_a_plan_cannot_be_applied(server: LocalServer) -> None:
    deploy_job = deployed(server, "notplan-p", marker_only("1"))
    refused = server.post(f"/api/deploy/apply/{deploy_job}", {})
    assert refused.status == 409 and refused.body["error"] == "plan_not_ready"
    unknown = server.post("/api/deploy/apply/plan-1700000000000-abcdefghi", {})
    assert unknown.status == 404


# --- the approval gate --------------------------------------------------------------------------


def test_a_gated_deploy_waits_with_its_plan_and_approve_applies_it(server: LocalServer) -> None:
    deployed(server, "gate-p", marker_only("1"))
    job_id = accepted(
        server, "/api/deploy", {"projectId": "gate-p", "iacCode": marker_only("2"), "approval": "required"}
    )["jobId"]

    waiting = wait_for(server, job_id, "awaiting_approval")
    assert waiting["status"] == "processing"
    assert waiting["actions"] == {
        "canApprove": True,
        "canDiscard": True,
        "canCancel": True,
        "canOverride": False,
    }
    assert waiting["plan"]["summary"]["replace"] == 1 and waiting["approval"]["state"] == "waiting"
    assert "approvalToken" not in json.dumps(waiting)
    assert project(server, "gate-p")["activeJobId"] == job_id
    time.sleep(2)  # it waits: nothing is applied meanwhile
    assert dict(server.get(f"/api/deploy/status/{job_id}").body)["phase"] == "awaiting_approval"

    approved = server.request(
        "POST", f"/api/deploy/approve/{job_id}", {"comment": "ship it"}, headers={"X-Local-User": "reviewer"}
    )
    assert approved.status == 202, approved.body
    status = completed(server, job_id)

    assert status["approval"]["state"] == "approved"
    assert status["approval"]["comment"] == "ship it" and status["approval"]["decidedBy"].endswith(
        "/reviewer"
    )
    assert status["approval"]["decidedAt"] >= status["approval"]["requestedAt"]
    history = dict(server.get("/api/deploy/jobs?projectId=gate-p").body)["jobs"]
    assert next(j for j in history if j["jobId"] == job_id)["approval"]["comment"] == "ship it"
    assert project(server, "gate-p")["deploymentStatus"] == "deployed"
    visited = states_visited(server, job_id)
    assert (
        visited.index("Plan in CodeBuild")
        < visited.index("Wait for approval")
        < visited.index("Apply the plan in CodeBuild")
    )
    # Approving again: the job no longer waits
    again = server.post(f"/api/deploy/approve/{job_id}", {})
    assert again.status == 409 and again.body["error"] == "not_awaiting_approval"


def test_discard_ends_the_job_and_gives_the_project_its_previous_status_back(server: LocalServer) -> None:
    first = deployed(server, "discard-p", marker_only("1"))
    job_id = accepted(
        server, "/api/deploy", {"projectId": "discard-p", "iacCode": marker_only("2"), "approval": "required"}
    )["jobId"]
    wait_for(server, job_id, "awaiting_approval")
    assert project(server, "discard-p")["deploymentStatus"] == "pending"

    discarded = server.post(f"/api/deploy/discard/{job_id}", {"comment": "wrong branch"})

    assert discarded.status == 200, discarded.body
    status, _ = server.wait_job(job_id)
    assert (status["status"], status["phase"]) == ("failed", "discarded")
    assert status["approval"]["state"] == "discarded" and status["approval"]["comment"] == "wrong branch"
    after = project(server, "discard-p")
    assert (after["deploymentStatus"], after["deploymentJobId"], after["activeJobId"]) == (
        "deployed",
        first,
        None,
    )
    assert server.post(f"/api/deploy/approve/{job_id}", {}).status == 409
    deadline = time.monotonic() + 30
    while "Plan discarded" not in (visited := states_visited(server, job_id)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "Record the discard" in visited and "Apply the plan in CodeBuild" not in visited


def test_an_approval_that_never_comes_expires_and_discards_itself(expiring_server: LocalServer) -> None:
    server = expiring_server
    first = deployed(server, "expiry-p", marker_only("1"))
    job_id = accepted(
        server, "/api/deploy", {"projectId": "expiry-p", "iacCode": marker_only("2"), "approval": "required"}
    )["jobId"]
    wait_for(server, job_id, "awaiting_approval")

    status, _ = server.wait_job(job_id, timeout=SHORT_APPROVAL_TIMEOUT_SECONDS + 120)

    assert (status["status"], status["phase"]) == ("failed", "discarded")
    assert status["approval"]["state"] == "expired" and "expired" in status["error"]
    assert project(server, "expiry-p")["deploymentJobId"] == first
    visited = states_visited(server, job_id)
    assert "Record the expiry" in visited and "Apply the plan in CodeBuild" not in visited


def test_a_gated_plan_with_no_changes_goes_on_without_waiting(server: LocalServer) -> None:
    deployed(server, "same-p", marker_only("1"))
    job_id = accepted(
        server, "/api/deploy", {"projectId": "same-p", "iacCode": marker_only("1"), "approval": "required"}
    )["jobId"]
    status = completed(server, job_id)
    assert status["approval"]["state"] == "not_needed"
    assert "Wait for approval" not in states_visited(server, job_id)


# --- the queue ----------------------------------------------------------------------------------


def test_ten_deploys_on_a_busy_project_are_all_accepted_and_run_one_at_a_time_in_order(
    server: LocalServer,
) -> None:
    # Given a project held by a job waiting for approval
    deployed(server, "queue-p", marker_only("0"))
    holder = accepted(
        server, "/api/deploy", {"projectId": "queue-p", "iacCode": marker_only("h"), "approval": "required"}
    )["jobId"]
    wait_for(server, holder, "awaiting_approval")

    # When ten deploys arrive, and one of them is cancelled while it waits
    queued = [
        accepted(server, "/api/deploy", {"projectId": "queue-p", "iacCode": marker_only(str(i))})
        for i in range(1, 11)
    ]
    assert [job["queuePosition"] for job in queued] == list(range(1, 11))
    assert queued[0]["waitingFor"] == holder and queued[5]["waitingFor"] == queued[4]["jobId"]
    ids = [job["jobId"] for job in queued]
    status = dict(server.get(f"/api/deploy/status/{ids[9]}").body)
    assert (status["status"], status["queuePosition"]) == ("pending", 10)
    cancelled = server.post(f"/api/deploy/cancel/{ids[4]}")
    assert cancelled.status == 202 and cancelled.body["status"] == "failed"
    assert dict(server.get(f"/api/deploy/status/{ids[9]}").body)["queuePosition"] == 9
    assert server.post(f"/api/deploy/discard/{holder}", {}).status == 200

    # Then they run strictly one at a time, in the order they arrived
    running_order: list[str] = []
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        statuses = {job_id: dict(server.get(f"/api/deploy/status/{job_id}").body) for job_id in ids}
        processing = [job_id for job_id, s in statuses.items() if s["status"] == "processing"]
        assert len(processing) <= 1, processing
        if processing and (not running_order or running_order[-1] != processing[0]):
            running_order.append(processing[0])
        if all(s["status"] in ("completed", "failed") for s in statuses.values()):
            break
        time.sleep(0.2)
    expected = [job_id for job_id in ids if job_id != ids[4]]
    assert [statuses[job_id]["status"] for job_id in expected] == ["completed"] * 9, [
        statuses[job_id].get("error") for job_id in expected
    ]
    assert statuses[ids[4]]["status"] == "failed"
    # Each job ran after the one before it ended (a fast job may run between two polls)
    assert running_order == [job_id for job_id in expected if job_id in running_order]
    ends = [statuses[job_id]["endTime"] for job_id in expected]
    assert ends == sorted(ends)
    outputs = project(server, "queue-p")
    assert outputs["deploymentJobId"] == ids[9] and outputs["activeJobId"] is None


def test_a_superseding_deploy_replaces_the_older_queued_ones(server: LocalServer) -> None:
    deployed(server, "super-p", marker_only("0"))
    holder = accepted(
        server, "/api/deploy", {"projectId": "super-p", "iacCode": marker_only("h"), "approval": "required"}
    )["jobId"]
    wait_for(server, holder, "awaiting_approval")
    older = [
        accepted(server, "/api/deploy", {"projectId": "super-p", "iacCode": marker_only(str(i))})["jobId"]
        for i in (1, 2)
    ]

    newest = accepted(
        server, "/api/deploy", {"projectId": "super-p", "iacCode": marker_only("3"), "supersede": True}
    )

    assert newest["queuePosition"] == 1
    for job_id in older:
        status = dict(server.get(f"/api/deploy/status/{job_id}").body)
        assert status["status"] == "failed" and status["error"] == f"superseded by {newest['jobId']}"
    assert server.post(f"/api/deploy/discard/{holder}", {}).status == 200
    completed(server, newest["jobId"])
    assert project(server, "super-p")["deploymentJobId"] == newest["jobId"]


def test_when_busy_reject_keeps_the_409(server: LocalServer) -> None:
    deployed(server, "reject-p", marker_only("0"))
    holder = accepted(
        server, "/api/deploy", {"projectId": "reject-p", "iacCode": marker_only("h"), "approval": "required"}
    )["jobId"]
    wait_for(server, holder, "awaiting_approval")

    refused = server.post(
        "/api/deploy", {"projectId": "reject-p", "iacCode": marker_only("1"), "whenBusy": "reject"}
    )

    assert refused.status == 409 and refused.body["activeJobId"] == holder
    cancelled = server.post(f"/api/deploy/cancel/{holder}")
    assert cancelled.status == 202 and cancelled.body["status"] == "failed"
    assert project(server, "reject-p")["activeJobId"] is None
    assert project(server, "reject-p")["deploymentStatus"] == "deployed"


def test_a_project_setting_makes_approval_the_default_and_a_request_can_opt_out(server: LocalServer) -> None:
    deployed(server, "setting-p", marker_only("1"))
    assert dict(server.get("/api/deploy/settings/setting-p").body)["approval"] == "auto"

    changed = server.request("PUT", "/api/deploy/settings/setting-p", {"approval": "required"})
    assert changed.status == 200 and changed.body["approval"] == "required" and changed.body["updatedBy"]
    assert server.request("PUT", "/api/deploy/settings/setting-p", {"approval": "always"}).status in (
        400,
        422,
    )

    # A deploy that does not say waits for approval; one that says "auto" goes straight through
    gated = accepted(server, "/api/deploy", {"projectId": "setting-p", "iacCode": marker_only("2")})["jobId"]
    assert wait_for(server, gated, "awaiting_approval")["approval"]["state"] == "waiting"
    assert server.post(f"/api/deploy/discard/{gated}", {}).status == 200
    direct = accepted(
        server, "/api/deploy", {"projectId": "setting-p", "iacCode": marker_only("3"), "approval": "auto"}
    )["jobId"]
    assert completed(server, direct)["approval"] is None


def test_a_gated_destroy_shows_what_it_deletes_and_deletes_it_only_when_approved(server: LocalServer) -> None:
    deployed(server, "gated-destroy-p", marker_only("1"))
    job_id = accepted(
        server, "/api/deploy/destroy", {"projectId": "gated-destroy-p", "approval": "required"}
    )["jobId"]
    assert job_id.startswith("destroy-")

    waiting = wait_for(server, job_id, "awaiting_approval")
    assert waiting["plan"]["summary"]["destroy"] == 1 and waiting["plan"]["summary"]["add"] == 0
    plan = dict(server.get(f"/api/deploy/plan/{job_id}").body)
    assert [(c["address"], c["action"]) for c in plan["resourceChanges"]] == [
        ("null_resource.marker", "delete")
    ]
    # Nothing is gone before the approval
    assert len(dict(server.get("/api/deploy/state/gated-destroy-p").body)["state"]["resources"]) == 1

    assert server.post(f"/api/deploy/approve/{job_id}", {"comment": "decommission"}).status == 202
    completed(server, job_id)
    assert project(server, "gated-destroy-p")["deploymentStatus"] == "destroyed"


def test_a_restart_closes_waiting_and_queued_jobs_and_gives_the_project_back(server: LocalServer) -> None:
    # Runs last: it restarts the module's server.
    first = deployed(server, "restart-p", marker_only("1"))
    holder = accepted(
        server, "/api/deploy", {"projectId": "restart-p", "iacCode": marker_only("2"), "approval": "required"}
    )["jobId"]
    wait_for(server, holder, "awaiting_approval")
    queued = accepted(server, "/api/deploy", {"projectId": "restart-p", "iacCode": marker_only("3")})["jobId"]

    # When the server is killed and started again on the same data (after its saver, which runs
    # 0.2 s after a write, has kept the last one: a SIGKILL loses what is not saved yet)
    time.sleep(2)
    server.stop(signal.SIGKILL, timeout=30)
    server.start()

    # Then both jobs are closed, the project is as the last applied deploy left it, and free
    for job_id in (holder, queued):
        reply = server.get(f"/api/deploy/status/{job_id}")
        assert reply.status == 200 and reply.body["status"] == "failed", (job_id, reply.body)
    after = project(server, "restart-p")
    assert (after["deploymentStatus"], after["deploymentJobId"], after["activeJobId"]) == (
        "deployed",
        first,
        None,
    )
    # and the next deploy runs at once, not behind the dead queue
    assert "queuePosition" not in accepted(
        server, "/api/deploy", {"projectId": "restart-p", "iacCode": marker_only("4")}
    )
