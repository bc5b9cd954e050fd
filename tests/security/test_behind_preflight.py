"""The layers behind preflight, with preflight switched off: a runner that let every construct
through must still stop each attack with the wall (terraform's allow-lists, the decoded-plan check,
the bridges, the jail), so an attack preflight does not recognise gains nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from core.records import JobAction
from core.toolchain import Toolchain
from runner import pipeline
from runner.pipeline import Run
from runner.settings import RunnerSettings
from runner.store import RunStore
from tests.security.conftest import Transcript
from tests.support.jobs import Emulated, run_job, runner_environment, submit_job

pytestmark = pytest.mark.terraform

VICTIM = "behind-victim"
MARKER = "PWN42ED"
COMMAND = "echo PWN$((40+2))ED"


@pytest.fixture(scope="module")
def victim(emulated: Emulated, toolchain: Toolchain) -> dict[str, Any]:
    code, _job, output = run_job(
        emulated, VICTIM, {"main.tf": 'resource "aws_sqs_queue" "q" {\n  name = "v"\n}\n'}
    )
    assert code == 0, output
    return emulated.state(VICTIM)


@pytest.fixture
def no_preflight(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(pipeline, "preflight", lambda configuration, policy=None: [])
    yield


def run_in_process(
    emulated: Emulated, project: str, files: dict[str, str], toolchain: Toolchain
) -> dict[str, Any]:
    job_id = submit_job(emulated, project, files)
    settings = RunnerSettings.from_environment(
        runner_environment(emulated, project, job_id, JobAction.DEPLOY)
    )
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    Run(settings, toolchain, RunStore(settings, session), session).execute()
    job = emulated.job(job_id)
    log = emulated.client("s3").get_object(
        Bucket=emulated.resources.logs_bucket, Key=f"logs/{project}/{job_id}.log"
    )
    job["log"] = log["Body"].read().decode()
    return job


# The backend settings the runner writes for terraform >= 1.6, through the job's state bridge.
BRIDGED: dict[str, Any] = {
    "bucket": "provisioner-state",
    "region": "us-east-1",
    "dynamodb_table": "provisioner-terraform-locks",
    "endpoints": {
        "s3": "http://127.0.0.1:4510",
        "dynamodb": "http://127.0.0.1:4510",
        "sts": "http://127.0.0.1:4510",
    },
    "use_path_style": True,
    "skip_requesting_account_id": True,
    "skip_credentials_validation": True,
    "access_key": "x",
    "secret_key": "x",
}


def attacks(emulated: Emulated) -> dict[str, dict[str, str]]:
    service = emulated.endpoint_url
    victim_key = f"projects/{VICTIM}/terraform.tfstate"
    return {
        "a local-exec provisioner": {
            "main.tf": f'resource "null_resource" "x" {{\n  provisioner "local-exec" {{\n    command = "{COMMAND}"\n  }}\n}}\n'
        },
        "the external provider": {
            "main.tf": f'data "external" "x" {{\n  program = ["sh", "-c", "{COMMAND}"]\n}}\n'
        },
        "a backend override onto the victim's state": {
            "main.tf": 'resource "null_resource" "x" {}\n',
            # An override replaces the whole backend block: all the runner wrote, but the key
            "backend_override.tf.json": json.dumps(
                {"terraform": {"backend": {"s3": {**BRIDGED, "key": victim_key}}}}
            ),
        },
        "a provider pointed at the service's emulator": {
            "main.tf": 'provider "aws" {\n  region = "us-east-1"\n  access_key = "test"\n  secret_key = "test"\n'
            "  skip_credentials_validation = true\n  skip_requesting_account_id = true\n"
            f'  s3_force_path_style = true\n  endpoints {{\n    s3 = "{service}"\n  }}\n}}\n'
            f'data "aws_s3_bucket_object" "v" {{\n  bucket = "provisioner-state"\n  key = "{victim_key}"\n}}\n'
            'output "x" {\n  value = data.aws_s3_bucket_object.v.body\n}\n'
        },
        "remote state through the state bridge": {
            "main.tf.json": json.dumps(
                {
                    "data": {
                        "terraform_remote_state": {
                            "v": {
                                "backend": "s3",
                                "config": {**BRIDGED, "key": victim_key, "dynamodb_table": None},
                            }
                        }
                    },
                    "output": {"x": {"value": "${data.terraform_remote_state.v.outputs}"}},
                }
            )
        },
        "a module from outside the workspace": {
            "main.tf": 'module "m" {\n  source = "file:///etc"\n}\n',
        },
        "the environment of the first process": {
            "main.tf": 'output "x" {\n  value = file("/proc/1/environ")\n}\n',
        },
    }


@pytest.mark.parametrize(
    "name",
    [
        "a local-exec provisioner",
        "the external provider",
        "a backend override onto the victim's state",
        "a provider pointed at the service's emulator",
        "remote state through the state bridge",
        "a module from outside the workspace",
        "the environment of the first process",
    ],
)
def test_the_wall_holds_without_preflight(
    emulated: Emulated,
    toolchain: Toolchain,
    victim: dict[str, Any],
    no_preflight: None,
    name: str,
    record_outcome: Any,
) -> None:
    project = f"behind-{abs(hash(name)) % 10**8}"
    job = run_in_process(emulated, project, attacks(emulated)[name], toolchain)
    record_outcome(Transcript(200, job, json.dumps(job, default=str)))
    text = json.dumps(job, default=str)
    assert MARKER not in text
    assert victim["lineage"] not in text.replace(job.get("jobId", ""), "")
    for secret in ("AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", emulated.endpoint_url):
        assert secret not in job.get("outputsJson", ""), secret
    # the victim's state is as it was
    now = emulated.state(VICTIM)
    assert (now["serial"], now["lineage"]) == (victim["serial"], victim["lineage"])
    if name != "the environment of the first process":
        assert job["status"] == "failed", job["log"][-3000:]
