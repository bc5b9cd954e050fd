"""Run terraform commands non-interactively, inside the job's jail, and stream what they print.

Each command is its own process group, so a Ctrl-C at a terminal does not reach it twice; the
runner forwards one interrupt itself (to the group, as a terminal would: terraform is inside the
jail's wrappers), and terraform then finishes in-flight operations, writes its state and releases
the state lock before it exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.toolchain import Toolchain
from runner.jail import Jail
from runner.shared_provider import ATTACH_VARIABLE, SharedProvider

EventHandler = Callable[[dict[str, Any]], None]
LineHandler = Callable[[str], None]


@dataclass
class CommandResult:
    args: list[str]
    returncode: int
    stdout: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    stderr_lines: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.interrupted

    def diagnostics(self) -> list[dict[str, Any]]:
        """Error diagnostics from ``-json`` events, or from a ``validate -json`` document."""
        found = [e["diagnostic"] for e in self.events if e.get("type") == "diagnostic" and "diagnostic" in e]
        if not found and self.stdout.lstrip().startswith("{"):
            try:
                found = list(json.loads(self.stdout).get("diagnostics") or [])
            except ValueError:
                found = []
        return [d for d in found if d.get("severity") == "error"]


class Terraform:
    """One working directory, one toolchain; remembers the command running now for interrupts."""

    def __init__(self, toolchain: Toolchain, workdir: Path, env: dict[str, str], jail: Jail) -> None:
        self.toolchain = toolchain
        self.workdir = workdir
        # Only what the confinement gives: nothing of the runner's own environment.
        self.env = toolchain.env(env)
        self.env["TF_CLI_CONFIG_FILE"] = env["TF_CLI_CONFIG_FILE"]
        self.jail = jail
        self._running: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()
        self.interrupted = threading.Event()
        self.shared_provider: SharedProvider | None = None

    def run(
        self,
        args: Sequence[str],
        *,
        json_lines: bool = False,
        on_event: EventHandler | None = None,
        on_line: LineHandler | None = None,
        capture_stdout: bool = False,
    ) -> CommandResult:
        """Run ``terraform <args>``; stream ``-json`` events or text lines to the handlers."""
        result = CommandResult(args=list(args), returncode=-1)
        # Before the check: the first command may wait for the shared provider to listen, and a
        # cancel meanwhile must stop this command from starting.
        env = self._environment()
        if self.interrupted.is_set():
            result.interrupted = True
            return result
        process = subprocess.Popen(
            self.jail.command([str(self.toolchain.binary), *args]),
            pass_fds=self.jail.pass_fds,
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            # Its own process group: a terminal's Ctrl-C reaches only the runner, which forwards
            # one interrupt (a second would make terraform abandon its state). Same session as the
            # runner, so whatever ends the build's session ends the jail's wrappers, and with them
            # terraform (its PID namespace dies with its init).
            process_group=0,
            # What terraform and its commands create is theirs alone unless they say otherwise.
            umask=0o077,
        )
        with self._lock:
            self._running.add(process)
        stderr_thread = threading.Thread(
            target=self._pump_stderr, args=(process, result, on_line), name="terraform-stderr", daemon=True
        )
        stderr_thread.start()
        captured: list[str] = []
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            if capture_stdout:
                captured.append(raw)
            if json_lines and line.startswith("{"):
                try:
                    event = json.loads(line)
                except ValueError:
                    event = None
                if isinstance(event, dict):
                    result.events.append(event)
                    if on_event is not None:
                        on_event(event)
                    continue
            if on_line is not None and not capture_stdout:
                on_line(line)
        result.returncode = process.wait()
        stderr_thread.join()
        with self._lock:
            self._running.discard(process)
        result.stdout = "".join(captured)
        result.interrupted = self.interrupted.is_set()
        return result

    def _environment(self) -> dict[str, str]:
        """Terraform's environment, attached to the shared provider while it serves."""
        attach = self.shared_provider.attach() if self.shared_provider is not None else None
        if attach is None:
            # None, or gone (it should not be): terraform starts its own, as it always did.
            return self.env
        return {**self.env, ATTACH_VARIABLE: attach}

    @staticmethod
    def _pump_stderr(
        process: subprocess.Popen[str], result: CommandResult, on_line: LineHandler | None
    ) -> None:
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.rstrip("\n")
            result.stderr_lines.append(line)
            if on_line is not None:
                on_line(line)

    def interrupt(self) -> None:
        """Ask the running commands to stop gracefully; later commands will not start."""
        self.interrupted.set()
        with self._lock:
            running = list(self._running)
        for process in running:
            if process.poll() is None:
                # The group: the jail's wrappers ignore it or pass it on; terraform handles it.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGINT)

    def run_in_background(self, args: Sequence[str], **options: Any) -> Background:
        """Start a command on a thread; ``Background.result()`` waits for it."""
        return Background(lambda: self.run(args, **options))


class Background:
    """A command running beside another: ``validate`` beside ``plan``, ``show`` beside ``apply``."""

    def __init__(self, work: Callable[[], CommandResult]) -> None:
        self._result: CommandResult | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(work,), name="terraform-background", daemon=True
        )
        self._thread.start()

    def _run(self, work: Callable[[], CommandResult]) -> None:
        try:
            self._result = work()
        except BaseException as exc:  # handed to the waiting thread
            self._error = exc

    def result(self) -> CommandResult:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result
