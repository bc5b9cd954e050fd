"""The runner against bare terraform: the same config, the same mirror and emulator.

Six ways to apply the same configuration, so the runner's overhead is measured, not guessed:

- bare: ``terraform init && terraform apply -auto-approve``, local state, a hand-written provider
  block (the target's baseline);
- bare + backend: the same with the S3 backend and DynamoDB lock the runner uses;
- sequence: terraform alone running the runner's commands (init, plan -out, show, apply of the
  plan file) on that backend, without any of the runner's Python;
- sequence + shared: the same with one AWS provider process serving plan, show and apply, as the
  runner does (runner/shared_provider.py);
- runner: ``python -m runner`` doing everything a job does (workspace, preflight, overrides, the
  sequence, progress and log records, redacted plan, outputs);
- local: ``make local``'s service end to end, from ``POST /api/deploy`` until the status answer
  says ``completed`` (the API, the workflow in the emulator, the CodeBuild stand-in, the runner in
  its sandbox account), and from the POST to the first log line in the status answer.

sequence/bare is what the issue's command sequence costs by itself; runner/sequence is the
issue's ratio, and runner/(sequence + shared) the cost of the runner's Python alone. Five runs of
the 20-resource config (the target's), three of 100 resources: both overheads are mostly per job
(the runner's own work grows a little with the events and plan it handles), so the ratios fall as
configurations grow.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.records import JobAction, new_job_id
from localmode.emulator import EmulatorServer, ServiceResources, create_service_resources
from localmode.sandbox import SandboxProcess
from runner import shared_provider
from runner.confinement import BackendAccess
from runner.jail import Jail
from runner.overrides import backend_document
from runner.settings import RunnerSettings
from tests.support.jobs import Emulated, runner_environment, start_runner, submit_job
from tests.support.local_server import LocalServer
from tooling.toolchain import ensure_toolchain

SIZES = ((5, 5), (25, 3))  # (groups of four resources, runs)
# BENCH_QUICK=1: one run of 20 resources, to try the bench itself.
QUICK_SIZES = ((5, 1),)
TARGET_RATIO = 1.10
# The targets: the runner against terraform running the same sequence, local mode end to
# end against the runner, and the time until a job's first log line.
RUNNER_TARGET = 1.10
LOCAL_TARGET = 1.15
FIRST_LINE_TARGET_SECONDS = 1.0
STATUS_POLL_SECONDS = 0.05
INIT = ["init", "-input=false", "-no-color"]
APPLY = ["apply", "-auto-approve", "-input=false", "-no-color"]
PLAN = ["plan", "-input=false", "-json", "-no-color", "-out=tfplan"]
SHOW = ["show", "-json", "-no-color", "tfplan"]
APPLY_PLAN = ["apply", "-input=false", "-json", "-auto-approve", "tfplan"]


def config(suffix: str, groups: int = 5) -> str:
    blocks = []
    for index in range(groups):
        blocks.append(f'resource "aws_s3_bucket" "b{index}" {{\n  bucket = "bench-{suffix}-{index}"\n}}\n')
        blocks.append(f'resource "aws_sqs_queue" "q{index}" {{\n  name = "bench-{suffix}-{index}"\n}}\n')
        blocks.append(
            f'resource "aws_dynamodb_table" "t{index}" {{\n  name = "bench-{suffix}-{index}"\n'
            '  billing_mode = "PAY_PER_REQUEST"\n  hash_key = "id"\n'
            '  attribute {\n    name = "id"\n    type = "S"\n  }\n}\n'
        )
        blocks.append(
            f'resource "aws_iam_role" "r{index}" {{\n  name = "bench-{suffix}-{index}"\n'
            '  assume_role_policy = jsonencode({Version = "2012-10-17", Statement = []})\n}\n'
        )
    blocks.append('output "first_bucket" {\n  value = aws_s3_bucket.b0.arn\n}\n')
    return "".join(blocks)


def bare_provider(endpoint: str, schema_endpoints: list[str]) -> str:
    endpoints = "\n".join(f'    {name} = "{endpoint}"' for name in schema_endpoints)
    return (
        'provider "aws" {\n  region = "us-east-1"\n  access_key = "test"\n  secret_key = "test"\n'
        "  s3_force_path_style = true\n  skip_credentials_validation = true\n"
        "  skip_metadata_api_check = true\n  skip_get_ec2_platforms = true\n"
        f"  endpoints {{\n{endpoints}\n  }}\n}}\n"
    )


def time_terraform(
    emulated: Emulated,
    suffix: str,
    groups: int,
    endpoints: list[str],
    *,
    backend: bool,
    sequence: bool,
    shared: bool = False,
) -> float:
    """Terraform alone: ``init && apply``, or the runner's command sequence when ``sequence``;
    ``shared``: after init, one AWS provider process serves the other commands, as in the runner."""
    toolchain = ensure_toolchain()
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as directory:
        workdir = Path(directory)
        code = config(suffix, groups) + bare_provider(emulated.endpoint_url, endpoints)
        (workdir / "main.tf").write_text(code)
        if backend:
            environment = runner_environment(
                emulated, f"bench-{suffix}", new_job_id(JobAction.DEPLOY), JobAction.DEPLOY
            )
            settings = RunnerSettings.from_environment(environment)
            # Straight to the emulator: the bare baseline has no jail and no bridges.
            access = BackendAccess(endpoint=emulated.endpoint_url, static_keys=("test", "test"))
            document = backend_document(settings, toolchain.version, access)
            (workdir / "backend_override.tf.json").write_text(json.dumps(document))
        env = toolchain.env({**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})

        def start(args: list[str]) -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [str(toolchain.binary), *args],
                cwd=workdir,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )

        def wait(*processes: subprocess.Popen[bytes]) -> None:
            for process in processes:
                _, stderr = process.communicate()
                if process.returncode != 0:
                    raise SystemExit(f"terraform {process.args!r} failed:\n{stderr.decode()[-2000:]}")

        began = time.perf_counter()
        wait(start(INIT))
        provider = shared_provider.start(workdir, Jail(user=None, namespaces=False), env) if shared else None
        try:
            attach = provider.attach() if provider is not None else None
            if shared and attach is None:
                raise SystemExit("the shared provider did not start")
            if attach is not None:
                env[shared_provider.ATTACH_VARIABLE] = attach
            if sequence:
                for command in (PLAN, SHOW, APPLY_PLAN):
                    wait(start(command))
            else:
                wait(start(APPLY))
        finally:
            if provider is not None:
                provider.stop()
        return time.perf_counter() - began


def time_runner(emulated: Emulated, suffix: str, groups: int = 5) -> float:
    """The build alone: the job is submitted first, as the API does before a build starts."""
    project_id = f"bench-{suffix}"
    job_id = submit_job(emulated, project_id, {"main.tf": config(suffix, groups)})
    start = time.perf_counter()
    process = start_runner(emulated, project_id, job_id, JobAction.DEPLOY)
    output, _ = process.communicate(timeout=600)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"runner failed: {emulated.job(job_id).get('error')}\n{output[-2000:]}")
    return elapsed


def time_local(server: LocalServer, suffix: str, groups: int) -> tuple[float, float]:
    """POST to ``completed``, and POST to the first log line, as a client polling the API sees."""
    began = time.perf_counter()
    reply = server.post("/api/deploy", {"projectId": f"bench-{suffix}", "iacCode": config(suffix, groups)})
    if reply.status != 202:
        raise SystemExit(f"local deploy refused: {reply.status} {reply.body}")
    job_id = reply.body["jobId"]
    first_line: float | None = None
    while True:
        status = server.get(f"/api/deploy/status/{job_id}").body
        now = time.perf_counter()
        if first_line is None and (status.get("result") or {}).get("logs"):
            first_line = now - began
        if status["status"] in ("completed", "failed"):
            if status["status"] != "completed":
                raise SystemExit(f"local deploy failed: {status.get('error')}")
            return now - began, first_line if first_line is not None else now - began
        time.sleep(STATUS_POLL_SECONDS)


def aws_endpoint_names() -> list[str]:
    facts = sorted((ensure_toolchain().root / "provider-facts").glob("*.json"))
    for path in facts:
        endpoints = json.loads(path.read_text())["endpoints"]
        for address, names in endpoints.items():
            if address.endswith("/hashicorp/aws"):
                return list(names)
    raise SystemExit("no provider facts cached yet: run one runner job first")


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = EmulatorServer()
    endpoint = server.start()
    resources = ServiceResources()
    create_service_resources(endpoint, resources)
    sandbox = SandboxProcess()
    emulated = Emulated(endpoint, resources, sandbox.endpoint_url)
    local = LocalServer(Path(tempfile.mkdtemp(prefix="bench-local-")) / "data")
    try:
        local.start()
        time_runner(emulated, "warmup")  # fills the provider-facts cache, as any earlier job would have
        time_local(local, "warmup", 1)
        endpoints = aws_endpoint_names()
        for groups, runs in QUICK_SIZES if os.environ.get("BENCH_QUICK") else SIZES:
            compare(emulated, local, endpoints, groups, runs)
    finally:
        local.stop()
        sandbox.stop()
        server.stop()


def compare(emulated: Emulated, local: LocalServer, endpoints: list[str], groups: int, runs: int) -> None:
    count = groups * 4
    names = ("bare", "bare+backend", "sequence", "sequence+shared", "runner", "local")
    timings: dict[str, list[float]] = {name: [] for name in names}
    first_lines: list[float] = []
    for run in range(runs):
        tag = f"{count}-{run}"
        timings["bare"].append(
            time_terraform(emulated, f"bare{tag}", groups, endpoints, backend=False, sequence=False)
        )
        timings["bare+backend"].append(
            time_terraform(emulated, f"backend{tag}", groups, endpoints, backend=True, sequence=False)
        )
        timings["sequence"].append(
            time_terraform(emulated, f"sequence{tag}", groups, endpoints, backend=True, sequence=True)
        )
        timings["sequence+shared"].append(
            time_terraform(
                emulated, f"shared{tag}", groups, endpoints, backend=True, sequence=True, shared=True
            )
        )
        timings["runner"].append(time_runner(emulated, f"runner{tag}", groups))
        end_to_end, first_line = time_local(local, f"local{tag}", groups)
        timings["local"].append(end_to_end)
        first_lines.append(first_line)
        figures = "  ".join(f"{name} {values[-1]:.2f}s" for name, values in timings.items())
        print(f"  {count} resources, run {run + 1}: {figures}", flush=True)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    print(
        f"{count} resources, {runs} runs, medians: " + ", ".join(f"{n} {m:.2f}s" for n, m in medians.items())
    )
    _report("runner/bare", medians["runner"] / medians["bare"], TARGET_RATIO, "earlier target")
    _report("runner/sequence", medians["runner"] / medians["sequence"], RUNNER_TARGET)
    print(
        f"  runner/(sequence+shared) = {medians['runner'] / medians['sequence+shared']:.3f} "
        "(the runner's Python against terraform given the runner's shared provider too)"
    )
    _report("local/runner", medians["local"] / medians["runner"], LOCAL_TARGET)
    _report("POST -> first log line (s)", statistics.median(first_lines), FIRST_LINE_TARGET_SECONDS)
    print(
        f"  bare+backend/bare = {medians['bare+backend'] / medians['bare']:.3f} (S3 state and DynamoDB lock)"
    )
    print(
        f"  sequence/bare+backend = {medians['sequence'] / medians['bare+backend']:.3f} "
        "(plan file, show, a second process to apply it)"
    )
    print(f"  the runner's own work: {medians['runner'] - medians['sequence+shared']:.2f}s a job")
    print(f"  the shared provider saves: {medians['sequence'] - medians['sequence+shared']:.2f}s a job")
    print(f"  local mode's orchestration: {medians['local'] - medians['runner']:.2f}s a job")
    sys.stdout.flush()


def _report(name: str, value: float, target: float, label: str = "target") -> None:
    verdict = "ok" if value <= target else "over target"
    print(f"{name} = {value:.3f} ({label} <= {target:.2f}: {verdict})")
