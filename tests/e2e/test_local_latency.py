"""Local mode's CodeBuild stand-in: at most LOCAL_MAX_BUILDS runners at once (the rest queued, in
order), and a build's end wakes the workflow's ``.sync`` task instead of its next poll.

The builds here run a stand-in command (a Python one-liner that waits for a file the test
creates), so what starts when is decided by the test, never by a clock.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from localmode import compat
from localmode.codebuild import LocalBuilds, max_builds_from_environment

IN_PROCESS = True  # no local server: LocalBuilds in this process, its builds real subprocesses
PROJECT = "runner"
# Waits for the file its build's RELEASE variable names, then exits with its EXIT_CODE.
WAIT_FOR_RELEASE = (
    "import os, pathlib, sys, time\n"
    "release = pathlib.Path(os.environ['RELEASE'])\n"
    "while not release.exists():\n"
    "    time.sleep(0.01)\n"
    "sys.exit(int(os.environ.get('EXIT_CODE', '0')))\n"
)
SAFETY_SECONDS = 60  # only so that a broken wake-up fails the test rather than hanging it


@pytest.fixture
def builds(tmp_path: Path) -> LocalBuilds:
    local = LocalBuilds(
        tmp_path / "builds",
        "us-east-1",
        "123456789012",
        max_running=2,
        command=[sys.executable, "-c", WAIT_FOR_RELEASE],
    )
    local.register_project(PROJECT, {"JOB_ACTION": "deploy"})
    return local


def _start(builds: LocalBuilds, release: Path, exit_code: int = 0) -> str:
    overrides: list[Mapping[str, Any]] = [
        {"name": "RELEASE", "value": str(release)},
        {"name": "EXIT_CODE", "value": str(exit_code)},
    ]
    return str(builds.start(PROJECT, overrides)["id"])


def _phases(builds: LocalBuilds, ids: list[str]) -> list[str]:
    return [build["currentPhase"] for build in builds.describe(ids)]


def _live_processes(builds: LocalBuilds) -> int:
    return sum(1 for build in builds.summary() if build["status"] == "IN_PROGRESS" and build["pid"])


def test_builds_over_the_bound_queue_in_order_and_start_as_others_end(
    builds: LocalBuilds, tmp_path: Path
) -> None:
    releases = [tmp_path / f"release-{index}" for index in range(4)]
    ids = [_start(builds, release) for release in releases]

    assert _phases(builds, ids) == ["BUILD", "BUILD", "QUEUED", "QUEUED"]
    assert _live_processes(builds) == 2
    assert builds.running() == ids  # the two running, then the queue in order
    queued = builds.describe([ids[2]])[0]
    assert queued["buildStatus"] == "IN_PROGRESS" and not queued["buildComplete"]

    releases[0].touch()
    assert builds.wait_for_end(ids[0], SAFETY_SECONDS)
    # the first queued build took the freed slot; the second still waits
    assert _phases(builds, ids) == ["COMPLETED", "BUILD", "BUILD", "QUEUED"]
    assert _live_processes(builds) == 2

    # a queued build that is stopped never starts
    assert builds.stop(ids[3])["buildStatus"] == "STOPPED"
    assert builds.wait_for_end(ids[3], SAFETY_SECONDS)
    for release in releases[1:3]:
        release.touch()
    assert builds.wait(ids[1], SAFETY_SECONDS) == "SUCCEEDED"
    assert builds.wait(ids[2], SAFETY_SECONDS) == "SUCCEEDED"
    summary = {build["id"]: build for build in builds.summary()}
    assert [summary[i]["status"] for i in ids] == ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "STOPPED"]
    assert summary[ids[3]]["pid"] is None
    assert builds.running() == []


def test_a_failing_build_frees_its_slot_too(builds: LocalBuilds, tmp_path: Path) -> None:
    failing, blocked, queued = (tmp_path / name for name in ("failing", "blocked", "queued"))
    first = _start(builds, failing, exit_code=3)
    _start(builds, blocked)
    third = _start(builds, queued)
    assert _phases(builds, [third]) == ["QUEUED"]
    failing.touch()
    assert builds.wait(first, SAFETY_SECONDS) == "FAILED"
    assert _phases(builds, [third]) == ["BUILD"]
    blocked.touch()
    queued.touch()
    assert builds.wait(third, SAFETY_SECONDS) == "SUCCEEDED"


def test_the_end_of_a_build_wakes_the_sync_task_at_once(
    builds: LocalBuilds, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Were the task still polling, its next look would come an hour later.
    monkeypatch.setattr(compat, "SYNC_LOOK_FIRST_SECONDS", 3600.0)
    monkeypatch.setattr(compat, "SYNC_LOOK_AT_MOST_SECONDS", 3600.0)
    release = tmp_path / "release"
    build_id = _start(builds, release)
    looks: list[str] = []

    def resolve() -> dict[str, Any] | None:
        status = str(builds.describe([build_id])[0]["buildStatus"])
        looks.append(status)
        return {"status": status} if status != "IN_PROGRESS" else None

    outcome: list[Any] = []
    waiter = threading.Thread(
        target=lambda: outcome.append(compat.wait_for_build(lambda: True, resolve, builds, build_id))
    )
    waiter.start()
    release.touch()
    waiter.join(SAFETY_SECONDS)

    assert not waiter.is_alive()
    assert outcome == [{"status": "SUCCEEDED"}]
    # one look before the end (or none, if the build was already over), one after
    assert looks[-1] == "SUCCEEDED" and len(looks) <= 2


def test_a_stopped_execution_ends_the_wait_without_an_answer(builds: LocalBuilds, tmp_path: Path) -> None:
    release = tmp_path / "release"
    build_id = _start(builds, release)
    running = iter([True, False])
    assert compat.wait_for_build(lambda: next(running), lambda: None, builds, build_id) is None
    release.touch()
    assert builds.wait(build_id, SAFETY_SECONDS) == "SUCCEEDED"


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("7", 7)])
def test_the_bound_comes_from_local_max_builds(
    value: str, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_MAX_BUILDS", value)
    assert max_builds_from_environment() == expected


def test_the_default_bound_is_the_cores_and_at_least_two(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_MAX_BUILDS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert max_builds_from_environment() == 2
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert max_builds_from_environment() == 8


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bound_that_is_not_a_positive_whole_number_is_refused(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_MAX_BUILDS", value)
    with pytest.raises(ValueError, match="LOCAL_MAX_BUILDS must be a whole number of at least 1"):
        max_builds_from_environment()
