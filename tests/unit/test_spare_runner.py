"""Local mode's spare runner: a build is given the waiting process, which runs it with the build's
environment, directory and log as a fresh ``python -m runner`` would; a dead spare means a fresh
start; a build's end prepares the next spare, and shutdown leaves none behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from localmode.codebuild import LocalBuilds
from localmode.emulator import REPO_ROOT

# Not a valid runner environment: the runner reads it, says what is wrong, and exits with 2,
# which shows the build's environment and log reached the process without running a job.
BUILD_ENVIRONMENT = {"JOB_ID": "deploy-1-spare", "PROJECT_ID": "spare-test", "JOB_ACTION": "deploy"}


@pytest.fixture
def builds(tmp_path: Path) -> Iterator[LocalBuilds]:
    builds = LocalBuilds(tmp_path / "logs", "us-east-1", "000000000000")
    builds.register_project("runner", BUILD_ENVIRONMENT)
    yield builds
    builds.stop_all(grace_seconds=10)
    assert builds._spare is None


def _run_build(builds: LocalBuilds, marker: str) -> tuple[dict[str, object], str]:
    started = builds.start("runner", [{"name": "SPARE_TEST_MARKER", "value": marker}])
    assert builds.wait_for_end(started["id"], timeout=60)
    build = builds._builds[started["id"]]
    return builds.describe([started["id"]])[0], build.log_path.read_text()


def test_a_build_is_run_by_the_spare_with_its_own_environment_and_log(builds: LocalBuilds) -> None:
    spare = builds._spare
    assert spare is not None and spare.poll() is None
    described, log = _run_build(builds, "first")
    build = next(iter(builds._builds.values()))
    assert build.process is spare  # the waiting process became the build's runner
    assert described["buildStatus"] == "FAILED"
    assert spare.returncode == 2
    assert "invalid runner environment" in log
    # The next spare is ready for the next build, and is another process.
    assert builds._spare is not None and builds._spare.pid != spare.pid


def test_an_order_replaces_the_environment_directory_and_output(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    order = {"environment": {"ONLY": "this", "PATH": "/usr/bin:/bin"}, "cwd": str(tmp_path), "log": str(log)}
    script = (
        "import json, os, sys\n"
        "from runner.spare import take_order\n"
        f"take_order({order!r})\n"
        "print(json.dumps({'env': dict(os.environ), 'cwd': os.getcwd(), 'stdin': sys.stdin.read()}))\n"
        "print('to stderr', file=sys.stderr)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env={**os.environ, "SPARE_ONLY_BEFORE": "1", "PYTHONPATH": str(REPO_ROOT)},
        input="not for the build",
        text=True,
        check=True,
        timeout=60,
    )
    first, second = log.read_text().splitlines()
    seen = json.loads(first)
    assert seen["env"] == order["environment"]  # nothing of the spare's own environment is left
    assert seen["cwd"] == str(tmp_path)
    assert seen["stdin"] == ""
    assert second == "to stderr"


def test_a_dead_spare_means_a_fresh_runner(builds: LocalBuilds) -> None:
    spare = builds._spare
    assert spare is not None
    spare.kill()
    spare.wait()
    described, log = _run_build(builds, "third")
    build = next(iter(builds._builds.values()))
    assert build.process is not spare and build.process is not None
    assert described["buildStatus"] == "FAILED"
    assert "invalid runner environment" in log
