"""Policies from the command line and the client, against the fake of the contract in the test's
process (tests.cli.fake_api): policies list/show/versions/put/delete/try, override, the policy
results in status and in --wait's review, approve's 403, and --allow-destroy in the bodies."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from provisioner.cli import watch
from provisioner.client import InvalidPolicy, ProvisionerClient, SecondIdentityRequired
from tests.cli.fake_api import DEPLOY_JOB, PLAN_JOB, PROJECT, FakeApi, Request, awaiting, job, plan_document
from tests.cli.helpers import Run, invoke, write_tree

# The fake API runs in this process: the fast lane runs these (tests/conftest.py).
IN_PROCESS = True

BUCKET_TF = 'resource "aws_s3_bucket" "assets" { bucket = "demo-assets" }\n'
REGO = 'package terraform\n\ndeny contains msg if {\n  msg := "no public buckets"\n}\n'
HASH = "sha256:0123456789abcdef0123456789abcdef"
ACCEPTED = {"jobId": DEPLOY_JOB, "status": "accepted", "message": "Infrastructure deployment started"}
POLICIES = "/api/deploy/policies"
SECOND_IDENTITY = {
    "error": "second_identity_required",
    "message": f"a policy failure of job {DEPLOY_JOB} can only be overridden by someone other than its submitter",
}


def cli(fake: FakeApi, *argv: str) -> Run:
    return invoke(*argv, endpoint=fake.url)


def policy(
    name: str = "no-public",
    *,
    version: int = 1,
    scope: str = "project",
    level: str = "mandatory",
    **fields: Any,
) -> dict[str, Any]:
    """A PolicyOut: a project's Rego policy unless told otherwise."""
    document: dict[str, Any] = {
        "name": name,
        "scope": scope,
        "projectId": PROJECT if scope == "project" else None,
        "kind": "rego",
        "level": level,
        "version": version,
        "hash": HASH,
        "description": "",
        "settings": None,
        "rego": REGO,
        "syntax": "v1",
        "package": "terraform",
        "deleted": False,
        "updatedBy": "arn:aws:iam::123456789012:user/alice",
        "updatedAt": "2026-12-02T07:00:00.000Z",
    }
    document.update(fields)
    return document


def result(
    name: str, outcome: str, level: str = "mandatory", *messages: str, **fields: Any
) -> dict[str, Any]:
    """A PolicyResultOut."""
    return {
        "policy": name,
        "scope": "install",
        "projectId": None,
        "kind": "builtin",
        "level": level,
        "version": 3,
        "hash": HASH,
        "outcome": outcome,
        "messages": list(messages),
        "findings": [{"message": m, "address": None} for m in messages],
        "warnings": [],
        "overridable": level == "soft-mandatory" and outcome != "passed",
        **fields,
    }


