"""The installed ``provisioner`` script as CI runs it, and Ctrl-C during ``--wait``: with nobody to
ask, stop watching and say how to cancel; on a terminal, ask, and cancel when told to."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.responses import JobOut
from core.toolchain import Toolchain
from provisioner.cli import watch
from provisioner.client import ProvisionerClient
from tests.cli.helpers import CONSOLE_SCRIPT, JOB_ID, invoke, write_tree
from tests.support.local_server import LocalServer

pytestmark = pytest.mark.terraform

# A job that runs long enough to be interrupted; the service allows local-exec only when told to.
SLOW_TF = """
resource "null_resource" "slow" {
  provisioner "local-exec" {
    command = "sleep 60"
  }
}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Iterator[LocalServer]:
    running = LocalServer(
        tmp_path_factory.mktemp("cli-script") / "data", extra_env={"ALLOW_EXEC_CONSTRUCTS": "true"}
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture
def slow_config(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "slow", {"main.tf": SLOW_TF})


def script(*argv: str, server: LocalServer, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *argv],
        env={**os.environ, "PROVISIONER_URL": server.url},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,
    )


def test_the_console_script_is_installed_and_answers(server: LocalServer) -> None:
    # The endpoint comes from PROVISIONER_URL
    health = script("health", "--json", server=server)
    assert health.returncode == 0, health.stderr
    assert health.stdout.strip() == '{"status": "ok", "version": "1.0.0"}'
    assert script("--help", server=server).returncode == 0


def test_ctrl_c_without_a_terminal_stops_watching_and_says_how_to_cancel(
    server: LocalServer, slow_config: Path
) -> None:
    # Given a deploy --wait in CI: no terminal on stdin
    process = subprocess.Popen(
        [str(CONSOLE_SCRIPT), "deploy", str(slow_config), "--project", "cli-slow", "--wait"],
        env={**os.environ, "PROVISIONER_URL": server.url},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # one line per change: wait for terraform to be applying
        line = process.stderr.readline()
        seen.append(line)
        if ": processing apply" in line or not line:
            break
    job_id = next(match.group(0) for line in seen if (match := JOB_ID.search(line)))

    # When Ctrl-C arrives
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert out == ""  # nothing to report yet: the result would come at the job's end

    # Then it stops watching (130), says how to follow and cancel, and the job runs on
    assert process.returncode == 130, "".join(seen) + err
    assert f"provisioner cancel {job_id}" in err and "keeps running" in err
    assert server.get(f"/api/deploy/status/{job_id}").body["status"] == "processing"

    # And `provisioner cancel` stops it; following its log ends with the job, failed: exit 1
    cancel = script("cancel", job_id, server=server)
    assert cancel.returncode == 0, cancel.stderr
    assert "Cancellation requested" in cancel.stdout
    follow = script("logs", job_id, "--follow", server=server)
    assert follow.returncode == 1, follow.stderr
    assert "failed: cancelled" in follow.stdout
    assert server.get(f"/api/deploy/status/{job_id}").body["error"] == "cancelled"


def test_ctrl_c_on_a_terminal_asks_and_cancels_the_job(
    server: LocalServer, slow_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given someone at a terminal, who answers "cancel"
    asked: list[str] = []

    def answer_cancel(_console: object, job_id: str) -> bool:
        asked.append(job_id)
        return True

    monkeypatch.setattr(watch, "interactive", lambda: True)
    monkeypatch.setattr(watch, "ask_cancel", answer_cancel)
    # and Ctrl-C pressed once terraform is applying
    pressed: list[str] = []
    original_wait = ProvisionerClient.wait

    def wait_with_ctrl_c(
        self: ProvisionerClient, job_id: str, on_update: Callable[[JobOut], None] | None = None, **kw: Any
    ) -> JobOut:
        def update(job: JobOut) -> None:
            if on_update is not None:
                on_update(job)
            if job.phase == "apply" and not pressed:
                pressed.append(job.jobId)
                raise KeyboardInterrupt

        return original_wait(self, job_id, update, **kw)

    monkeypatch.setattr(ProvisionerClient, "wait", wait_with_ctrl_c)

    # When it deploys with --wait
    run = invoke("deploy", str(slow_config), "--project", "cli-slow-tty", "--wait", endpoint=server.url)

    # Then it asked about that job, cancelled it, watched it end, and exits 1 with the reason
    assert asked == pressed == [run.job_id()]
    assert run.code == 1, (run.out, run.err)
    assert "Cancellation requested" in run.err
    assert f"{run.job_id()} failed: cancelled" in run.out
    assert server.get(f"/api/deploy/status/{run.job_id()}").body["error"] == "cancelled"
