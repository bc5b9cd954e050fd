"""plan → review → apply from the command line against make local's server, with real terraform:
once, end to end, that what tests/cli/test_review.py's fake speaks is what the service answers."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.toolchain import Toolchain
from provisioner.cli import watch
from tests.cli.helpers import invoke, write_tree
from tests.support.local_server import LocalServer

pytestmark = pytest.mark.terraform

PROJECT = "cli-review"
PLAN_JOB = re.compile(r"\bplan-\d{13}-[a-z0-9]+\b")
JOB = re.compile(r"\b(?:deploy|destroy)-\d{13}-[a-z0-9]+\b")


def marker(value: str) -> str:
    return (
        f'resource "null_resource" "marker" {{\n  triggers = {{ v = "{value}" }}\n}}\n'
        'output "marker" {\n  value = null_resource.marker.id\n}\n'
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Iterator[LocalServer]:
    running = LocalServer(tmp_path_factory.mktemp("cli-review") / "data")
    running.start()
    yield running
    running.stop()


def test_plan_apply_and_an_approved_deploy(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "POLL_SECONDS", 0.3)
    code = write_tree(tmp_path / "one", {"main.tf": marker("1")})

    # A plan with changes: 2 with --detailed-exitcode, the plan document on stdout
    plan = invoke(
        "plan", str(code), "-p", PROJECT, "--format", "json", "--detailed-exitcode", endpoint=server.url
    )
    assert plan.code == 2, (plan.out, plan.err, server.log()[-3000:])
    document = plan.json()
    assert document["summary"]["add"] == 1
    assert [change["address"] for change in document["resourceChanges"]] == ["null_resource.marker"]
    found = PLAN_JOB.search(plan.err)
    assert found and found.group(0) == document["jobId"]

    # Applied as it is
    applied = invoke("apply", document["jobId"], "--wait", endpoint=server.url)
    assert applied.code == 0, (applied.out, applied.err)
    assert "marker" in applied.out

    # Applying it again: stale, each reason printed, exit 1
    again = invoke("apply", document["jobId"], endpoint=server.url)
    assert again.code == 1 and "stale_plan" in again.err, (again.out, again.err)
    assert "  - " in again.err

    # Nothing left to change: 0; the table names the plan job
    same = invoke("plan", str(code), "-p", PROJECT, "--detailed-exitcode", endpoint=server.url)
    assert same.code == 0, (same.out, same.err)
    assert "No changes." in same.out and "Plan job: plan-" in same.out

    # A gated deploy at a terminal: the plan, the question, "y", then the apply, with the comment kept
    monkeypatch.setattr(watch, "can_review", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    changed = write_tree(tmp_path / "two", {"main.tf": marker("2")})
    gated = invoke(
        "deploy",
        str(changed),
        "-p",
        PROJECT,
        "--approval",
        "required",
        "--comment",
        "reviewed",
        "--wait",
        endpoint=server.url,
    )
    assert gated.code == 0, (gated.out, gated.err)
    assert "-/+" in gated.out and "null_resource.marker" in gated.out
    assert "Apply this plan? [y/N]" in gated.err
    status = invoke("status", JOB.findall(gated.err)[0], endpoint=server.url)
    assert status.code == 0 and "approved" in status.out and "reviewed" in status.out, status.out
