"""The runner against bare terraform: the same config, the same mirror and emulator.

Bare is ``terraform init && terraform apply -auto-approve`` with local state and a hand-written
provider block; the runner is ``python -m runner`` doing everything a job does (S3 backend with
locking, validate, plan + show, apply, outputs, records). Five runs each of the 20-resource config
(the target's), then three of a 100-resource one: the runner's overhead is per job, not per
resource, so the ratio falls as configurations grow.
"""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from provisioner.emulator import EmulatorServer, ServiceResources, create_service_resources
from provisioner.records import JobAction
from provisioner.toolchain import ensure_toolchain
from tests.support.jobs import Emulated, run_job

SIZES = ((5, 5), (25, 3))  # (groups of four resources, runs)
TARGET_RATIO = 1.10
INIT = ["init", "-input=false", "-no-color"]
APPLY = ["apply", "-auto-approve", "-input=false", "-no-color"]


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


def time_bare(emulated: Emulated, suffix: str, groups: int, endpoints: list[str]) -> float:
    toolchain = ensure_toolchain()
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as directory:
        workdir = Path(directory)
        code = config(suffix, groups) + bare_provider(emulated.endpoint_url, endpoints)
        (workdir / "main.tf").write_text(code)
        env = toolchain.env()
        start = time.perf_counter()
        for args in (INIT, APPLY):
            command = [str(toolchain.binary), *args]
            subprocess.run(command, cwd=workdir, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


def time_runner(emulated: Emulated, suffix: str, groups: int = 5) -> float:
    start = time.perf_counter()
    files = {"main.tf": config(suffix, groups)}
    code, job, output = run_job(emulated, f"bench-{suffix}", files, action=JobAction.DEPLOY)
    elapsed = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"runner failed: {job.get('error')}\n{output[-2000:]}")
    return elapsed


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
    emulated = Emulated(endpoint, resources)
    try:
        time_runner(emulated, "warmup")  # fills the provider-facts cache, as any earlier job would have
        endpoints = aws_endpoint_names()
        for groups, runs in SIZES:
            compare(emulated, endpoints, groups, runs)
    finally:
        server.stop()


def compare(emulated: Emulated, endpoints: list[str], groups: int, runs: int) -> None:
    count = groups * 4
    bare, runner = [], []
    for run in range(runs):
        bare.append(time_bare(emulated, f"bare{count}-{run}", groups, endpoints))
        runner.append(time_runner(emulated, f"runner{count}-{run}", groups))
        print(
            f"  {count} resources, run {run + 1}: bare {bare[-1]:.2f}s  runner {runner[-1]:.2f}s", flush=True
        )
    bare_median, runner_median = statistics.median(bare), statistics.median(runner)
    ratio = runner_median / bare_median
    verdict = "ok" if ratio <= TARGET_RATIO else "over target"
    print(
        f"{count} resources, {runs} runs: bare median {bare_median:.2f}s, runner median {runner_median:.2f}s"
    )
    print(f"runner/bare = {ratio:.3f} (target <= {TARGET_RATIO:.2f}: {verdict})")
    overhead = runner_median - bare_median
    print(
        f"per-job overhead = {overhead:.2f}s (python, records, backend and lock, validate, plan file + show)"
    )
    sys.stdout.flush()
