"""Policies through make local's HTTP API, with real terraform and real plans: protected deletes
stopped (and let through with allowDestroy and a second person), a budget breach, a custom Rego
policy at mandatory and soft-mandatory level with its override, a policy that errors, no policies,
speculative plans and their dry run, and the policy store's versions and refusals.

Each test sets policies on a project of its own, so tests stay apart on one server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.toolchain import Toolchain
from tests.e2e.test_review import accepted, completed, project, states_visited, wait_for
from tests.support.local_server import LocalServer

pytestmark = pytest.mark.terraform

BOB = {"X-Local-User": "bob"}
MALLORY = {"X-Local-User": "mallory"}
DB_PASSWORD = "Policy-Db-Passw0rd-7"
DENY_LARGE = """package guard.classes

import rego.v1

deny contains msg if {
    some change in input.resource_changes
    change.type == "aws_db_instance"
    not startswith(change.change.after.instance_class, "db.t3.")
    msg := sprintf("%s: %s is not allowed (db.t3.* only); asked by %s", [
        change.address, change.change.after.instance_class, input.caller,
    ])
}
"""


def database(identifier: str, instance_class: str = "db.t3.micro") -> str:
    return (
        f'variable "db_password" {{\n  type = string\n  sensitive = true\n  default = "{DB_PASSWORD}"\n}}\n'
        'provider "aws" {\n  region = "us-east-1"\n}\n'
        f'resource "aws_db_instance" "db" {{\n  identifier = "{identifier}"\n  engine = "postgres"\n'
        f'  instance_class = "{instance_class}"\n  allocated_storage = 20\n  username = "app"\n'
        "  password = var.db_password\n  skip_final_snapshot = true\n}\n"
        'resource "null_resource" "marker" {\n  triggers = { v = "1" }\n}\n'
    )


WITHOUT_DATABASE = 'resource "null_resource" "marker" {\n  triggers = { v = "1" }\n}\n'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Iterator[LocalServer]:
    data_dir: Path = tmp_path_factory.mktemp("policies") / "data"
    running = LocalServer(data_dir, extra_env={"QUEUE_POLL_SECONDS": "1"})
    running.start()
    yield running
    running.stop()


def put_policy(server: LocalServer, name: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    reply = server.request("PUT", f"/api/deploy/policies/{name}", body)
    assert reply.status == status, reply.body
    return dict(reply.body)


def failed(server: LocalServer, job_id: str) -> dict[str, Any]:
    status, _ = server.wait_job(job_id)
    assert status["status"] == "failed", status
    return status


def deploy(server: LocalServer, project_id: str, code: str, **options: Any) -> str:
    return str(
        accepted(server, "/api/deploy", {"projectId": project_id, "iacCode": code, **options})["jobId"]
    )


def result_of(status: dict[str, Any], policy: str) -> dict[str, Any]:
    [result] = [r for r in status["policies"]["results"] if r["policy"] == policy]
    return dict(result)


def test_a_protected_database_is_kept_until_asked_for_and_a_second_person_approves(
    server: LocalServer,
) -> None:
    # Given a project whose databases are protected, with a database deployed
    put_policy(
        server,
        "destroy-protection",
        {"projectId": "pol-db", "level": "mandatory", "settings": {"types": ["aws_db_instance"]}},
    )
    first = deploy(server, "pol-db", database("pol-db"))
    status = completed(server, first)
    assert status["policies"]["outcome"] == "passed", status["policies"]
    assert "Check the policies" in states_visited(server, first)

    # When a deploy drops the database from the code
    dropping = failed(server, deploy(server, "pol-db", WITHOUT_DATABASE))

    # Then it is stopped before apply, naming the policy and the resource, and nothing changed
    assert dropping["phase"] == "policy_failed"
    assert "project/destroy-protection" in dropping["error"] and "aws_db_instance.db" in dropping["error"]
    assert dropping["policies"]["outcome"] == "failed"
    assert "allowDestroy" in dropping["policies"]["message"]
    assert project(server, "pol-db")["deploymentStatus"] == "deployed"
    state = server.get("/api/deploy/state/pol-db").body
    assert any(r["type"] == "aws_db_instance" for r in state["state"]["resources"])

    # When it is asked for with allowDestroy, it waits for a second person
    asked = deploy(server, "pol-db", WITHOUT_DATABASE, allowDestroy=True)
    waiting = wait_for(server, asked, "awaiting_approval")
    assert waiting["approval"]["needs"] == ["second_approval"]
    assert waiting["policies"]["outcome"] == "needs_approval"
    own = server.post(f"/api/deploy/approve/{asked}", {"comment": "mine"})
    assert own.status == 403 and own.body["error"] == "second_identity_required", own.body

    # Then another person's approval lets it through, and the database is gone
    reply = server.request("POST", f"/api/deploy/approve/{asked}", {"comment": "backups checked"}, BOB)
    assert reply.status == 202, reply.body
    done = completed(server, asked)
    assert done["approval"]["decidedBy"].endswith("bob")
    state = server.get("/api/deploy/state/pol-db").body
    assert not any(r["type"] == "aws_db_instance" for r in state["state"]["resources"])


def test_a_budget_breach_is_stopped_with_the_delta_and_the_limit(server: LocalServer) -> None:
    put_policy(
        server,
        "budget",
        {"projectId": "pol-budget", "level": "mandatory", "settings": {"maxMonthlyDelta": 5}},
    )
    status = failed(server, deploy(server, "pol-budget", database("pol-budget")))
    assert status["phase"] == "policy_failed"
    [message] = result_of(status, "budget")["messages"]
    assert "$5.00" in message and "change" in message, message
    assert "priced" in message  # the estimator's coverage is shown
    assert project(server, "pol-budget")["deploymentStatus"] != "deployed"


def test_a_custom_rego_policy_denies_an_instance_class(server: LocalServer) -> None:
    put_policy(server, "db-classes", {"projectId": "pol-rego", "level": "mandatory", "rego": DENY_LARGE})
    status = failed(server, deploy(server, "pol-rego", database("pol-rego", "db.m5.xlarge")))
    result = result_of(status, "db-classes")
    assert result["kind"] == "rego" and result["outcome"] == "failed" and result["version"] == 1
    assert result["hash"].startswith("sha256:")
    assert "aws_db_instance.db: db.m5.xlarge is not allowed" in result["messages"][0]
    assert "project/db-classes" in status["error"]


def test_an_overridable_failure_is_overridden_by_another_person_only(server: LocalServer) -> None:
    put_policy(server, "db-classes", {"projectId": "pol-soft", "level": "soft-mandatory", "rego": DENY_LARGE})
    job_id = deploy(server, "pol-soft", database("pol-soft", "db.m5.xlarge"))
    waiting = wait_for(server, job_id, "awaiting_approval")
    assert waiting["policies"]["outcome"] == "needs_override"
    assert waiting["actions"]["canOverride"] and not waiting["actions"]["canApprove"]

    own = server.post(f"/api/deploy/override/{job_id}", {"reason": "I need it"})
    assert own.status == 403 and own.body["error"] == "second_identity_required", own.body
    blank = server.request("POST", f"/api/deploy/override/{job_id}", {"reason": ""}, BOB)
    assert blank.status == 400, blank.body

    reply = server.request("POST", f"/api/deploy/override/{job_id}", {"reason": "load test, ticket 7"}, BOB)
    assert reply.status == 202, reply.body
    done = completed(server, job_id)
    override = done["policies"]["override"]
    assert override["by"].endswith("bob") and override["reason"] == "load test, ticket 7"
    assert override["policies"] == ["project/db-classes"]
    again = server.request("POST", f"/api/deploy/override/{job_id}", {"reason": "twice"}, MALLORY)
    assert again.status == 409, again.body


def test_a_policy_that_errors_fails_closed(server: LocalServer) -> None:
    # A complete rule with two values is an evaluation error, not a "no".
    broken = (
        "package broken\n\nimport rego.v1\n\nlimit := 1 if { true }\n\nlimit := 2 if { true }\n\n"
        'deny contains "over" if { limit > 5 }\n'
    )
    put_policy(server, "broken", {"projectId": "pol-error", "level": "mandatory", "rego": broken})
    status = failed(server, deploy(server, "pol-error", WITHOUT_DATABASE))
    result = result_of(status, "broken")
    assert result["outcome"] == "errored", result
    assert status["phase"] == "policy_failed"


def test_no_policies_reads_no_policies(server: LocalServer) -> None:
    job_id = deploy(server, "pol-none", WITHOUT_DATABASE)
    status = completed(server, job_id)
    assert status["policies"]["outcome"] == "no_policies"
    assert status["policies"]["message"] == "no policies"
    assert status["policies"]["results"] == []
    assert "Check the policies" not in states_visited(server, job_id)


def test_a_plan_is_checked_shown_and_tried_and_its_apply_checked_again(server: LocalServer) -> None:
    put_policy(
        server,
        "budget",
        {"projectId": "pol-plan", "level": "advisory", "settings": {"maxMonthlyTotal": 1}},
    )
    plan_job = accepted(
        server, "/api/deploy/plan", {"projectId": "pol-plan", "iacCode": database("pol-plan")}
    )
    plan_id = plan_job["jobId"]
    status = completed(server, plan_id)
    assert status["policies"]["outcome"] == "warned", status["policies"]
    plan = server.get(f"/api/deploy/plan/{plan_id}").body
    assert plan["policies"]["outcome"] == "warned"
    assert "#### Policies" in plan["markdown"] and "project/budget" in plan["markdown"]

    # A dry run tries a policy against the stored plan, enforcing nothing
    tried = server.post("/api/deploy/policies/dry-run", {"planJobId": plan_id, "rego": DENY_LARGE})
    assert tried.status == 200 and tried.body["outcome"] == "passed", tried.body
    strict = server.post(
        "/api/deploy/policies/dry-run",
        {"planJobId": plan_id, "name": "budget", "settings": {"maxMonthlyTotal": 1}},
    )
    assert strict.status == 200 and strict.body["outcome"] == "failed", strict.body
    assert server.get("/api/deploy/policies/budget?projectId=pol-plan").body["level"] == "advisory"

    # The apply of the saved plan is checked against the policies in force then
    put_policy(
        server,
        "budget",
        {"projectId": "pol-plan", "level": "mandatory", "settings": {"maxMonthlyTotal": 1}},
        status=200,
    )
    applied = accepted(server, f"/api/deploy/apply/{plan_id}")
    stopped = failed(server, applied["jobId"])
    assert stopped["phase"] == "policy_failed"
    assert result_of(stopped, "budget")["version"] == 2
    assert "Check the policies" in states_visited(server, applied["jobId"])


def test_policies_are_versioned_and_bad_ones_refused(server: LocalServer) -> None:
    first = put_policy(server, "tags", {"projectId": "pol-store", "level": "advisory", "rego": DENY_LARGE})
    second = put_policy(
        server, "tags", {"projectId": "pol-store", "level": "mandatory", "rego": DENY_LARGE}, status=200
    )
    assert (first["version"], second["version"]) == (1, 2) and first["hash"] != second["hash"]
    versions = server.get("/api/deploy/policies/tags/versions?projectId=pol-store").body["versions"]
    assert [v["level"] for v in versions] == ["advisory", "mandatory"]
    old = server.get("/api/deploy/policies/tags?projectId=pol-store&version=1").body
    assert old["level"] == "advisory" and "deny contains" in old["rego"]

    bad = server.request(
        "PUT",
        "/api/deploy/policies/bad",
        {"projectId": "pol-store", "level": "mandatory", "rego": "package x\n\ndeny contains msg if {\n"},
    )
    assert bad.status == 400 and bad.body["error"] == "invalid_policy", bad.body
    assert bad.body["line"] is not None
    no_rules = server.request(
        "PUT",
        "/api/deploy/policies/empty",
        {"projectId": "pol-store", "level": "mandatory", "rego": "package x\n\nallow := true\n"},
    )
    assert no_rules.status == 400, no_rules.body
    settings = server.request(
        "PUT",
        "/api/deploy/policies/budget",
        {"projectId": "pol-store", "level": "mandatory", "settings": {"maxMonthly": 1}},
    )
    assert settings.status == 400 and "maxMonthly" in settings.body["message"], settings.body
    level = server.request("PUT", "/api/deploy/policies/budget", {"level": "strict"})
    assert level.status == 400, level.body

    deleted = server.request("DELETE", "/api/deploy/policies/tags?projectId=pol-store")
    assert deleted.status == 200 and deleted.body["deleted"] and deleted.body["version"] == 3
    listed = server.get("/api/deploy/policies?projectId=pol-store").body
    assert "tags" not in [p["name"] for p in listed["policies"]]
    assert {b["name"] for b in listed["builtins"]} >= {"destroy-protection", "budget", "required-tags"}
    assert server.get("/api/deploy/policies/tags?projectId=pol-store").status == 404