def check(outcome: str, message: str, *results: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A PolicyCheckOut."""
    return {
        "outcome": outcome,
        "message": message,
        "results": list(results),
        "requires": [],
        "stoppedBy": [],
        "counts": {},
        "evaluatedAt": "2026-12-02T07:00:00.000Z",
        "override": None,
        **fields,
    }


NO_POLICIES = check("no_policies", "no policies")
NEEDS_OVERRIDE = check(
    "needs_override",
    "1 policy failed that someone other than the submitter may override",
    result("budget", "failed", "soft-mandatory", "the monthly cost rises by 250.00, over the 100.00 allowed"),
    result("allowed-regions", "passed"),
    result("required-tags", "failed", "advisory", "aws_s3_bucket.assets has no tag owner"),
    requires=["override"],
)


def needing(*needs: str, policies: dict[str, Any] = NEEDS_OVERRIDE) -> dict[str, Any]:
    """A job whose plan waits for these decisions."""
    document = awaiting()
    document["approval"] = document["approval"] | {"needs": list(needs)}
    document["actions"] = {
        "canApprove": bool({"approval", "second_approval"} & set(needs)),
        "canDiscard": True,
        "canCancel": True,
        "canOverride": "override" in needs,
    }
    document["policies"] = policies
    return document


# --- the client ---------------------------------------------------------------------------------


def test_the_client_sends_the_policy_routes_their_requests(fake: FakeApi) -> None:
    listing = {"projectId": PROJECT, "policies": [policy()], "builtins": []}
    fake.route("GET", f"{POLICIES}?projectId={PROJECT}", (200, listing))
    fake.route("GET", f"{POLICIES}/no-public?projectId={PROJECT}&version=1", (200, policy()))
    fake.route(
        "GET",
        f"{POLICIES}/no-public/versions",
        (200, {"name": "no-public", "scope": "install", "versions": [policy(scope="install")]}),
    )
    fake.route("PUT", f"{POLICIES}/budget", (201, policy("budget", kind="builtin", rego=None)))
    fake.route("DELETE", f"{POLICIES}/no-public?projectId={PROJECT}", (200, policy(version=2, level="off")))
    fake.route("POST", f"{POLICIES}/dry-run", (200, {**NO_POLICIES, "planJobId": PLAN_JOB}))
    fake.route(
        "POST",
        f"/api/deploy/override/{DEPLOY_JOB}",
        (202, {"jobId": DEPLOY_JOB, "status": "processing", "message": "Overridden"}),
    )
    for path in ("/api/deploy", "/api/deploy/destroy", f"/api/deploy/apply/{PLAN_JOB}"):
        fake.route("POST", path, (202, ACCEPTED))
    client = ProvisionerClient(fake.url)

    assert client.policies(PROJECT).policies[0].name == "no-public"
    assert client.policy("no-public", PROJECT, 1).rego == REGO
    assert client.policy_versions("no-public").versions[0].scope == "install"
    stored = client.put_policy("budget", "soft-mandatory", settings={"maxMonthlyIncrease": 100})
    assert stored.kind == "builtin"
    assert client.delete_policy("no-public", PROJECT).level == "off"
    tried = client.dry_run(PLAN_JOB, rego=REGO, level="advisory", name=None)
    assert tried.outcome == "no_policies" and tried.planJobId == PLAN_JOB
    assert client.override(DEPLOY_JOB, "approved by finance").message == "Overridden"
    client.deploy(PROJECT, {"main.tf": BUCKET_TF}, allow_destroy=True)
    client.destroy(PROJECT, allow_destroy=True)
    client.apply(PLAN_JOB, allow_destroy=True)

    assert fake.sent("PUT", f"{POLICIES}/budget") == [
        {
            "level": "soft-mandatory",
            "syntax": "v1",
            "description": "",
            "settings": {"maxMonthlyIncrease": 100},
        }
    ]
    # What was not given is left out of a dry run
    assert fake.sent("POST", f"{POLICIES}/dry-run") == [
        {"planJobId": PLAN_JOB, "rego": REGO, "level": "advisory"}
    ]
    assert fake.sent("POST", f"/api/deploy/override/{DEPLOY_JOB}") == [{"reason": "approved by finance"}]
    assert fake.sent("POST", "/api/deploy")[0]["allowDestroy"] is True
    assert fake.sent("POST", "/api/deploy/destroy") == [{"projectId": PROJECT, "allowDestroy": True}]
    assert fake.sent("POST", f"/api/deploy/apply/{PLAN_JOB}") == [{"allowDestroy": True}]


def test_the_client_raises_the_policy_errors(fake: FakeApi) -> None:
    bad = {"error": "invalid_policy", "message": "rego_parse_error: unexpected }", "line": 3, "column": 7}
    fake.route("PUT", f"{POLICIES}/mine", (400, bad))
    fake.route("POST", f"/api/deploy/override/{DEPLOY_JOB}", (403, SECOND_IDENTITY))
    client = ProvisionerClient(fake.url)

    with pytest.raises(InvalidPolicy) as invalid:
        client.put_policy("mine", "mandatory", rego="package x\n}")
    assert (invalid.value.line, invalid.value.column) == (3, 7)
    with pytest.raises(SecondIdentityRequired):
        client.override(DEPLOY_JOB, "why not")
    # Decisions and stored versions are never retried: one request each, even for a 503
    fake.requests.clear()
    fake.route("PUT", f"{POLICIES}/mine", (503, {"error": "unavailable", "message": "busy"}))
    fake.route("POST", f"/api/deploy/override/{DEPLOY_JOB}", (503, {"error": "unavailable", "message": "x"}))
    for call in (
        lambda: client.put_policy("mine", "off", rego="package x"),
        lambda: client.override(DEPLOY_JOB, "why"),
    ):
        with pytest.raises(Exception, match="503"):
            call()
    assert len(fake.requests) == 2


# --- provisioner policies -----------------------------------------------------------------------


def test_policies_list_shows_each_policy_and_the_builtins(fake: FakeApi) -> None:
    install = policy("budget", scope="install", kind="builtin", level="soft-mandatory", version=4, rego=None)
    listing = {
        "projectId": PROJECT,
        "policies": [install, policy()],
        "builtins": [
            {
                "name": "destroy-protection",
                "description": "deletes of guarded resources need a second person",
                "defaults": {"types": ["aws_db_instance"]},
            },
            {"name": "budget", "description": "a ceiling on the monthly cost increase", "defaults": {}},
        ],
    }
    fake.route("GET", f"{POLICIES}?projectId={PROJECT}", (200, listing))
    fake.route("GET", POLICIES, (200, {"projectId": None, "policies": [], "builtins": []}))

    run = cli(fake, "policies", "list", "-p", PROJECT)
    empty = cli(fake, "policies", "list")

    assert run.code == 0, run.err
    rows = {cells[2].strip(): [c.strip() for c in cells] for cells in _table(run.out) if len(cells) > 7}
    assert rows["budget"][1:7] == ["install", "budget", "builtin", "soft-mandatory", "4", HASH[7:19]]
    assert rows["no-public"][1:7] == [f"project:{PROJECT}", "no-public", "rego", "mandatory", "1", HASH[7:19]]
    assert "arn:aws:iam::123456789012:user/alice" in run.out and "at 2026-12-02 07:00:00" in run.out
    assert "destroy-protection" in run.out and '{"types": ["aws_db_instance"]}' in run.out
    assert empty.code == 0 and "No policies for the install" in empty.out
    assert cli(fake, "policies", "list", "--json").json() == {
        "projectId": None,
        "policies": [],
        "builtins": [],
    }


def _table(out: str) -> list[list[str]]:
    return [line.split("│") for line in out.splitlines() if "│" in line]


def test_policies_show_prints_the_source_alone_on_stdout(fake: FakeApi) -> None:
    fake.route("GET", f"{POLICIES}/no-public?projectId={PROJECT}", (200, policy(version=3)))
    fake.route("GET", f"{POLICIES}/no-public?projectId={PROJECT}&version=2", (200, policy(version=2)))
    settings = {"maxMonthlyIncrease": 100, "currency": "USD"}
    fake.route(
        "GET", f"{POLICIES}/budget", (200, policy("budget", kind="builtin", rego=None, settings=settings))
    )

    latest = cli(fake, "policies", "show", "no-public", "-p", PROJECT)
    older = cli(fake, "policies", "show", "no-public", "-p", PROJECT, "--version", "2")
    builtin = cli(fake, "policies", "show", "budget")

    assert latest.code == older.code == builtin.code == 0
    # The Rego as it was put, so that `show > file` and `put --rego file` go round
    assert latest.out == REGO
    assert f"project:{PROJECT}/no-public" in latest.err and "rego (v1)" in latest.err and HASH in latest.err
    assert "Version  3" in latest.err and "Version  2" in older.err
    assert json.loads(builtin.out) == settings


def test_policies_versions_lists_them_newest_first(fake: FakeApi) -> None:
    versions = [
        policy(version=1, description="first"),
        policy(version=2, level="advisory"),
        policy(version=3, level="off", deleted=True),
    ]
    fake.route(
        "GET",
        f"{POLICIES}/no-public/versions?projectId={PROJECT}",
        (200, {"name": "no-public", "scope": "project", "projectId": PROJECT, "versions": versions}),
    )

    run = cli(fake, "policies", "versions", "no-public", "-p", PROJECT)

    assert run.code == 0, run.err
    # The rows (their times may fold onto a second line, with an empty version cell)
    rows = [[c.strip() for c in cells] for cells in _table(run.out) if len(cells) > 6 and cells[1].strip()]
    assert [row[1] for row in rows] == ["3", "2", "1"]
    assert rows[0][3] == "off (deleted)" and rows[2][6] == "first"


def test_policies_put_sends_the_rego_or_the_settings(fake: FakeApi, tmp_path: Path) -> None:
    write_tree(tmp_path, {"policy.rego": REGO, "budget.json": '{"maxMonthlyIncrease": 50}'})
    fake.route("PUT", f"{POLICIES}/no-public", (201, policy()))
    fake.route(
        "PUT", f"{POLICIES}/budget", (200, policy("budget", scope="install", kind="builtin", version=2))
    )
    rego = str(tmp_path / "policy.rego")

    stored = cli(fake, "policies", "put", "no-public", "--level", "mandatory", "--rego", rego, "-p", PROJECT)
    old_syntax = cli(
        fake, "policies", "put", "no-public", "--level", "advisory", "--rego", rego, "--syntax", "v0",
        "--description", "the old way",
    )  # fmt: skip
    inline = cli(fake, "policies", "put", "budget", "--level", "soft-mandatory", "--settings", '{"a": 1}')
    from_file = cli(
        fake, "policies", "put", "budget", "--level", "off", "--settings", f"@{tmp_path / 'budget.json'}"
    )

    assert stored.code == old_syntax.code == inline.code == from_file.code == 0, stored.err
    assert f"Stored project:{PROJECT}/no-public version 1: mandatory (rego, {HASH[7:19]})" in stored.out
    assert "Stored install/budget version 2" in inline.out
    assert fake.sent("PUT", f"{POLICIES}/no-public") == [
        {"level": "mandatory", "syntax": "v1", "description": "", "projectId": PROJECT, "rego": REGO},
        {"level": "advisory", "syntax": "v0", "description": "the old way", "rego": REGO},
    ]
    assert [body["settings"] for body in fake.sent("PUT", f"{POLICIES}/budget")] == [
        {"a": 1},
        {"maxMonthlyIncrease": 50},
    ]


@pytest.mark.parametrize(
    "arguments",
    [
        ["--level", "mandatory", "--settings", "{not json"],
        ["--level", "mandatory", "--settings", "[1, 2]"],
        ["--level", "mandatory", "--settings", "@/nonexistent/settings.json"],
        ["--level", "mandatory", "--rego", "/nonexistent/policy.rego"],
        ["--level", "always"],
        [],
    ],
)
def test_policies_put_refuses_what_it_cannot_send(fake: FakeApi, arguments: list[str]) -> None:
    run = cli(fake, "policies", "put", "budget", *arguments)
    assert run.code == 2, (run.out, run.err)
    assert not fake.sent("PUT", f"{POLICIES}/budget")


def test_a_bad_rego_is_shown_with_its_line_and_column(fake: FakeApi, tmp_path: Path) -> None:
    write_tree(tmp_path, {"bad.rego": "package terraform\n\ndeny contains msg if {\n"})
    bad = {
        "error": "invalid_policy",
        "message": "rego_parse_error: unexpected eof token",
        "line": 3,
        "column": 22,
    }
    fake.route("PUT", f"{POLICIES}/mine", (400, bad))
    path = str(tmp_path / "bad.rego")

    run = cli(fake, "policies", "put", "mine", "--level", "mandatory", "--rego", path)

    assert run.code == 1
    assert "error (400 invalid_policy): rego_parse_error: unexpected eof token" in run.err
    assert f"at {path}:3:22" in run.err
    assert "credentials" not in run.err
    assert (
        cli(fake, "policies", "put", "mine", "--level", "mandatory", "--rego", path, "--json").json() == bad
    )


def test_policies_delete_says_what_it_turned_off(fake: FakeApi) -> None:
    path = f"{POLICIES}/no-public?projectId={PROJECT}"
    fake.route("DELETE", path, (200, policy(version=4, level="off", deleted=True, rego=None)))
    fake.route(
        "DELETE", f"{POLICIES}/gone", (404, {"error": "policy_not_found", "message": "no policy gone"})
    )

    run = cli(fake, "policies", "delete", "no-public", "-p", PROJECT)
    missing = cli(fake, "policies", "delete", "gone")

    assert run.code == 0 and f"Deleted project:{PROJECT}/no-public (version 4, off)" in run.out
    assert [r.method for r in fake.requests if r.path == path] == ["DELETE"]
    assert missing.code == 1 and "no policy gone" in missing.err


@pytest.mark.parametrize(
    ("outcome", "exit_code"),
    [
        ("passed", 0),
        ("warned", 0),
        ("no_policies", 0),
        ("needs_override", 1),
        ("needs_approval", 1),
        ("failed", 1),
    ],
)
def test_policies_try_exits_by_the_outcome(fake: FakeApi, outcome: str, exit_code: int) -> None:
    answer = {**check(outcome, f"the plan {outcome}"), "planJobId": PLAN_JOB}
    fake.route("POST", f"{POLICIES}/dry-run", (200, answer))
    run = cli(fake, "policies", "try", PLAN_JOB)
    assert run.code == exit_code, (run.out, run.err)
    label = "no policies" if outcome == "no_policies" else outcome.replace("_", " ")
    assert f"Policies: {label}" in run.out
    assert fake.sent("POST", f"{POLICIES}/dry-run") == [{"planJobId": PLAN_JOB}]


def test_policies_try_shows_each_result_and_sends_the_policy(fake: FakeApi, tmp_path: Path) -> None:
    write_tree(tmp_path, {"policy.rego": REGO})
    answer = {
        **check(
            "failed",
            "1 mandatory policy failed",
            result("budget", "failed", "mandatory", "the monthly cost rises by 250.00"),
            result("allowed-regions", "passed"),
            result("required-tags", "failed", "advisory", "aws_s3_bucket.assets has no tag owner"),
            result("mine", "errored", "mandatory", "rego evaluation failed: timeout"),
        ),
        "planJobId": PLAN_JOB,
    }
    fake.route("POST", f"{POLICIES}/dry-run", (200, answer))

    run = cli(
        fake, "policies", "try", PLAN_JOB, "--rego", str(tmp_path / "policy.rego"), "--level", "advisory",
        "--syntax", "v0", "--caller", "bob",
    )  # fmt: skip
    stored = cli(
        fake, "policies", "try", PLAN_JOB, "--name", "budget", "--version", "2", "--scope", "install",
        "--settings", '{"maxMonthlyIncrease": 10}',
    )  # fmt: skip

    assert run.code == stored.code == 1
    rows = {cells[2].strip(): [c.strip() for c in cells] for cells in _table(run.out) if len(cells) > 6}
    assert rows["install/budget"][1] == "✗" and rows["install/budget"][3:5] == ["failed", "mandatory"]
    assert rows["install/allowed-regions"][1] == "✓"
    assert rows["install/required-tags"][1] == "!" and rows["install/required-tags"][4] == "advisory"
    assert rows["install/mine"][1] == "!" and rows["install/mine"][3] == "errored"
    assert rows["install/budget"][5] == "3" and "the monthly cost rises by 250.00" in run.out
    assert "Policies: failed: 1 mandatory policy failed" in run.out
    assert fake.sent("POST", f"{POLICIES}/dry-run") == [
        {"planJobId": PLAN_JOB, "rego": REGO, "level": "advisory", "syntax": "v0", "caller": "bob"},
        {
            "planJobId": PLAN_JOB,
            "name": "budget",
            "version": 2,
            "scope": "install",
            "settings": {"maxMonthlyIncrease": 10},
        },
    ]


@pytest.mark.parametrize(
    "arguments",
    [["--rego", "x.rego", "--name", "budget"], ["--version", "2"], ["--scope", "install"]],
)
def test_policies_try_refuses_mixed_choices(fake: FakeApi, arguments: list[str]) -> None:
    run = cli(fake, "policies", "try", PLAN_JOB, *arguments)
    assert run.code == 2, run.err
    assert not fake.sent("POST", f"{POLICIES}/dry-run")


# --- override, approve's 403 ----------------------------------------------------------------------


def test_override_sends_the_reason(fake: FakeApi) -> None:
    path = f"/api/deploy/override/{DEPLOY_JOB}"
    message = "Recorded: the plan still waits for approval"
    fake.route("POST", path, (202, {"jobId": DEPLOY_JOB, "status": "processing", "message": message}))

    run = cli(fake, "override", DEPLOY_JOB, "--reason", "finance agreed")

    assert run.code == 0, run.err
    assert f"{message}: job {DEPLOY_JOB}" in run.out
    assert fake.sent("POST", path) == [{"reason": "finance agreed"}]
    # A reason is required, and not blank
    assert cli(fake, "override", DEPLOY_JOB).code == 2
    assert cli(fake, "override", DEPLOY_JOB, "--reason", "  ").code == 2
    assert len(fake.sent("POST", path)) == 1


@pytest.mark.parametrize("command", ["override", "approve"])
def test_the_submitter_is_refused_with_a_403_and_told_why(fake: FakeApi, command: str) -> None:
    fake.route("POST", f"/api/deploy/{command}/{DEPLOY_JOB}", (403, SECOND_IDENTITY))
    arguments = ["--reason", "mine"] if command == "override" else []

    run = cli(fake, command, DEPLOY_JOB, *arguments)

    assert run.code == 1
    assert "error (403 second_identity_required)" in run.err
    assert "someone other than the job's submitter must decide this" in run.err
    # Not the hint for refused credentials: these were fine
    assert "--sign" not in run.err


def test_override_of_a_job_with_nothing_to_override_exits_1(fake: FakeApi) -> None:
    refused = {
        "error": "not_awaiting_approval",
        "message": f"job {DEPLOY_JOB} has no failed policy to override",
    }
    fake.route("POST", f"/api/deploy/override/{DEPLOY_JOB}", (409, refused))
    run = cli(fake, "override", DEPLOY_JOB, "--reason", "r")
    assert run.code == 1 and "has no failed policy to override" in run.err


# --- status and --wait ----------------------------------------------------------------------------


def test_status_shows_the_policy_results_and_the_override_to_ask_for(fake: FakeApi) -> None:
    fake.script(DEPLOY_JOB, needing("override"))

    run = cli(fake, "status", DEPLOY_JOB)

    assert run.code == 0, run.err
    assert "Policies   needs override: 1 policy failed that someone other than the submitter" in run.out
    assert "Waits for  override" in run.out
    rows = {cells[2].strip(): [c.strip() for c in cells] for cells in _table(run.out) if len(cells) > 6}
    assert rows["install/budget"][1:5] == ["✗", "install/budget", "failed", "soft-mandatory"]
    assert rows["install/allowed-regions"][1] == "✓"
    assert rows["install/required-tags"][1] == "!"
    assert "the monthly cost rises by 250.00" in run.out and "(can be overridden)" in run.out
    assert (
        "it waits for an override by someone other than the submitter: "
        f'provisioner override {DEPLOY_JOB} --reason "..."'
    ) in run.err
    # It does not wait for an approval: approve is not offered
    assert f"provisioner approve {DEPLOY_JOB}" not in run.err


def test_status_says_no_policies_when_none_was_enabled(fake: FakeApi) -> None:
    fake.script(DEPLOY_JOB, job(status="completed", phase="done", progress=100, policies=NO_POLICIES))
    run = cli(fake, "status", DEPLOY_JOB)
    assert run.code == 0
    assert "Policies  no policies" in run.out and "passed" not in run.out
    assert "Policies  no policies: no policies" not in run.out


def test_status_of_a_second_approval_and_of_an_overridden_check(fake: FakeApi) -> None:
    overridden = NEEDS_OVERRIDE | {
        "override": {
            "by": "arn:aws:iam::123456789012:user/bob",
            "at": "2026-12-02T07:03:00.000Z",
            "reason": "finance agreed",
            "policies": ["install/budget"],
        }
    }
    fake.script(DEPLOY_JOB, needing("second_approval", policies=overridden))

    run = cli(fake, "status", DEPLOY_JOB)

    assert (
        "Overridden by arn:aws:iam::123456789012:user/bob at 2026-12-02T07:03:00.000Z: finance agreed"
        in run.out
    )
    assert "someone other than the submitter: provisioner approve" in run.err
    assert "provisioner override" not in run.err


def test_a_job_stopped_by_policy_exits_1_with_its_results(fake: FakeApi, tmp_path: Path) -> None:
    code = write_tree(tmp_path / "infra", {"main.tf": BUCKET_TF})
    stopped = check(
        "failed",
        "1 mandatory policy failed",
        result("allowed-regions", "failed", "mandatory", "aws_s3_bucket.assets is in eu-west-3"),
        stoppedBy=["install/allowed-regions"],
    )
    error = "stopped by policy: install/allowed-regions (v3, mandatory): aws_s3_bucket.assets is in eu-west-3"
    fake.route("POST", "/api/deploy", (202, ACCEPTED))
    fake.script(
        DEPLOY_JOB,
        job(phase="plan"),
        job(status="failed", phase="policy_failed", progress=50, error=error, policies=stopped),
    )

    run = cli(fake, "deploy", str(code), "-p", PROJECT, "--allow-destroy", "--wait")
    status = cli(fake, "status", DEPLOY_JOB)

    assert run.code == status.code == 1, (run.out, run.err)
    assert fake.sent("POST", "/api/deploy")[0]["allowDestroy"] is True
    assert "Policies: failed: 1 mandatory policy failed" in run.out
    assert "aws_s3_bucket.assets is in eu-west-3" in run.out
    assert f"deploy {DEPLOY_JOB} failed: stopped by policy: install/allowed-regions" in run.out
    assert "policy_failed" in status.out


def test_allow_destroy_goes_in_the_body_only_when_given(fake: FakeApi, tmp_path: Path) -> None:
    code = write_tree(tmp_path / "infra", {"main.tf": BUCKET_TF})
    for path in ("/api/deploy", "/api/deploy/destroy", f"/api/deploy/apply/{PLAN_JOB}"):
        fake.route("POST", path, (202, ACCEPTED))

    runs = [
        cli(fake, "deploy", str(code), "-p", PROJECT, "--allow-destroy"),
        cli(fake, "destroy", PROJECT, "--allow-destroy"),
        cli(fake, "apply", PLAN_JOB, "--allow-destroy"),
        cli(fake, "destroy", PROJECT),
        cli(fake, "apply", PLAN_JOB),
    ]

    assert [run.code for run in runs] == [0] * 5
    assert fake.sent("POST", "/api/deploy")[0]["allowDestroy"] is True
    assert fake.sent("POST", "/api/deploy/destroy") == [
        {"projectId": PROJECT, "allowDestroy": True},
        {"projectId": PROJECT},
    ]
    assert fake.sent("POST", f"/api/deploy/apply/{PLAN_JOB}") == [{"allowDestroy": True}, {}]


def gated(fake: FakeApi, *needs: str) -> None:
    """A deploy whose plan waits for these decisions; an approval or an override lets it apply."""
    fake.route("POST", "/api/deploy", (202, ACCEPTED))
    document = plan_document(DEPLOY_JOB, action="deploy") | {"policies": NEEDS_OVERRIDE}
    fake.route("GET", f"/api/deploy/plan/{DEPLOY_JOB}", (200, document))
    done = [
        job(status="processing", phase="apply", progress=80),
        job(status="completed", phase="done", progress=100),
    ]
    fake.script(DEPLOY_JOB, job(phase="plan"), needing(*needs), needing(*needs), *done)

    def approve(_: Request) -> tuple[int, dict[str, str]]:
        return 202, {
            "jobId": DEPLOY_JOB,
            "status": "processing",
            "message": "Recorded: the plan still waits for override",
        }

    fake.route("POST", f"/api/deploy/approve/{DEPLOY_JOB}", approve)


def test_wait_on_a_plan_that_needs_only_an_override_offers_no_approval(
    fake: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a terminal, and a plan that only someone else's override lets through
    code = write_tree(tmp_path / "infra", {"main.tf": BUCKET_TF})
    gated(fake, "override")
    monkeypatch.setattr(watch, "can_review", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))

    run = cli(fake, "deploy", str(code), "-p", PROJECT, "--wait")

    # Then the plan and its policies were shown, no question asked, nothing approved, the way to
    # override said, and the job followed to its end (someone else overrode it)
    assert run.code == 0, (run.out, run.err)
    assert "Plan: 1 to add" in run.out and "Policies: needs override" in run.out
    assert "install/budget" in run.out
    assert "Apply this plan?" not in run.err
    assert not fake.sent("POST", f"/api/deploy/approve/{DEPLOY_JOB}")
    assert f'provisioner override {DEPLOY_JOB} --reason "..."' in run.err
    assert f"provisioner approve {DEPLOY_JOB}" not in run.err
    assert f"{DEPLOY_JOB}: completed done 100%" in run.err


def test_wait_on_a_plan_that_needs_approval_and_override_asks_and_says_so(
    fake: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = write_tree(tmp_path / "infra", {"main.tf": BUCKET_TF})
    gated(fake, "approval", "override")
    monkeypatch.setattr(watch, "can_review", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))

    run = cli(fake, "deploy", str(code), "-p", PROJECT, "--approval", "required", "--wait")

    assert run.code == 0, (run.out, run.err)
    assert "Approving it leaves it waiting for an override by someone other than the submitter" in run.err
    assert "Apply this plan? [y/N]" in run.err
    assert fake.sent("POST", f"/api/deploy/approve/{DEPLOY_JOB}") == [{}]
    assert "Recorded: the plan still waits for override" in run.err
    # The policies were shown once, with the plan
    assert run.out.count("Policies: needs override") == 1
