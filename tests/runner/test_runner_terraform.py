"""The runner end to end: real terraform, real AWS provider, moto's server on loopback."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import Any

import pytest

from core.records import JobAction, log_key, plan_key, state_lock_id, state_lockfile_key
from core.toolchain import Toolchain
from tests.support.jobs import Emulated, run_job, start_runner, submit_job

pytestmark = pytest.mark.terraform

APP = """
variable "queue_name" { type = string }

resource "aws_s3_bucket" "assets" {
  bucket = "{project}-assets"
  tags   = { Tier = "{tier}" }
}

resource "aws_dynamodb_table" "items" {
  name         = "{project}-items"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  attribute {
    name = "id"
    type = "S"
  }
}

resource "aws_iam_role" "app" {
  name = "{project}-app"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })
}

resource "aws_sqs_queue" "jobs" {
  name = var.queue_name
}

output "bucket_name" { value = aws_s3_bucket.assets.bucket }
output "table_arn" { value = aws_dynamodb_table.items.arn }
output "queue_url" {
  value     = aws_sqs_queue.jobs.id
  sensitive = true
}
"""


def app(project: str, tier: str = "web") -> dict[str, str]:
    return {"main.tf": APP.replace("{project}", project).replace("{tier}", tier)}


def held_locks(emulated: Emulated, project: str) -> list[dict[str, Any]]:
    """Locks on the project's state: its lock table item (the ``-md5`` item is a digest, not a
    lock) and terraform 1.10+'s lock file, as ``{"LockID": <bucket>/<key>.tflock}``."""
    lock_id = state_lock_id(emulated.resources.state_bucket, project)
    held = [item for item in emulated.locks() if item["LockID"] == lock_id]
    files = emulated.client("s3").list_objects_v2(
        Bucket=emulated.resources.state_bucket, Prefix=state_lockfile_key(project)
    )
    held += [
        {"LockID": f"{lock_id}.tflock"}
        for entry in files.get("Contents", [])
        if entry["Key"].endswith(".tflock")
    ]
    return held


