"""Users' own policies in Rego, compiled and evaluated by regorus in a sandboxed subprocess.

Policies are uploaded by users and treated as hostile: regorus holds the GIL and has no time or
memory limit of its own, and its parser is exponential on nested brackets (twenty ``[`` take
minutes), so both compiling and evaluating run in ``python -m policy`` (``policy/__main__.py``),
a fresh process with a minimal environment, an empty temporary working directory and resource
limits, killed with its whole process group at a wall-clock timeout. Anything but a well-formed
answer fails every policy of the call closed (a PolicyError, never a pass).

Conventions follow conftest, Scalr and Gatekeeper: ``deny`` and ``violation`` (sets or arrays)
are failures, ``warn`` are warnings, an undefined rule is empty; an element is a string, or an
object whose ``msg`` or ``message`` is used, else its compact JSON.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from policy.model import PolicyError

Syntax = Literal["v1", "v0"]  # v1: OPA 1.x (``import rego.v1`` also fine); v0: ``deny[msg] { ... }``
MAX_SOURCE_BYTES = 256 * 1024
RESULT_RULES = ("deny", "violation", "warn")

_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
_OPEN_FILES = 32  # the interpreter's start-up needs a handful; no builtin opens any
_WRITTEN_BYTES = 0  # the worker writes no file; its stdout and stderr are pipes, which this does not limit
_ANSWER_BYTES = 64 * 1024 * 1024
_COMPILE_TIMEOUT_SECONDS = 10.0
_COMPILE_MEMORY_MB = 1024


@dataclass(frozen=True)
class RegoPolicy:
    name: str
    source: str
    syntax: Syntax = "v1"


@dataclass(frozen=True)
class RegoOutcome:
    denies: list[str]
    warnings: list[str]

    @property
    def failed(self) -> bool:
        return bool(self.denies)


def compile_policy(source: str, syntax: Syntax = "v1") -> str:
    """Check a policy at upload: its package path (``data.terraform.instances``), or a
    PolicyError with the line and column regorus names for a syntax or compile error, for a
    source over MAX_SOURCE_BYTES, or for a package defining none of deny, violation and warn."""
    _check_size(source)
    answer = _run_worker(
        {"op": "compile", "policies": [{"name": "policy", "source": source, "syntax": syntax}]},
        names=["policy"],
        timeout_seconds=_COMPILE_TIMEOUT_SECONDS,
        memory_mb=_COMPILE_MEMORY_MB,
        doing="compilation",
    )["policy"]
    if isinstance(answer, PolicyError):
        raise answer
    package = answer.get("package")
    if not isinstance(package, str) or not package.startswith("data."):
        raise PolicyError("policy compilation gave no package")
    return package


def evaluate_policies(
    policies: Sequence[RegoPolicy],
    input: Mapping[str, Any],
    *,
    timeout_seconds: float = 10.0,
    memory_mb: int = 1024,
) -> dict[str, RegoOutcome | PolicyError]:
    """Evaluate every policy on one input in ONE sandboxed subprocess (the input is serialized
    once), each policy in its own engine; results keyed by policy name. A policy that cannot be
    evaluated gets a PolicyError; a timeout, crash or garbled answer gives every policy one."""
    names = [policy.name for policy in policies]
    if len(set(names)) != len(names):
        raise ValueError("policy names must be unique")
    results: dict[str, RegoOutcome | PolicyError] = {}
    runnable: list[RegoPolicy] = []
    for policy in policies:
        try:
            _check_size(policy.source)
        except PolicyError as error:
            results[policy.name] = error
        else:
            runnable.append(policy)
    if not runnable:
        return results
    request = {
        "op": "evaluate",
        "policies": [{"name": p.name, "source": p.source, "syntax": p.syntax} for p in runnable],
        "input": input,
    }
    answers = _run_worker(
        request,
        names=[p.name for p in runnable],
        timeout_seconds=timeout_seconds,
        memory_mb=memory_mb,
        doing="evaluation",
    )
    for name, answer in answers.items():
        results[name] = answer if isinstance(answer, PolicyError) else _outcome(answer)
    return {name: results[name] for name in names}


def _check_size(source: str) -> None:
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise PolicyError(f"policy is {size} bytes, over the limit of {MAX_SOURCE_BYTES}")


def _outcome(answer: Mapping[str, Any]) -> RegoOutcome | PolicyError:
    denies, warnings = _strings(answer.get("denies")), _strings(answer.get("warnings"))
    if denies is None or warnings is None:
        return PolicyError("policy evaluation gave a malformed answer")
    return RegoOutcome(denies=denies, warnings=warnings)


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item[:1000] for item in value]
    return None


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):  # DynamoDB's numbers
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def worker_command() -> list[str]:
    """The worker: this interpreter without the user's site directory (-s) or the working
    directory on sys.path (-P); the repo comes from PYTHONPATH in its minimal environment."""
    return [sys.executable, "-s", "-P", "-m", "policy"]


def worker_environment() -> dict[str, str]:
    """All the worker's environment: enough to find the interpreter's tools and the repo's
    packages, and nothing of the caller's (no AWS_* credentials, no RUST_BACKTRACE)."""
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": _REPO_ROOT,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "LC_ALL": "C.UTF-8",
    }


