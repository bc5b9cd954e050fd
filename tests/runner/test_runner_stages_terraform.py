"""A job split across builds (stage plan, then stage apply) with real terraform against the emulator.

Each runner is a process of its own with fresh directories, as two CodeBuild builds would be: what
the first build's plan file embeds (backend and provider settings) must hold in the second.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pytest

from core.records import JobAction, log_key, saved_plan_prefix, state_lock_id, workspace_prefix
from core.toolchain import Toolchain
from tests.support.jobs import Emulated, run_job, start_runner, submit_job
from tests.support.terraform_103 import terraform_103_environment

pytestmark = pytest.mark.terraform

BUCKET = """
resource "aws_s3_bucket" "assets" {
  bucket = "{project}-assets"
  tags   = { Tier = "{tier}" }
}

output "bucket_name" { value = aws_s3_bucket.assets.bucket }
"""

QUEUE = """
resource "aws_sqs_queue" "late" {
  name = "{project}-late"
}
"""


@pytest.fixture(scope="module", params=["toolchain", "1.0.3"])
def versions(request: pytest.FixtureRequest, toolchain: Toolchain) -> Iterator[tuple[str, dict[str, str]]]:
    """(terraform version, the runner's extra environment): the toolchain's, or the PyPI 1.0.3 in
    a toolchain root of its own (the same offline provider mirror), whose backend settings differ."""
    if request.param == "toolchain":
        yield toolchain.version, {}
        return
    with terraform_103_environment(toolchain, "runner") as environment:
        yield "1.0.3", environment


def code(project: str, tier: str = "web", *, with_queue: bool = False) -> dict[str, str]:
    text = BUCKET + (QUEUE if with_queue else "")
    return {"main.tf": text.replace("{project}", project).replace("{tier}", tier)}


def run_stage(
    emulated: Emulated, project: str, job_id: str, action: JobAction, stage: str, **extra: str
) -> tuple[int, dict[str, Any], str]:
    process = start_runner(emulated, project, job_id, action, JOB_STAGE=stage, **extra)
    output, _ = process.communicate(timeout=600)
    return process.returncode, emulated.job(job_id), output


def replace_workspace(emulated: Emulated, project: str, job_id: str, files: dict[str, str]) -> None:
    s3 = emulated.client("s3")
    for path, text in files.items():
        s3.put_object(
            Bucket=emulated.resources.workspaces_bucket,
            Key=workspace_prefix(project, job_id) + path,
            Body=text.encode(),
        )


def saved_object(emulated: Emulated, project: str, job_id: str, name: str) -> bytes:
    body = emulated.client("s3").get_object(
        Bucket=emulated.resources.state_bucket, Key=saved_plan_prefix(project, job_id) + name
    )["Body"]
    return bytes(body.read())


def job_log(emulated: Emulated, project: str, job_id: str) -> str:
    body = emulated.client("s3").get_object(
        Bucket=emulated.resources.logs_bucket, Key=log_key(project, job_id)
    )["Body"]
    return bytes(body.read()).decode()


def managed(emulated: Emulated, project: str) -> list[str]:
    state = emulated.state(project)
    return sorted(f"{r['type']}.{r['name']}" for r in state["resources"] if r["mode"] == "managed")


def test_a_speculative_plan_takes_no_lock_writes_nothing_on_the_project_and_can_be_applied_later(
    emulated: Emulated, toolchain: Toolchain
) -> None:
    project = "rs-speculative"
    exit_code, _, output = run_job(emulated, project, code(project))
    assert exit_code == 0, output
    state = emulated.state(project)
    before = emulated.project(project)

    # Given another run holds the project's state lock
    lock_id = state_lock_id(emulated.resources.state_bucket, project)
    locks = emulated.table(emulated.resources.lock_table)
    info = {"ID": "held-by-test", "Operation": "OperationTypeApply", "Who": "test", "Created": "x"}
    locks.put_item(Item={"LockID": lock_id, "Info": json.dumps(info)})
    try:
        # When a speculative plan runs (stage plan of a plan job), with no time to wait for a lock
        plan_id = submit_job(emulated, project, code(project, tier="api"), action=JobAction.PLAN)
        exit_code, job, output = run_stage(
            emulated, project, plan_id, JobAction.PLAN, "plan", STATE_LOCK_TIMEOUT_SECONDS="0"
        )
    finally:
        locks.delete_item(Key={"LockID": lock_id})

    # Then it succeeded through the held lock, and the job stays open for the workflow's review
    assert exit_code == 0, output
    assert job["status"] == "processing"
    assert job["phase"] == "plan"
    assert {k: int(v) for k, v in job["planSummary"].items()} == {"add": 0, "change": 1, "destroy": 0}
    assert "-lock=false" in job_log(emulated, project, plan_id)
    # and the project is exactly as it was: no validation, plan, status or lock written
    assert emulated.project(project) == before
    # and the saved plan names the state it was made against
    saved = job["savedPlan"]
    assert saved["key"] == saved_plan_prefix(project, plan_id)
    assert int(saved["stateSerial"]) == state["serial"]
    assert saved["stateLineage"] == state["lineage"]
    assert saved["terraformVersion"] == toolchain.version
    assert saved["hasChanges"] is True
    assert len(saved["codeHash"]) == 64
    plan_file = saved_object(emulated, project, plan_id, "tfplan")
    assert "tfstate" in zipfile.ZipFile(BytesIO(plan_file)).namelist()
    assert saved_object(emulated, project, plan_id, "terraform.lock.hcl").startswith(b"# This file")

    # When a deploy applies that saved plan (its workspace holds the plan's code, as the API copies it)
    deploy_id = submit_job(emulated, project, code(project, tier="api"))
    exit_code, job, output = run_stage(
        emulated, project, deploy_id, JobAction.DEPLOY, "apply", PLAN_JOB_ID=plan_id
    )

    # Then the planned change is made and recorded as a deploy
    assert exit_code == 0, output
    assert job["status"] == "completed"
    bucket = next(r for r in emulated.state(project)["resources"] if r["type"] == "aws_s3_bucket")
    assert bucket["instances"][0]["attributes"]["tags"] == {"Tier": "api"}
    assert emulated.project(project)["deploymentJobId"] == deploy_id


def test_a_gated_deploy_applies_exactly_what_was_planned_in_a_second_build(
    emulated: Emulated, versions: tuple[str, dict[str, str]]
) -> None:
    version, env = versions
    project = f"rs-gated-{version.replace('.', '')}"
    job_id = submit_job(emulated, project, code(project))

    # Given the plan build of a gated deploy on a project with no state yet
    exit_code, job, output = run_stage(emulated, project, job_id, JobAction.DEPLOY, "plan", **env)
    assert exit_code == 0, output
    assert job["savedPlan"]["terraformVersion"] == version
    assert job["status"] == "processing"
    assert job["phase"] == "plan"
    assert job["savedPlan"]["stateSerial"] is None
    assert job["savedPlan"]["stateLineage"] is None
    assert emulated.project(project).get("deploymentStatus") != "deployed"

    # When the workspace gains a resource after the plan, and the apply build runs (fresh dirs)
    replace_workspace(emulated, project, job_id, code(project, with_queue=True))
    exit_code, job, output = run_stage(emulated, project, job_id, JobAction.DEPLOY, "apply", **env)

    # Then exactly the planned resource exists: the late queue was never planned, so never made
    assert exit_code == 0, output
    assert job["status"] == "completed"
    assert managed(emulated, project) == ["aws_s3_bucket.assets"]
    record = emulated.project(project)
    assert record["deploymentStatus"] == "deployed"
    assert json.loads(record["outputsJson"]) == {"bucket_name": f"{project}-assets"}
    # and the job's one log holds both builds
    log = job_log(emulated, project, job_id)
    assert "plan saved for a later apply" in log
    assert "the apply build goes on with the plan build's log" in log
    assert "Apply complete!" in log
    assert log.index("plan saved for a later apply") < log.index("Apply complete!")


def test_a_plan_applied_after_the_state_moved_is_refused_as_stale(
    emulated: Emulated, toolchain: Toolchain
) -> None:
    project = "rs-stale"
    exit_code, _, output = run_job(emulated, project, code(project))
    assert exit_code == 0, output

    # Given a gated deploy's plan, then another deploy that moves the state
    job_id = submit_job(emulated, project, code(project, tier="api"))
    exit_code, job, output = run_stage(emulated, project, job_id, JobAction.DEPLOY, "plan")
    assert exit_code == 0, output
    planned_serial = int(job["savedPlan"]["stateSerial"])
    exit_code, _, output = run_job(emulated, project, code(project, tier="db"))
    assert exit_code == 0, output
    moved = emulated.state(project)
    assert moved["serial"] > planned_serial

    # When the saved plan's apply build runs
    exit_code, job, output = run_stage(emulated, project, job_id, JobAction.DEPLOY, "apply")

    # Then it is refused as stale, naming why, and nothing changed
    assert exit_code == 1, output
    assert job["status"] == "failed"
    assert job["error"].startswith("stale plan:")
    assert f"serial {planned_serial} → {moved['serial']}" in job["error"]
    after = emulated.state(project)
    assert after["serial"] == moved["serial"]
    bucket = next(r for r in after["resources"] if r["type"] == "aws_s3_bucket")
    assert bucket["instances"][0]["attributes"]["tags"] == {"Tier": "db"}
    # Nothing was applied: the project keeps a deployed status, and is free
    project_item = emulated.project(project)
    assert project_item["deploymentStatus"] == "deployed" and "activeJobId" not in project_item


def test_an_apply_with_no_saved_plan_fails_clearly(emulated: Emulated, toolchain: Toolchain) -> None:
    project = "rs-unsaved"
    job_id = submit_job(emulated, project, code(project))
    exit_code, job, output = run_stage(emulated, project, job_id, JobAction.DEPLOY, "apply")
    assert exit_code == 1, output
    assert job["status"] == "failed"
    assert job["error"].startswith("no saved plan")


CWD = """
resource "aws_sqs_queue" "where" {
  name = "{project}-where"
  tags = { Cwd = path.cwd, Module = abspath(path.module) }
}
"""


def test_a_plan_that_reads_its_working_directory_applies_in_another_build(
    emulated: Emulated, versions: tuple[str, dict[str, str]]
) -> None:
    # Given code whose planned values are the working directory's absolute path
    version, env = versions
    project = f"rs-cwd-{version.replace('.', '')}"
    job_id = submit_job(emulated, project, {"main.tf": CWD.replace("{project}", project)})
    exit_code, _, output = run_stage(emulated, project, job_id, JobAction.DEPLOY, "plan", **env)
    assert exit_code == 0, output

    # When another build (another process, other temporary directories) applies the plan
    exit_code, job, output = run_stage(emulated, project, job_id, JobAction.DEPLOY, "apply", **env)

    # Then the path is the same in both builds: terraform's apply finds the plan consistent
    assert exit_code == 0, job.get("error") or output
    queue = next(r for r in emulated.state(project)["resources"] if r["type"] == "aws_sqs_queue")
    tags = queue["instances"][0]["attributes"]["tags"]
    assert tags["Cwd"].endswith(f"/jobs/{job_id}/code")
    assert tags["Module"] == tags["Cwd"]
