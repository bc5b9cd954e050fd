"""Faults against make local's server: after each, no job left processing, no lock held, the state
of the last completed job intact, and the next deploy on the project succeeds."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.records import state_lock_ids
from core.toolchain import Toolchain
from tests.support.local_server import LocalServer

pytestmark = pytest.mark.terraform

STATE_BUCKET = "provisioner-state"
QUICK = 'resource "aws_s3_bucket" "kept" {{\n  bucket = "{project}-kept"\n}}\n'
SLOW = QUICK + (
    'resource "null_resource" "slow" {{\n  depends_on = [aws_s3_bucket.kept]\n'
    '  provisioner "local-exec" {{\n    command = "sleep {seconds}"\n  }}\n}}\n'
)


@dataclass(frozen=True)
class Baseline:
    serial: int
    resources: set[str]


def until(check: Callable[[], Any], timeout: float = 180, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} not reached in {timeout}s")


def deploy(server: LocalServer, project: str, code: str) -> str:
    reply = server.post("/api/deploy", {"projectId": project, "iacCode": code})
    assert reply.status == 202, reply.body
    return str(reply.body["jobId"])


def deployed_baseline(server: LocalServer, project: str) -> Baseline:
    status, _ = server.wait_job(deploy(server, project, QUICK.format(project=project)))
    assert status["status"] == "completed", status
    return current_state(server, project)


def current_state(server: LocalServer, project: str) -> Baseline:
    state = server.get(f"/api/deploy/state/{project}").body["state"]
    return Baseline(int(state["serial"]), {f"{r['type']}.{r['name']}" for r in state["resources"]})


def wait_until_applying(server: LocalServer, job_id: str) -> None:
    until(
        lambda: (
            "null_resource.slow: Creating"
            in server.get(f"/api/deploy/status/{job_id}").body["result"]["logs"]
        ),
        what="the slow step",
    )


def assert_settled(server: LocalServer, project: str, baseline: Baseline) -> None:
    """The checks every fault ends with."""
    jobs = server.get(f"/api/deploy/jobs?projectId={project}&limit=100").body["jobs"]
    assert all(job["status"] in ("completed", "failed") for job in jobs), jobs
    assert server.get(f"/api/deploy/infrastructure/{project}").body["activeJobId"] is None
    locks = set(state_lock_ids(STATE_BUCKET, project))  # the lock item and terraform 1.10+'s lock file
    until(
        lambda: not locks & set(server.get("/_local/info").body["stateLocks"]),
        timeout=60,
        what="the lock released",
    )
    state = current_state(server, project)
    assert state.serial >= baseline.serial
    assert baseline.resources <= state.resources
    # and the next deploy succeeds
    status, _ = server.wait_job(deploy(server, project, QUICK.format(project=project)))
    assert status["status"] == "completed", status


def build_pid(server: LocalServer, job_id: str) -> int:
    builds = [b for b in server.get("/_local/info").body["builds"] if b["jobId"] == job_id]
    assert builds, server.get("/_local/info").body
    return int(builds[-1]["pid"])


def session_members(session: int) -> list[int]:
    """Live processes in a session (a local build's runner leads its own, as a build's container)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def test_runner_killed_mid_apply(fault_server: LocalServer) -> None:
    project = "fault-sigkill"
    baseline = deployed_baseline(fault_server, project)
    job_id = deploy(fault_server, project, SLOW.format(project=project, seconds=120))
    wait_until_applying(fault_server, job_id)

    runner = build_pid(fault_server, job_id)
    assert len(session_members(runner)) >= 3  # runner, terraform, provider
    os.kill(runner, signal.SIGKILL)

    status, _ = fault_server.wait_job(job_id)
    assert status["status"] == "failed"
    assert "States.TaskFailed" in status["error"]
    # the build ended with its runner, as a build's container does: no terraform applying on
    until(lambda: not session_members(runner), timeout=10, what="the build's processes gone")
    # the dead runner's state lock is found and cleared by the reaper, with a record of it
    until(
        lambda: fault_server.get(f"/api/deploy/infrastructure/{project}").body["activeJobId"] is None,
        what="the project freed",
    )
    assert_settled(fault_server, project, baseline)