def wait_for(
    predicate: Any, process: subprocess.Popen[str], timeout: float = 120.0, interval: float = 0.2
) -> Any:
    """Poll until the predicate holds; a runner that ends first fails the test with its output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"the runner ended (exit {process.returncode}) first:\n{output[-3000:]}")
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def test_deploy_update_and_destroy(emulated: Emulated, toolchain: Toolchain) -> None:
    project = "rt-lifecycle"
    variables = {"queue_name": "rt-lifecycle-jobs"}

    # Given a config with a bucket, a table, a role, a queue and a sensitive output
    code, job, output = run_job(emulated, project, app(project), variables=variables)

    # Then the job completed at 100% with outputs recorded and the sensitive one masked
    assert code == 0, output
    assert job["status"] == "completed"
    assert int(job["progress"]) == 100
    assert job["phase"] == "done"
    outputs = json.loads(job["outputsJson"])
    assert outputs["bucket_name"] == f"{project}-assets"
    assert outputs["table_arn"].endswith(f"table/{project}-items")
    assert outputs["queue_url"] == "(sensitive)"
    assert "rt-lifecycle-jobs" not in json.dumps(outputs)
    record = emulated.project(project)
    assert record["deploymentStatus"] == "deployed"
    assert record["deploymentJobId"] == job["jobId"]
    assert json.loads(record["outputsJson"]) == outputs
    assert int(record["stateSummary"]["resourceCount"]) == 4
    assert json.loads(record["validationJson"])["valid"] is True
    assert {k: int(v) for k, v in record["planSummary"].items()} == {"add": 4, "change": 0, "destroy": 0}
    # and the state object sits under the project's key, with the lock released
    state = emulated.state(project)
    assert sorted(r["type"] for r in state["resources"]) == sorted(
        ["aws_s3_bucket", "aws_dynamodb_table", "aws_iam_role", "aws_sqs_queue"]
    )
    assert held_locks(emulated, project) == []
    # and the full log and the plan are in the logs bucket, the plan without the masked output's value
    s3 = emulated.client("s3")
    log = s3.get_object(Bucket=emulated.resources.logs_bucket, Key=log_key(project, job["jobId"]))[
        "Body"
    ].read()
    assert b"Apply complete!" in log
    plan = s3.get_object(Bucket=emulated.resources.logs_bucket, Key=plan_key(project, job["jobId"]))[
        "Body"
    ].read()
    assert json.loads(plan)["resource_changes"]
    first_serial = state["serial"]

    # When the code changes (a tag) and is deployed again
    code, job, output = run_job(emulated, project, app(project, tier="api"), variables=variables)

    # Then it is an in-place update of that one resource, not a replace of everything
    assert code == 0, output
    assert {k: int(v) for k, v in job["planSummary"].items()} == {"add": 0, "change": 1, "destroy": 0}
    state = emulated.state(project)
    bucket = next(r for r in state["resources"] if r["type"] == "aws_s3_bucket")
    assert bucket["instances"][0]["attributes"]["tags"] == {"Tier": "api"}
    assert state["serial"] > first_serial
    assert state["lineage"] == emulated.state(project)["lineage"]

    # When the project is destroyed
    code, job, output = run_job(
        emulated, project, app(project), action=JobAction.DESTROY, variables=variables
    )

    # Then it is recorded destroyed and the state holds no resources
    assert code == 0, output
    assert job["status"] == "completed"
    assert job["resultMessage"] == "Infrastructure destroyed successfully"
    assert emulated.project(project)["deploymentStatus"] == "destroyed"
    assert [r for r in emulated.state(project)["resources"] if r["mode"] == "managed"] == []
    assert held_locks(emulated, project) == []


def test_broken_hcl_fails_with_the_line(emulated: Emulated) -> None:
    files = {"main.tf": 'resource "aws_s3_bucket" "b" {\n  bucket = "x"\n\n  tags = {\n}\n'}
    code, job, _ = run_job(emulated, "rt-broken", files)
    assert code == 1
    assert job["status"] == "failed"
    assert job["error"].startswith("syntax error: main.tf:")
    diagnostics = json.loads(job["diagnosticsJson"])
    assert diagnostics[0]["check"] == "syntax"
    assert diagnostics[0]["line"] >= 4
    assert emulated.project("rt-broken")["deploymentStatus"] == "failed"


def test_provider_error_fails_with_terraforms_message(emulated: Emulated, toolchain: Toolchain) -> None:
    files = {"main.tf": 'resource "aws_s3_bucket" "bad" {\n  bucket = "Invalid_Bucket_Name!"\n}\n'}
    code, job, output = run_job(emulated, "rt-provider-error", files)
    assert code == 1, output
    assert job["status"] == "failed"
    assert "Invalid_Bucket_Name!" in job["error"] or "bucket" in job["error"].lower()
    assert job["error"].startswith(
        ("terraform validate failed", "terraform plan failed", "terraform apply failed")
    )
    assert "main.tf" in job["error"]
    assert held_locks(emulated, "rt-provider-error") == []


REFUSED = [
    ('terraform {\n  backend "s3" {\n    bucket = "x"\n  }\n}\n', "backend_block", 2, '"backend" block'),
    (
        'resource "null_resource" "n" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n',
        "local_exec_provisioner",
        2,
        '"local-exec" provisioner',
    ),
    (
        'resource "null_resource" "n" {\n\n  provisioner "remote-exec" {\n    inline = ["id"]\n  }\n}\n',
        "remote_exec_provisioner",
        3,
        '"remote-exec" provisioner',
    ),
    ('\ndata "external" "e" {\n  program = ["id"]\n}\n', "external_data_source", 2, '"external" data source'),
]


@pytest.mark.parametrize(("code_text", "code", "line", "named"), REFUSED, ids=[r[1] for r in REFUSED])
def test_refused_constructs_fail_naming_them_and_where(
    emulated: Emulated, code_text: str, code: str, line: int, named: str
) -> None:
    project = f"rt-refused-{code.replace('_', '-')}"
    exit_code, job, _ = run_job(emulated, project, {"main.tf": code_text})
    assert exit_code == 1
    assert job["status"] == "failed"
    assert named in job["error"]
    assert f"main.tf:{line}" in job["error"]
    assert json.loads(job["diagnosticsJson"])[0]["code"] == code


SLOW = """
resource "aws_s3_bucket" "first" {
  bucket = "{project}-first"
}

