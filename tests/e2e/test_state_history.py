"""State history and rollback through make local's HTTP API, with real terraform: every version
a deploy writes is listed with its job, a rollback writes the first version's content as a new
serial that terraform then accepts (its S3 backend checks the digest item), and a rollback is
refused for another lineage or while a job holds the project."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from core.records import state_key, state_lock_id
from core.state_versions import md5_digest
from core.toolchain import Toolchain
from localmode.emulator import ServiceResources
from tests.e2e.test_review import accepted, completed, marker_only, wait_for
from tests.support.local_server import LocalServer
from tests.support.terraform_103 import terraform_103_environment

pytestmark = pytest.mark.terraform


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Iterator[LocalServer]:
    running = LocalServer(tmp_path_factory.mktemp("history") / "data")
    running.start()
    yield running
    running.stop()


def deploy(server: LocalServer, project_id: str, code: str, **options: Any) -> str:
    job = accepted(server, "/api/deploy", {"projectId": project_id, "iacCode": code, **options})
    completed(server, job["jobId"])
    return str(job["jobId"])


def versions(server: LocalServer, project_id: str) -> list[dict[str, Any]]:
    reply = server.get(f"/api/deploy/state/{project_id}/versions?limit=100")
    assert reply.status == 200, reply.body
    return list(reply.body["versions"])


def version_state(server: LocalServer, project_id: str, serial: int) -> dict[str, Any]:
    reply = server.get(f"/api/deploy/state/{project_id}/versions/{serial}")
    assert reply.status == 200, reply.body
    return dict(reply.body["state"])


def triggers(state: dict[str, Any]) -> list[Any]:
    return [i["attributes"]["triggers"] for r in state["resources"] for i in r["instances"]]


def emulated_s3(server: LocalServer) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.emulator_url(),
        region_name=ServiceResources().region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def emulated_dynamodb(server: LocalServer) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=server.emulator_url(),
        region_name=ServiceResources().region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_versions_rollback_and_a_deploy_after_it(server: LocalServer) -> None:
    # Given: three deploys that change a resource
    project = "history-main"
    jobs = [deploy(server, project, marker_only(value)) for value in ("one", "two", "three")]
    # Then: each version is listed with the job that wrote it, newest first
    listed = versions(server, project)
    by_job = {v["jobId"]: v for v in listed if v["jobId"]}
    assert set(jobs) <= set(by_job), listed
    serials = [by_job[job]["serial"] for job in jobs]
    assert serials == sorted(serials) and len(set(serials)) == 3
    assert [v["serial"] for v in listed] == sorted((v["serial"] for v in listed), reverse=True)
    assert listed[0]["isLatest"] and listed[0]["jobId"] == jobs[-1]
    assert all(v["lineage"] == listed[0]["lineage"] and v["versionId"] and v["size"] > 0 for v in listed)
    assert listed[0]["terraformVersion"] and listed[0]["resourceCount"] == 1
    first = serials[0]
    assert triggers(version_state(server, project, first)) == [{"v": "one"}]

    # When: a rollback to the first serial
    reply = server.request(
        "POST",
        f"/api/deploy/state/{project}/rollback",
        {"serial": first, "reason": "three was wrong"},
        headers={"X-Local-User": "carol"},
    )
    # Then: a new serial with the first's content, attributed to the rollback
    assert reply.status == 200, reply.body
    rolled = reply.body
    assert rolled["serial"] == serials[-1] + 1 and rolled["fromSerial"] == first
    assert rolled["rolledBackBy"].endswith("carol") and rolled["reason"] == "three was wrong"
    assert triggers(version_state(server, project, rolled["serial"])) == [{"v": "one"}]
    head = versions(server, project)[0]
    assert head["serial"] == rolled["serial"] and head["jobId"] is None
    assert head["writtenBy"]["kind"] == "rollback" and head["writtenBy"]["by"].endswith("carol")
    assert head["writtenBy"]["reason"] == "three was wrong" and head["writtenBy"]["fromSerial"] == first
    assert server.get(f"/api/deploy/state/{project}").body["state"]["serial"] == rolled["serial"]
    # and a drift check started at once shows what now differs: the code (three) against the state (one)
    assert str(rolled["driftCheck"]).startswith("started"), rolled
    check = dict(server.get(f"/api/deploy/drift/{project}").body)["latest"]
    assert check["trigger"] == "rollback", check
    server.wait_job(check["jobId"])
    found = dict(server.get(f"/api/deploy/drift/{project}").body)["latest"]
    assert found["status"] == "drifted" and found["stateSerial"] == rolled["serial"], found
    assert [r["type"] for r in found["plannedChanges"]] == ["null_resource"], found
    # terraform's digest item matches the object it will read
    body = emulated_s3(server).get_object(Bucket=ServiceResources().state_bucket, Key=state_key(project))
    digest = emulated_dynamodb(server).get_item(
        TableName=ServiceResources().lock_table,
        Key={"LockID": {"S": f"{state_lock_id(ServiceResources().state_bucket, project)}-md5"}},
    )["Item"]["Digest"]["S"]
    assert digest == md5_digest(body["Body"].read())

    # When: the next deploy: terraform accepts the rolled-back state and plans from it
    after = deploy(server, project, marker_only("four"))
    status = dict(server.get(f"/api/deploy/status/{after}").body)
    assert status["status"] == "completed"
    newest = versions(server, project)[0]
    assert newest["jobId"] == after and newest["serial"] > rolled["serial"]
    assert triggers(version_state(server, project, newest["serial"])) == [{"v": "four"}]

    # An unknown serial is a 404, a blank reason a 400
    missing = server.post(f"/api/deploy/state/{project}/rollback", {"serial": 9999, "reason": "x"})
    assert missing.status == 404 and missing.body["error"] == "state_version_not_found"
    blank = server.post(f"/api/deploy/state/{project}/rollback", {"serial": first, "reason": "  "})
    assert blank.status in (400, 422) and "error" in blank.body
    assert server.get(f"/api/deploy/state/{project}/versions/9999").status == 404


def test_a_rollback_to_another_lineage_is_refused(server: LocalServer) -> None:
    # Given: a project whose state was replaced by one of another lineage (created anew)
    project = "history-lineage"
    deploy(server, project, marker_only("one"))
    first = versions(server, project)[0]["serial"]
    foreign = {"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "another-lineage"}
    foreign |= {"outputs": {}, "resources": [], "check_results": None}
    emulated_s3(server).put_object(
        Bucket=ServiceResources().state_bucket, Key=state_key(project), Body=json.dumps(foreign).encode()
    )
    # When
    reply = server.post(f"/api/deploy/state/{project}/rollback", {"serial": first, "reason": "undo"})
    # Then
    assert reply.status == 409 and reply.body["error"] == "lineage_mismatch", reply.body
    assert "lineage" in reply.body["message"]
    assert dict(server.get(f"/api/deploy/infrastructure/{project}").body).get("activeJobId") is None


def test_a_rollback_is_refused_while_a_job_holds_the_project(server: LocalServer) -> None:
    # Given: a gated deploy waits for approval, holding the project lock
    project = "history-busy"
    deploy(server, project, marker_only("one"))
    first = versions(server, project)[0]["serial"]
    job = accepted(
        server, "/api/deploy", {"projectId": project, "iacCode": marker_only("two"), "approval": "required"}
    )
    wait_for(server, job["jobId"], "awaiting_approval")
    # When
    reply = server.post(f"/api/deploy/state/{project}/rollback", {"serial": first, "reason": "undo"})
    # Then
    assert reply.status == 409 and reply.body["error"] == "conflict", reply.body
    assert reply.body.get("activeJobId") == job["jobId"]
    assert versions(server, project)[0]["serial"] == first  # nothing written
    # and once the job is gone, the rollback goes through
    assert server.post(f"/api/deploy/discard/{job['jobId']}", {"comment": "no"}).status == 200
    server.wait_job(job["jobId"])
    again = server.post(f"/api/deploy/state/{project}/rollback", {"serial": first, "reason": "undo"})
    assert again.status == 200, again.body


PASSPHRASE = "correct horse battery staple"


def test_backup_then_restore_into_a_new_project(server: LocalServer) -> None:
    # Given: a deployed project with a secret in its state (a sensitive variable's value)
    source, target = "history-source", "history-restored"
    password = "Backup-Secret-Value-93"
    code = (
        'variable "token" {\n  type = string\n  sensitive = true\n}\n\n'
        'resource "null_resource" "marker" {\n  triggers = { v = "kept", token = var.token }\n}\n'
    )
    deploy(server, source, code, variables={"token": password})
    raw = emulated_s3(server).get_object(Bucket=ServiceResources().state_bucket, Key=state_key(source))
    assert password in raw["Body"].read().decode()  # the state holds it in clear
    # When: a backup
    reply = server.request("GET", f"/api/deploy/backup/{source}", headers={"X-Backup-Passphrase": PASSPHRASE})
    # Then: code, history and the state, sealed: the secret (a variable's value) is nowhere in clear
    assert reply.status == 200, reply.body
    bundle = reply.body
    assert password not in json.dumps(bundle)
    assert bundle["code"]["files"] and bundle["history"] and bundle["state"]["sealed"]["ciphertext"]
    assert bundle["history"][0]["jobId"] and bundle["state"]["serial"] == bundle["history"][0]["serial"]
    # a backup needs a passphrase
    assert server.get(f"/api/deploy/backup/{source}").status == 400

    # A wrong passphrase is refused, and nothing is written
    wrong = server.post(
        f"/api/deploy/restore/{target}", {"bundle": bundle, "passphrase": "not the passphrase"}
    )
    assert wrong.status == 400 and wrong.body["error"] == "wrong_passphrase", wrong.body
    assert server.get(f"/api/deploy/state/{target}/versions").status in (200, 404)

    # When: the restore into a new project id
    restored = server.post(f"/api/deploy/restore/{target}", {"bundle": bundle, "passphrase": PASSPHRASE})
    # Then
    assert restored.status == 200, restored.body
    assert restored.body["serial"] == bundle["state"]["serial"] and restored.body["sourceProjectId"] == source
    head = versions(server, target)[0]
    assert head["writtenBy"]["kind"] == "restore" and head["lineage"] == bundle["state"]["lineage"]
    # redacted as the source's is
    state = server.get(f"/api/deploy/state/{target}").body["state"]
    assert state["resources"] == server.get(f"/api/deploy/state/{source}").body["state"]["resources"]
    # the restored project deploys: the same code plans no changes against the restored state
    job = accepted(
        server, "/api/deploy", {"projectId": target, "iacCode": code, "variables": {"token": password}}
    )
    status = completed(server, job["jobId"])
    summary = status["planSummary"]
    assert (summary["add"], summary["change"], summary["destroy"]) == (0, 0, 0), status

    # A restore into a project that has state is refused
    again = server.post(f"/api/deploy/restore/{target}", {"bundle": bundle, "passphrase": PASSPHRASE})
    assert again.status == 409 and again.body["error"] == "restore_refused", again.body
    onto_source = server.post(f"/api/deploy/restore/{source}", {"bundle": bundle, "passphrase": PASSPHRASE})
    assert onto_source.status == 409


@pytest.fixture(scope="module")
def server_tf10(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Iterator[LocalServer]:
    """Terraform 1.0.3, whose S3 backend has the older settings, on the same offline mirror."""
    with terraform_103_environment(toolchain, "history") as environment:
        running = LocalServer(tmp_path_factory.mktemp("history-tf103") / "data", extra_env=environment)
        running.start()
        yield running
        running.stop()


def test_terraform_1_0_accepts_a_rolled_back_state(server_tf10: LocalServer) -> None:
    # Given: two deploys by terraform 1.0.3
    project = "history-tf103"
    jobs = [deploy(server_tf10, project, marker_only(value)) for value in ("one", "two")]
    listed = versions(server_tf10, project)
    assert listed[0]["terraformVersion"] == "1.0.3" and listed[0]["jobId"] == jobs[-1]
    first = next(v["serial"] for v in listed if v["jobId"] == jobs[0])
    # When: a rollback, then a deploy
    rolled = server_tf10.post(f"/api/deploy/state/{project}/rollback", {"serial": first, "reason": "undo"})
    assert rolled.status == 200, rolled.body
    after = deploy(server_tf10, project, marker_only("three"))
    # Then: terraform 1.0.3 read the rolled-back state (its digest matched) and wrote the next one
    newest = versions(server_tf10, project)[0]
    assert newest["jobId"] == after and newest["serial"] > rolled.body["serial"]
    assert triggers(version_state(server_tf10, project, newest["serial"])) == [{"v": "three"}]
