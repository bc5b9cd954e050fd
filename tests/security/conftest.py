"""Attacks through make local's HTTP API, as a user with API access and nothing else would try them.

Two installs, each a real local-mode server with a victim project already deployed: ``strict``
(the default: exec constructs refused) and ``permissive`` (``ALLOW_EXEC_CONSTRUCTS=true``, where
submitted commands run and the jail alone must hold). Every attack's whole transcript (the
submit answer, the job's status and full log, the attacker's outputs and state) is searched for
what it must never hold: the victim's secret, the service's canary, a marker a command prints.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from core.toolchain import Toolchain
from tests.support.local_server import LocalServer

pytestmark = pytest.mark.terraform

# In the server's environment only: a job that can read another process's environment finds it.
SERVICE_CANARY = f"ServiceCanary{secrets.token_hex(8)}"
VICTIM_SECRET = f"VictimSecret{secrets.token_hex(8)}"
VICTIM = "victim"
VICTIM_CODE = """
variable "db_password" {
  type      = string
  sensitive = true
}

resource "aws_s3_bucket" "data" {
  bucket = "victim-data"
}

resource "aws_s3_bucket_object" "secret" {
  bucket  = aws_s3_bucket.data.id
  key     = "secret.txt"
  content = var.db_password
}

resource "aws_sqs_queue" "jobs" {
  name = "victim-jobs"
}

resource "null_resource" "keys" {
  triggers = {
    password  = var.db_password
    Api_Token = var.db_password
    name      = "victim"
  }
}

output "bucket" {
  value = aws_s3_bucket.data.id
}

output "queue" {
  value = aws_sqs_queue.jobs.id
}
"""


@dataclass
class Transcript:
    """Everything an attacker got back from one submission."""

    status: int
    job: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    @property
    def refused_at_submit(self) -> bool:
        return 400 <= self.status < 500

    @property
    def ended(self) -> str:
        return "refused" if self.refused_at_submit else str(self.job.get("status"))


@dataclass
class Install:
    server: LocalServer
    data_dir: Path
    victim_job: str
    victim_state: dict[str, Any]

    def service(self, name: str) -> Any:
        """A client of the service's own emulator, as an operator of the machine (not a job) has."""
        return boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        ).client(name, endpoint_url=self.server.emulator_url())  # type: ignore[call-overload]

    def victim_workspace(self) -> dict[str, str]:
        s3 = self.service("s3")
        prefix = f"workspaces/{VICTIM}/"
        listed = s3.list_objects_v2(Bucket="provisioner-workspaces", Prefix=prefix).get("Contents", [])
        return {o["Key"]: o["ETag"] for o in listed}

    def attack(self, project: str, files: dict[str, str], **body: Any) -> Transcript:
        reply = self.server.post("/api/deploy", {"projectId": project, "files": files, **body})
        transcript = Transcript(reply.status, text=json.dumps(reply.body))
        if reply.status != 202:
            return transcript
        job_id = reply.body["jobId"]
        status, _ = self.server.wait_job(job_id, timeout=600)
        transcript.job = status
        parts = [transcript.text, json.dumps(status), full_log(self.server, job_id)]
        for route in ("outputs", "state", "infrastructure", "costs"):
            parts.append(json.dumps(self.server.get(f"/api/deploy/{route}/{project}").body))
        transcript.text = "\n".join(parts)
        return transcript

    def assert_victim_intact(self) -> None:
        state = self.server.get(f"/api/deploy/state/{VICTIM}")
        assert state.status == 200, state.body
        now = state.body["state"]
        assert (now["serial"], now["lineage"]) == (self.victim_state["serial"], self.victim_state["lineage"])
        assert sorted(r["type"] for r in now["resources"]) == sorted(
            r["type"] for r in self.victim_state["resources"]
        )
        held = self.service("dynamodb").scan(TableName="provisioner-terraform-locks")["Items"]
        assert [i for i in held if "victim" in i["LockID"]["S"] and "Info" in i] == []
        # nor a lock file (terraform 1.10+) left on the victim's state
        files = self.service("s3").list_objects_v2(Bucket="provisioner-state", Prefix="projects/")
        assert [
            o["Key"]
            for o in files.get("Contents", [])
            if "victim" in o["Key"] and o["Key"].endswith(".tflock")
        ] == []


# Which layer stopped each attack, shown at the end of every run (the README quotes it).
OUTCOMES = pytest.StashKey[list[str]]()


@pytest.fixture
def record_outcome(request: pytest.FixtureRequest) -> Any:
    def record(transcript: Transcript) -> None:
        error = transcript.job.get("error") if transcript.job else None
        if transcript.refused_at_submit:
            try:
                detail = json.loads(transcript.text.splitlines()[0]).get("message", "")
            except (ValueError, AttributeError, IndexError):
                detail = ""
        else:
            detail = error or ""
        line = f"{request.node.name}: {transcript.ended}: {str(detail)[:160]}"
        request.config.stash.setdefault(OUTCOMES, []).append(line)

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    outcomes = config.stash.get(OUTCOMES, [])
    if outcomes:
        terminalreporter.section("security: how each attack ended")
        for line in sorted(outcomes):
            terminalreporter.write_line(line)


def full_log(server: LocalServer, job_id: str) -> str:
    """The job's whole log, page by page, as ``GET /api/deploy/logs`` serves it."""
    parts: list[str] = []
    offset = 0
    while True:
        reply = server.get(f"/api/deploy/logs/{job_id}?offset={offset}")
        assert reply.status == 200, reply.body
        parts.append(str(reply.body["content"]))
        if reply.body["nextOffset"] == offset or reply.body["complete"]:
            return "".join(parts)
        offset = int(reply.body["nextOffset"])


def assert_nothing_leaked(transcript: Transcript, *markers: str) -> None:
    for needle in (VICTIM_SECRET, SERVICE_CANARY, *markers):
        assert needle not in transcript.text, f"{needle} came back:\n{transcript.text[-4000:]}"


def _install(tmp: Path, **env: str) -> Iterator[Install]:
    data_dir = tmp / "data"
    server = LocalServer(data_dir, extra_env={"PROVISIONER_CANARY": SERVICE_CANARY, **env})
    server.start()
    try:
        reply = server.post(
            "/api/deploy",
            {"projectId": VICTIM, "iacCode": VICTIM_CODE, "variables": {"db_password": VICTIM_SECRET}},
        )
        assert reply.status == 202, reply.body
        status, _ = server.wait_job(reply.body["jobId"])
        assert status["status"] == "completed", status
        state = server.get(f"/api/deploy/state/{VICTIM}").body["state"]
        yield Install(server, data_dir, reply.body["jobId"], state)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def strict(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Iterator[Install]:
    yield from _install(tmp_path_factory.mktemp("strict-install"))


@pytest.fixture(scope="session")
def permissive(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Iterator[Install]:
    yield from _install(tmp_path_factory.mktemp("permissive-install"), ALLOW_EXEC_CONSTRUCTS="true")


def unique_project(prefix: str) -> str:
    return f"{prefix}-{int(time.time() * 1000) % 10**8}-{secrets.token_hex(2)}"
