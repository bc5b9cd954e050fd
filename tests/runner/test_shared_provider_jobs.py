"""Jobs with and without the shared provider: one configuration shares one process through
deploy, drift check and destroy; two configurations keep terraform's own provider per
configuration, and each alias still deploys where it says."""

from __future__ import annotations

from typing import Any

import pytest

from core.records import JobAction, log_key
from tests.support.jobs import Emulated, run_job

pytestmark = pytest.mark.terraform

SHARED_NOTE = "one AWS provider process serves all of this job's terraform commands"

ONE_CONFIGURATION = """
resource "aws_sqs_queue" "jobs" {
  name = "{project}-jobs"
}

output "queue" {
  value = aws_sqs_queue.jobs.arn
}
"""

TWO_CONFIGURATIONS = """
provider "aws" {
  region = "us-east-1"
}

provider "aws" {
  alias  = "west"
  region = "eu-west-1"
}

resource "aws_sqs_queue" "east" {
  name = "{project}-east"
}

resource "aws_sqs_queue" "west" {
  provider = aws.west
  name     = "{project}-west"
}

output "east" {
  value = aws_sqs_queue.east.arn
}

output "west" {
  value = aws_sqs_queue.west.arn
}
"""


def _log(emulated: Emulated, job: dict[str, Any]) -> str:
    s3 = emulated.client("s3")
    body = s3.get_object(Bucket=emulated.resources.logs_bucket, Key=log_key(job["projectId"], job["jobId"]))
    return str(body["Body"].read().decode())


def test_one_configuration_shares_one_process_from_deploy_to_destroy(emulated: Emulated) -> None:
    project = "shared-one"
    files = {"main.tf": ONE_CONFIGURATION.replace("{project}", project)}
    for action in (JobAction.DEPLOY, JobAction.DRIFT, JobAction.DESTROY):
        code, job, output = run_job(emulated, project, files, action=action)
        assert code == 0, f"{action.value}: {job.get('error')}\n{output[-2000:]}"
        log = _log(emulated, job)
        assert SHARED_NOTE in log, log[-2000:]
        assert "shared provider did not start" not in output
        if action is JobAction.DEPLOY:
            assert str(job["outputsJson"]).count(":sqs:us-east-1:") == 1
    assert emulated.project(project)["deploymentStatus"] == "destroyed"


def test_two_configurations_keep_one_provider_each_and_their_regions(emulated: Emulated) -> None:
    project = "shared-two"
    files = {"main.tf": TWO_CONFIGURATIONS.replace("{project}", project)}
    code, job, output = run_job(emulated, project, files)
    assert code == 0, f"{job.get('error')}\n{output[-2000:]}"
    assert SHARED_NOTE not in _log(emulated, job)
    outputs = job["outputsJson"]
    assert "arn:aws:sqs:us-east-1:" in outputs and f"{project}-east" in outputs
    assert "arn:aws:sqs:eu-west-1:" in outputs and f"{project}-west" in outputs