def test_emulator_restarted_mid_job(fault_server: LocalServer) -> None:
    project = "fault-emulator"
    baseline = deployed_baseline(fault_server, project)
    job_id = deploy(fault_server, project, SLOW.format(project=project, seconds=8))
    wait_until_applying(fault_server, job_id)

    assert fault_server.post("/_local/emulator/restart", {"downSeconds": 3}).status == 202

    # the runner, terraform and the workflow ride out the outage
    status, _ = fault_server.wait_job(job_id)
    assert status["status"] == "completed", status
    assert_settled(fault_server, project, baseline)


def test_throttling_in_handlers_and_runner(fault_server: LocalServer) -> None:
    project = "fault-throttle"
    baseline = deployed_baseline(fault_server, project)
    before = fault_server.get("/_local/info").body["faultsInjected"]
    for rule in (
        {
            "service": "dynamodb",
            "operation": "UpdateItem",
            "client": "provisioner-runner",
            "error": "ThrottlingException",
            "count": 3,
        },
        {
            "service": "s3",
            "operation": "PUT",
            "client": "provisioner-runner",
            "error": "SlowDown",
            "count": 2,
        },
        {
            "service": "dynamodb",
            "operation": "GetItem",
            "client": "provisioner-api",
            "error": "ProvisionedThroughputExceededException",
            "count": 2,
        },
        {
            "service": "dynamodb",
            "operation": "UpdateItem",
            "client": "provisioner-api",
            "error": "ThrottlingException",
            "count": 1,
        },
    ):
        assert fault_server.post("/_local/faults", rule).status == 200

    job_id = deploy(fault_server, project, QUICK.format(project=project) + "# changed\n")
    status, _ = fault_server.wait_job(job_id)

    assert status["status"] == "completed", status
    injected = fault_server.get("/_local/info").body["faultsInjected"] - before
    assert injected == 8, fault_server.get("/_local/info").body["pendingFaults"]
    assert_settled(fault_server, project, baseline)


def test_workflow_task_timeout(tmp_path: Path, toolchain: Toolchain) -> None:
    server = LocalServer(
        tmp_path / "data",
        extra_env={
            # Room for the baseline deploy on a loaded machine; the slow job outlasts it by far.
            "RUN_TIMEOUT_SECONDS": "90",
            "ALLOW_EXEC_CONSTRUCTS": "true",
            "LOCAL_FAULT_INJECTION": "true",
            "REAPER_INTERVAL_SECONDS": "2",
        },
    )
    server.start()
    try:
        project = "fault-timeout"
        baseline = deployed_baseline(server, project)
        job_id = deploy(server, project, SLOW.format(project=project, seconds=900))

        status, _ = server.wait_job(job_id)

        assert status["status"] == "failed"
        assert "States.Timeout" in status["error"]
        until(
            lambda: all(b["status"] != "IN_PROGRESS" for b in server.get("/_local/info").body["builds"]),
            what="the timed-out build stopped",
        )
        assert_settled(server, project, baseline)
    finally:
        server.stop()


def test_local_server_killed_mid_job_and_restarted(tmp_path: Path, toolchain: Toolchain) -> None:
    data = tmp_path / "data"
    server = LocalServer(data, extra_env={"ALLOW_EXEC_CONSTRUCTS": "true", "LOCAL_FAULT_INJECTION": "true"})
    server.start()
    project = "fault-server-kill"
    baseline = deployed_baseline(server, project)
    job_id = deploy(server, project, SLOW.format(project=project, seconds=120))
    wait_until_applying(server, job_id)
    orphan = build_pid(server, job_id)

    assert server.stop(signal.SIGKILL) == -signal.SIGKILL

    restarted = LocalServer(
        data, extra_env={"ALLOW_EXEC_CONSTRUCTS": "true", "LOCAL_FAULT_INJECTION": "true"}
    )
    restarted.start()
    try:
        status = restarted.get(f"/api/deploy/status/{job_id}").body
        assert status["status"] == "failed" and "stopped while this job ran" in status["error"]
        # the build the killed server left behind (runner, terraform, providers) was stopped
        until(lambda: not session_members(orphan), timeout=10, what="the orphan build gone")
        assert_settled(restarted, project, baseline)
    finally:
        restarted.stop()