resource "null_resource" "slow" {
  depends_on = [aws_s3_bucket.first]
  provisioner "local-exec" {
    command = "sleep {seconds}"
  }
}
"""


def slow_app(project: str, seconds: int) -> dict[str, str]:
    return {"main.tf": SLOW.replace("{project}", project).replace("{seconds}", str(seconds))}


def test_sigterm_mid_apply_cancels_and_keeps_state(emulated: Emulated, toolchain: Toolchain) -> None:
    project = "rt-cancel"
    job_id = submit_job(emulated, project, slow_app(project, 60))
    process = start_runner(emulated, project, job_id, JobAction.DEPLOY, ALLOW_EXEC_CONSTRUCTS="true")

    # Given the apply is under way (the bucket exists, the slow step is running)
    wait_for(lambda: "null_resource.slow: Creating" in emulated.job(job_id).get("logTail", ""), process)

    # When the build is stopped
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)

    # Then the job is failed as cancelled, the state kept what was made, and the lock is free
    assert process.returncode == 143, output
    job = emulated.job(job_id)
    assert job["status"] == "failed"
    assert job["error"] == "cancelled"
    state = emulated.state(project)
    assert "aws_s3_bucket" in [r["type"] for r in state["resources"]]
    assert held_locks(emulated, project) == []

    # And a following deploy works
    job_id = submit_job(emulated, project, slow_app(project, 0))
    follow = start_runner(emulated, project, job_id, JobAction.DEPLOY, ALLOW_EXEC_CONSTRUCTS="true")
    output, _ = follow.communicate(timeout=300)
    assert follow.returncode == 0, output
    assert emulated.job(job_id)["status"] == "completed"


def test_second_runner_on_a_locked_project_fails_clearly(emulated: Emulated, toolchain: Toolchain) -> None:
    project = "rt-two-runners"
    # Long enough that the second runner's plan meets the lock even on a busy machine.
    first_id = submit_job(emulated, project, slow_app(project, 25))
    first = start_runner(emulated, project, first_id, JobAction.DEPLOY, ALLOW_EXEC_CONSTRUCTS="true")
    wait_for(lambda: "null_resource.slow: Creating" in emulated.job(first_id).get("logTail", ""), first)

    second_id = submit_job(emulated, project, slow_app(project, 8))
    second = start_runner(
        emulated,
        project,
        second_id,
        JobAction.DEPLOY,
        ALLOW_EXEC_CONSTRUCTS="true",
        STATE_LOCK_TIMEOUT_SECONDS="0",
    )
    second_output, _ = second.communicate(timeout=300)

    assert second.returncode == 1, second_output
    rejected = emulated.job(second_id)
    assert rejected["status"] == "failed"
    assert "locked by another run" in rejected["error"]

    first_output, _ = first.communicate(timeout=300)
    assert first.returncode == 0, first_output
    assert emulated.job(first_id)["status"] == "completed"
    assert held_locks(emulated, project) == []


def test_a_job_role_narrows_the_runners_credentials(emulated: Emulated, toolchain: Toolchain) -> None:
    # Given the install's job role (in AWS the build role may only assume it)
    iam = emulated.client("iam")
    role = iam.create_role(
        RoleName="provisioner-job",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    project = "rt-job-role"
    job_id = submit_job(emulated, project, app(project), variables={"queue_name": "rt-job-role-jobs"})

    # When the runner runs with it: its own writes, terraform's backend and the credential process
    # all go through the narrowed session (the static keys are gone from the environment)
    process = start_runner(
        emulated, project, job_id, JobAction.DEPLOY, RUNNER_JOB_ROLE_ARN=role["Role"]["Arn"]
    )
    output, _ = process.communicate(timeout=600)

    # Then the job completes as any other
    assert process.returncode == 0, output
    assert emulated.job(job_id)["status"] == "completed"
    assert held_locks(emulated, project) == []
