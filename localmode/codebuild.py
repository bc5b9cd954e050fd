"""A local stand-in for CodeBuild: each build is the runner (``python -m runner``) as a subprocess.

A build gets the project's environment variables plus the start request's overrides, exactly as a
CodeBuild build would; it is reported in CodeBuild's own shape (``buildStatus`` IN_PROGRESS,
SUCCEEDED, FAILED, STOPPED, TIMED_OUT), and stopping it sends SIGTERM, as CodeBuild does, so the
runner's signal path records the job as cancelled. Build output goes to a log file per build.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localmode.emulator import REPO_ROOT

# What a build inherits from the machine; everything else comes from the project and the request.
INHERITED = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "TERRAFORM_BIN",
    "PROVISIONER_TOOLCHAIN_DIR",
    "SSL_CERT_FILE",
)
RUNNER_COMMAND = (sys.executable, "-m", "runner")
SPARE_COMMAND = (sys.executable, "-m", "runner.spare")
STOP_GRACE_SECONDS = 300.0
IDEMPOTENCY_WINDOW_SECONDS = 300.0


@dataclass
class Build:
    id: str
    project: str
    number: int
    environment: dict[str, str]
    process_env: dict[str, str]
    log_path: Path
    timeout_minutes: int
    # None while the build waits for a free slot (CodeBuild's QUEUED phase).
    process: subprocess.Popen[bytes] | None = None
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended: datetime | None = None
    stop_requested: bool = False
    timed_out: bool = False
    # Its runner exited and was reaped (its session ended), or it was stopped while queued.
    finished: bool = False

    @property
    def status(self) -> str:
        if self.process is None:
            return "STOPPED" if self.stop_requested else "IN_PROGRESS"
        code = self.process.poll()
        if code is None:
            return "IN_PROGRESS"
        if self.timed_out:
            return "TIMED_OUT"
        if self.stop_requested:
            return "STOPPED"
        return "SUCCEEDED" if code == 0 else "FAILED"

    def describe(self, region: str, account: str) -> dict[str, Any]:
        status = self.status
        if status != "IN_PROGRESS" and self.ended is None:
            self.ended = datetime.now(UTC)
        phase = "COMPLETED" if status != "IN_PROGRESS" else ("QUEUED" if self.process is None else "BUILD")
        described: dict[str, Any] = {
            "id": self.id,
            "arn": f"arn:aws:codebuild:{region}:{account}:build/{self.id}",
            "buildNumber": self.number,
            "projectName": self.project,
            "buildStatus": status,
            "buildComplete": status != "IN_PROGRESS",
            "currentPhase": phase,
            "startTime": self.started,
            "timeoutInMinutes": self.timeout_minutes,
            "environment": {
                "type": "LINUX_CONTAINER",
                "environmentVariables": [
                    {"name": name, "value": value, "type": "PLAINTEXT"}
                    for name, value in sorted(self.environment.items())
                ],
            },
            "logs": {"deepLink": self.log_path.as_uri()},
        }
        if self.ended is not None:
            described["endTime"] = self.ended
        return described


def max_builds_from_environment() -> int:
    """``LOCAL_MAX_BUILDS``: how many runners run at once; the default is the machine's cores.

    Each runner, with its terraform and provider, holds some 300 MiB (measured: 20 at once, 6 GiB),
    and on two cores more than two at once only share the same CPU: later builds wait, queued.
    """
    raw = os.environ.get("LOCAL_MAX_BUILDS", "")
    if not raw:
        return max(2, os.cpu_count() or 2)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"LOCAL_MAX_BUILDS must be a whole number of at least 1, not {raw!r}")
    return value


class LocalBuilds:
    """The builds of the projects registered here; moto's CodeBuild keeps answering for any other.

    At most ``max_running`` runner processes live at once; a build started beyond that is queued
    (``IN_PROGRESS``, phase ``QUEUED``, as CodeBuild queues builds over its concurrency limit)
    and starts, in order, when a running one ends. Each end is signalled at once to whoever
    waits for it (:meth:`wait_for_end`: the workflow's ``.sync`` task), so nothing polls a build.
    """

    def __init__(
        self,
        log_dir: Path,
        region: str,
        account: str,
        *,
        max_running: int = 2,
        command: Sequence[str] = RUNNER_COMMAND,
    ) -> None:
        self.log_dir = log_dir
        self.region = region
        self.account = account
        self.max_running = max_running
        self.command = list(command)
        # A runner waiting for its build (runner/spare.py), for the runner itself only.
        self._keeps_spare = tuple(command) == RUNNER_COMMAND
        self._spare: subprocess.Popen[bytes] | None = None
        self._projects: dict[str, tuple[dict[str, str], int]] = {}
        self._builds: dict[str, Build] = {}
        self._queued: deque[Build] = deque()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._counter = 0
        self._start_faults: list[str] = []
        self._by_token: dict[str, tuple[float, str]] = {}

    def register_project(self, name: str, environment: Mapping[str, str], timeout_minutes: int = 120) -> None:
        self._projects[name] = (dict(environment), timeout_minutes)
        self.prepare_spare()

    def prepare_spare(self) -> None:
        """Start a runner that waits for the next build, unless one waits already. Called when a
        build ends rather than when the spare is taken: its start would compete with that build."""
        with self._lock:
            if not self._keeps_spare or (self._spare is not None and self._spare.poll() is None):
                return
            environment = {name: os.environ[name] for name in INHERITED if name in os.environ}
            self._spare = subprocess.Popen(
                SPARE_COMMAND,
                cwd=REPO_ROOT,
                env={**environment, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )

    def _take_spare(self, build: Build) -> subprocess.Popen[bytes] | None:
        """The waiting runner, given this build's order; None if there is none (or it died)."""
        spare, self._spare = self._spare, None
        if spare is None or spare.poll() is not None or spare.stdin is None:
            return None
        order = {"environment": build.process_env, "cwd": str(REPO_ROOT), "log": str(build.log_path)}
        try:
            spare.stdin.write(json.dumps(order).encode() + b"\n")
            spare.stdin.close()
        except OSError:
            spare.kill()
            spare.wait()
            return None
        return spare

    def inject_start_faults(self, error_code: str, times: int = 1) -> None:
        """Fault injection: the next starts fail with this CodeBuild error (ThrottlingException, ...)."""
        with self._lock:
            self._start_faults += [error_code] * times

    def take_start_fault(self) -> str | None:
        with self._lock:
            return self._start_faults.pop(0) if self._start_faults else None

    def handles_project(self, name: str) -> bool:
        return name in self._projects

    def handles_build(self, build_id: str) -> bool:
        return build_id in self._builds

    def start(
        self, project: str, overrides: list[Mapping[str, Any]] | None, idempotency_token: str | None = None
    ) -> dict[str, Any]:
        if idempotency_token:
            with self._lock:
                seen = self._by_token.get(idempotency_token)
            # CodeBuild honours a token for 5 minutes: the same start again returns the same build.
            if seen is not None and time.monotonic() - seen[0] < IDEMPOTENCY_WINDOW_SECONDS:
                return self._builds[seen[1]].describe(self.region, self.account)
        environment, timeout = self._projects[project]
        build_id = f"{project}:{uuid.uuid4()}"
        variables = {**environment}
        for override in overrides or []:
            variables[str(override["name"])] = str(override.get("value", ""))
        variables["CODEBUILD_BUILD_ID"] = build_id
        # As CodeBuild sets it: the runner's start-up span begins when the build was asked for.
        variables["CODEBUILD_START_TIME"] = str(int(time.time() * 1000))
        process_env = {name: os.environ[name] for name in INHERITED if name in os.environ}
        process_env.update(variables)
        process_env["PYTHONPATH"] = str(REPO_ROOT)
        process_env["PYTHONUNBUFFERED"] = "1"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{build_id.replace(':', '_')}.log"
        with self._lock:
            self._counter += 1
            build = Build(build_id, project, self._counter, variables, process_env, log_path, timeout)
            self._builds[build_id] = build
            if idempotency_token:
                self._by_token[idempotency_token] = (time.monotonic(), build_id)
            if self._running_count() < self.max_running:
                self._launch(build)
            else:
                self._queued.append(build)
            return build.describe(self.region, self.account)

    def _running_count(self) -> int:
        return sum(1 for b in self._builds.values() if b.process is not None and not b.finished)

    def _launch(self, build: Build) -> None:
        """Start the build's runner (the lock is held): the spare if one waits, else a new one."""
        with build.log_path.open("wb") as log:
            build.process = self._take_spare(build) or subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                env=build.process_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _write_pid_file(self.log_dir, build)
        threading.Thread(target=self._run, args=(build,), name=f"build-{build.number}", daemon=True).start()

    def describe(self, build_ids: list[str]) -> list[dict[str, Any]]:
        with self._lock:
            return [
                self._builds[i].describe(self.region, self.account) for i in build_ids if i in self._builds
            ]

    def stop(self, build_id: str) -> dict[str, Any]:
        with self._lock:
            build = self._builds[build_id]
            if build.process is None:
                # Queued: it never starts.
                if build in self._queued:
                    self._queued.remove(build)
                    build.stop_requested = True
                    build.finished = True
                    self._changed.notify_all()
            elif build.process.poll() is None:
                build.stop_requested = True
                build.process.send_signal(signal.SIGTERM)
                threading.Thread(target=self._kill_after_grace, args=(build,), daemon=True).start()
            return build.describe(self.region, self.account)

    def wait_for_end(self, build_id: str, timeout: float | None) -> bool:
        """Block until the build has ended (its runner exited, or it was stopped while queued),
        at most ``timeout`` seconds (None: no limit); whether it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                build = self._builds.get(build_id)
                if build is None or build.finished:
                    return build is not None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._changed.wait(remaining)

    def wait(self, build_id: str, timeout: float | None = None) -> str:
        if not self.wait_for_end(build_id, timeout):
            raise subprocess.TimeoutExpired(self.command, timeout or 0)
        return self._builds[build_id].status

    def for_job(self, job_id: str) -> list[dict[str, Any]]:
        """The builds that ran a job (a retried start can make more than one)."""
        ids = [i for i, b in self._builds.items() if b.environment.get("JOB_ID") == job_id]
        return self.describe(ids)

    def summary(self) -> list[dict[str, Any]]:
        return [
            {
                "id": b.id,
                "jobId": b.environment.get("JOB_ID"),
                "pid": b.process.pid if b.process is not None else None,
                "status": b.status,
            }
            for b in list(self._builds.values())
        ]

    def running(self) -> list[str]:
        """Builds whose runner is running, then the queued ones, in order."""
        with self._lock:
            live = [i for i, b in self._builds.items() if b.process is not None and b.process.poll() is None]
            return live + [b.id for b in self._queued]

    def stop_all(self, grace_seconds: float = 60.0) -> None:
        """At shutdown: ask every runner to stop safely, then wait for them to record it."""
        with self._lock:
            spare, self._spare, self._keeps_spare = self._spare, None, False
        if spare is not None:
            spare.kill()  # it holds nothing: no build was given to it
            spare.wait()
        for build_id in self.running():
            self.stop(build_id)
        deadline = time.monotonic() + grace_seconds
        for build in list(self._builds.values()):
            if build.process is None:
                continue
            remaining = max(0.1, deadline - time.monotonic())
            try:
                build.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                build.process.kill()

    def _run(self, build: Build) -> None:
        """Wait for the runner, enforce the build's timeout, then signal the end and start the next."""
        process = build.process
        assert process is not None
        try:
            process.wait(timeout=build.timeout_minutes * 60)
        except subprocess.TimeoutExpired:
            build.timed_out = True
            process.send_signal(signal.SIGTERM)
            self._kill_after_grace(build)
        finally:
            # A build's container ends with its command: a terraform the runner left behind (it
            # was killed) must not go on applying, or write state, beside the next job.
            end_build_session(process.pid)
            with self._lock:
                build.finished = True
                while self._queued and self._running_count() < self.max_running:
                    self._launch(self._queued.popleft())
                self._changed.notify_all()
            self.prepare_spare()

    @staticmethod
    def _kill_after_grace(build: Build) -> None:
        assert build.process is not None
        try:
            build.process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            build.process.kill()


def _write_pid_file(log_dir: Path, build: Build) -> None:
    assert build.process is not None
    (log_dir / f"{build.log_path.stem}.pid").write_text(str(build.process.pid))


def end_build_session(session: int) -> list[int]:
    """SIGKILL every process left in a build's session (the runner leads it: ``start_new_session``).

    Returns the PIDs signalled. Linux does not reuse a PID while a live process has it as its
    session id, so the members found are the build's own.
    """
    members = _sessions().get(session, [])
    for pid in members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return members


def stop_orphans(log_dir: Path) -> list[int]:
    """Builds a killed server left behind still talk to its dead emulator: end them at start-up.

    Returns the PIDs stopped: the runner and anything it started (terraform, providers, their
    commands) that still lives in the build's session.
    """
    pid_files = list(log_dir.glob("*.pid")) if log_dir.is_dir() else []
    sessions = _sessions() if pid_files else {}
    stopped: list[int] = []
    for pid_file in pid_files:
        try:
            session = int(pid_file.read_text())
        except (OSError, ValueError):
            session = 0
        # a PID file outlives its build: only a session that still runs a runner or terraform is one
        if any(_is_build_process(pid) for pid in sessions.get(session, [])):
            stopped.extend(end_build_session(session))
        pid_file.unlink(missing_ok=True)
    return sorted(stopped)


def _sessions() -> dict[int, list[int]]:
    """Live (not zombie) processes by session id."""
    sessions: dict[int, list[int]] = {}
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            # after the ")" that closes the command name: state, ppid, pgrp, session, ...
            fields = stat_path.read_text().rsplit(")", 1)[1].split()
            state, session = fields[0], int(fields[3])
        except (OSError, IndexError, ValueError):
            continue
        if state != "Z":
            sessions.setdefault(session, []).append(int(stat_path.parent.name))
    return sessions


def _is_build_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"runner" in cmdline or b"terraform" in cmdline