def _limits(timeout_seconds: float, memory_mb: int) -> Any:
    cpu_seconds = math.ceil(timeout_seconds) + 1

    def apply() -> None:  # runs in the child between fork and exec: setrlimit calls only
        memory = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_NOFILE, (_OPEN_FILES, _OPEN_FILES))
        resource.setrlimit(resource.RLIMIT_FSIZE, (_WRITTEN_BYTES, _WRITTEN_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


class _WorkerFailed(Exception):
    """The worker gave no usable answer: every policy of its call fails with this message."""


def _run_worker(
    request: Mapping[str, Any],
    *,
    names: Sequence[str],
    timeout_seconds: float,
    memory_mb: int,
    doing: str,
) -> dict[str, dict[str, Any] | PolicyError]:
    try:
        results = _exchange(request, timeout_seconds=timeout_seconds, memory_mb=memory_mb, doing=doing)
    except _WorkerFailed as failed:
        return {name: PolicyError(str(failed)) for name in names}
    return {name: _result(results.get(name), doing) for name in names}


def _exchange(
    request: Mapping[str, Any], *, timeout_seconds: float, memory_mb: int, doing: str
) -> dict[str, Any]:
    """Send the request to a fresh worker and return its results by policy name."""
    try:
        payload = json.dumps(request, separators=(",", ":"), default=_json_default).encode()
    except (TypeError, ValueError) as error:
        raise _WorkerFailed(f"policy input is not JSON: {error}") from None
    code, stdout, stderr = _spawn(payload, timeout_seconds=timeout_seconds, memory_mb=memory_mb, doing=doing)
    if code != 0:
        raise _WorkerFailed(_crash_message(doing, code, stderr, timeout_seconds, memory_mb))
    malformed = _WorkerFailed(f"policy {doing} gave a malformed answer")
    if len(stdout) > _ANSWER_BYTES:
        raise malformed
    try:
        answer = json.loads(stdout)
    except ValueError:
        raise malformed from None
    if not isinstance(answer, dict):
        raise malformed
    fatal = answer.get("fatal")
    if fatal == "out of memory":
        raise _WorkerFailed(f"policy {doing} ran out of memory ({memory_mb} MiB)")
    if fatal is not None:
        raise _WorkerFailed(f"policy {doing} failed: {str(fatal)[:1000]}")
    results = answer.get("results")
    if not isinstance(results, dict):
        raise malformed
    return results


def _spawn(payload: bytes, *, timeout_seconds: float, memory_mb: int, doing: str) -> tuple[int, bytes, bytes]:
    """Run the worker once on the payload: its exit code, stdout and stderr."""
    with tempfile.TemporaryDirectory(prefix="rego-") as workdir:
        try:
            process = subprocess.Popen(
                worker_command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=workdir,
                env=worker_environment(),
                preexec_fn=_limits(timeout_seconds, memory_mb),  # noqa: PLW1509 - setrlimit calls only
                start_new_session=True,  # its own process group, killed whole at the timeout
            )
        except OSError as error:
            raise _WorkerFailed(f"policy {doing} could not start: {error}") from None
        try:
            stdout, stderr = process.communicate(payload, timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            raise _WorkerFailed(f"policy {doing} timed out after {timeout_seconds:g} s") from None
        finally:
            _kill_group(process)
    return process.returncode, stdout, stderr


def _result(result: Any, doing: str) -> dict[str, Any] | PolicyError:
    if not isinstance(result, dict):
        return PolicyError(f"policy {doing} gave no answer for this policy")
    error = result.get("error")
    if not isinstance(error, dict):
        return result
    line, column = error.get("line"), error.get("column")
    return PolicyError(
        str(error.get("message"))[:1000],
        line=line if isinstance(line, int) else None,
        column=column if isinstance(column, int) else None,
    )


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the worker's whole process group (the worker leads it) unless it has exited."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def _crash_message(  # noqa: PLR0911 - a return per way of dying
    doing: str, code: int, stderr: bytes, timeout_seconds: float, memory_mb: int
) -> str:
    text = stderr[-4000:].decode("utf-8", "replace")
    if "memory allocation" in text or "MemoryError" in text or "out of memory" in text.lower():
        return f"policy {doing} ran out of memory ({memory_mb} MiB)"
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        return f"policy {doing} timed out after {timeout_seconds:g} s (CPU limit)"
    if "overflowed its stack" in text:
        return f"policy {doing} crashed: stack overflow"
    if code == -signal.SIGSEGV:  # regorus overflows its stack on unbounded recursion (f(x) := f(x + 1))
        return f"policy {doing} crashed (SIGSEGV: a stack overflow, e.g. unbounded recursion)"
    if code == -signal.SIGABRT:
        return f"policy {doing} crashed (aborted; likely out of memory at {memory_mb} MiB)"
    if code < 0:
        return f"policy {doing} crashed with signal {signal.Signals(-code).name}"
    return f"policy {doing} failed: worker exited with code {code}"
