"""With exec constructs allowed, a legitimate ``local-exec`` runs, and finds itself confined: no
other process's environment, no data directory, no other job's workspace, no route to the
service's emulator, the sandbox or the API, no root, and nothing it starts outlives its job."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.security.conftest import (
    SERVICE_CANARY,
    VICTIM_SECRET,
    Install,
    assert_nothing_leaked,
    unique_project,
)

pytestmark = pytest.mark.terraform

SLEEPER = 86_391


def probe_script(install: Install) -> str:
    emulator = install.server.emulator_url().rsplit(":", 1)[1]
    sandbox = install.server.sandbox_url().rsplit(":", 1)[1]
    api = str(install.server.port)
    data = install.data_dir
    jobs = Path(__file__).resolve().parents[2] / ".toolchain" / "jobs"
    return f"""
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"
echo "procs=$(ls -d /proc/[0-9]* | wc -l)"
for f in /proc/[0-9]*/environ; do cat "$f" 2>/dev/null | tr '\\0' '\\n'; done | sed 's/^/ENV /'
env | sed 's/^/OWNENV /'
cat {data}/secrets.json 2>&1 | sed 's/^/DATA /'
ls -R {data} 2>&1 | head -20 | sed 's/^/DATALS /'
ls {jobs} 2>&1 | sed 's/^/JOBS /'
for d in {jobs}/*/code {jobs}/*/home; do cat $d/* 2>/dev/null; done | head -50 | sed 's/^/OTHER /'
for port in {emulator} {sandbox} {api}; do
  if timeout 3 bash -c "echo > /dev/tcp/127.0.0.1/$port" 2>/dev/null; then echo "REACHED $port"; else echo "unreachable $port"; fi
done
curl -s -m 3 http://169.254.170.2/ >/dev/null 2>&1 && echo "REACHED metadata"
setsid sleep {SLEEPER} </dev/null >/dev/null 2>&1 &
nohup sh -c 'sleep {SLEEPER + 1}' </dev/null >/dev/null 2>&1 &
(sleep {SLEEPER + 2} </dev/null >/dev/null 2>&1 &)
echo probe-done
"""


def sleepers() -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes()
        except OSError:
            continue
        if any(str(SLEEPER + offset).encode() in text for offset in range(3)):
            found.append(int(cmdline.parent.name))
    return found


def test_a_local_exec_finds_itself_confined(permissive: Install) -> None:
    script = probe_script(permissive)
    files = {
        "main.tf": 'resource "null_resource" "probe" {\n  provisioner "local-exec" {\n'
        '    command = file("${path.module}/probe.sh")\n    interpreter = ["/bin/bash", "-c"]\n  }\n}\n',
        "probe.sh": script,
    }
    transcript = permissive.attack(unique_project("probe"), files)
    log = transcript.text
    # The command ran (this install allows it) ...
    assert transcript.ended == "completed", log[-4000:]
    assert "probe-done" in log
    # ... as an unprivileged user of its own, seeing only its own processes
    uid_line = next(line for line in log.splitlines() if "(local-exec): uid=" in line)
    assert "uid=0" not in uid_line and "groups=0" not in uid_line
    procs = int(re.search(r"\(local-exec\): procs=(\d+)", log)[1])  # type: ignore[index]
    assert procs < 20, procs
    # ... with no secret of the service's, the victim's or the data directory's in reach
    assert_nothing_leaked(transcript, permissive.victim_state["lineage"])
    assert SERVICE_CANARY not in log and VICTIM_SECRET not in log
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "SANDBOX_ENDPOINT_URL",
        "JOBS_TABLE",
    ):
        assert f"OWNENV {name}=" not in log, name
    assert "(local-exec): JOBS ls: cannot open directory" in log and "Permission denied" in log
    # ... and no route to the service's emulator, the sandbox, the API or a metadata endpoint
    assert "(local-exec): REACHED" not in log, log[-3000:]
    for url in (permissive.server.emulator_url(), permissive.server.sandbox_url(), permissive.server.url):
        assert f"(local-exec): unreachable {url.rsplit(':', 1)[1]}" in log
    # And what it started in the background did not outlive the job
    deadline = time.monotonic() + 10
    while sleepers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sleepers() == []
    permissive.assert_victim_intact()


def test_a_job_cannot_see_another_projects_sandbox_resources(permissive: Install) -> None:
    # Given the victim's queue, in the victim's own sandbox account
    victim_queue = str(permissive.server.get("/api/deploy/outputs/victim").body["outputs"]["queue"])
    # When another project looks it up by name
    files = {
        "main.tf": 'data "aws_sqs_queue" "v" {\n  name = "victim-jobs"\n}\n'
        'output "x" {\n  value = data.aws_sqs_queue.v.url\n}\n'
    }
    transcript = permissive.attack(unique_project("acct"), files)
    # Then it is not there: each project has an account of its own
    assert transcript.ended == "failed", transcript.text[-3000:]
    assert victim_queue not in transcript.text
