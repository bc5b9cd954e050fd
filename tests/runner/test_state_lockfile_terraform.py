"""Terraform's state lock per version, with real terraform against the emulator: 1.10+ (the
toolchain's 1.11.4) locks with the lock file beside the state, 1.0.3 in the lock table, and a
project moving between them never loses a held lock or meets a stale digest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.records import JobAction, iso_now, log_key, state_key, state_lock_id, state_lockfile_key
from core.toolchain import Toolchain
from runner.overrides import native_locking
from tests.support.api import Api
from tests.support.jobs import Emulated, start_runner, submit_job
from tests.support.terraform_103 import terraform_103_environment

pytestmark = pytest.mark.terraform

BUCKET = """
resource "aws_s3_bucket" "assets" {
  bucket = "{project}-assets"
  tags   = { Tier = "{tier}" }
}
"""
LONG_AGO = "2023-11-14T22:13:20.123456789Z"


def code(project: str, tier: str = "web") -> dict[str, str]:
    return {"main.tf": BUCKET.replace("{project}", project).replace("{tier}", tier)}


@pytest.fixture(scope="module")
def terraform_103(toolchain: Toolchain) -> Iterator[dict[str, str]]:
    """The runner's environment for terraform 1.0.3 (its PyPI package), beside the same mirror."""
    with terraform_103_environment(toolchain, "lockfile") as environment:
        yield environment


@pytest.fixture(scope="module", autouse=True)
def _toolchain_locks_natively(toolchain: Toolchain) -> None:
    assert native_locking(toolchain.version), f"these tests expect terraform >= 1.10, not {toolchain.version}"


def deploy(
    emulated: Emulated, project: str, tier: str = "web", **env: str
) -> tuple[int, dict[str, Any], str]:
    job_id = submit_job(emulated, project, code(project, tier))
    process = start_runner(emulated, project, job_id, JobAction.DEPLOY, **env)
    output, _ = process.communicate(timeout=600)
    return process.returncode, emulated.job(job_id), output


def job_log(emulated: Emulated, project: str, job_id: str) -> str:
    body = emulated.client("s3").get_object(
        Bucket=emulated.resources.logs_bucket, Key=log_key(project, job_id)
    )["Body"]
    return bytes(body.read()).decode()


def lock_items(emulated: Emulated, project: str) -> dict[str, dict[str, Any]]:
    """The project's items in the lock table: its lock (``Info``) and digest (``-md5``), by LockID."""
    prefix = state_lock_id(emulated.resources.state_bucket, project)
    return {str(i["LockID"]): i for i in emulated.locks() if str(i["LockID"]).startswith(prefix)}


def lockfile_history(emulated: Emulated, project: str) -> tuple[int, int, bool]:
    """(versions, delete markers, held now) of the project's lock file."""
    key = state_lockfile_key(project)
    listing = emulated.client("s3").list_object_versions(Bucket=emulated.resources.state_bucket, Prefix=key)
    versions = [v for v in listing.get("Versions", []) if v["Key"] == key]
    markers = [m for m in listing.get("DeleteMarkers", []) if m["Key"] == key]
    held = any(v["IsLatest"] for v in versions)
    return len(versions), len(markers), held


def lock_info(emulated: Emulated, project: str, lock_uuid: str, created: str = LONG_AGO) -> str:
    return json.dumps(
        {
            "ID": lock_uuid,
            "Operation": "OperationTypeApply",
            "Info": "",
            "Who": "someone@elsewhere",
            "Version": "1.11.4",
            "Created": created,
            "Path": state_lock_id(emulated.resources.state_bucket, project),
        }
    )


def hold_lockfile(emulated: Emulated, project: str, lock_uuid: str, created: str = LONG_AGO) -> None:
    emulated.client("s3").put_object(
        Bucket=emulated.resources.state_bucket,
        Key=state_lockfile_key(project),
        Body=lock_info(emulated, project, lock_uuid, created).encode(),
        IfNoneMatch="*",
    )


def release_lockfile(emulated: Emulated, project: str) -> None:
    emulated.client("s3").delete_object(
        Bucket=emulated.resources.state_bucket, Key=state_lockfile_key(project)
    )


def hold_lock_item(emulated: Emulated, project: str, lock_uuid: str) -> None:
    lock_id = state_lock_id(emulated.resources.state_bucket, project)
    emulated.table(emulated.resources.lock_table).put_item(
        Item={"LockID": lock_id, "Info": lock_info(emulated, project, lock_uuid)}
    )


def release_lock_item(emulated: Emulated, project: str) -> None:
    lock_id = state_lock_id(emulated.resources.state_bucket, project)
    emulated.table(emulated.resources.lock_table).delete_item(Key={"LockID": lock_id})


def test_a_deploy_on_1_11_locks_with_the_lock_file_and_warns_of_nothing(emulated: Emulated) -> None:
    project = "lf-native"
    # When a deploy runs on the toolchain's terraform (1.11)
    exit_code, job, output = deploy(emulated, project)

    # Then it succeeded, and its log has no deprecation warning for dynamodb_table
    assert exit_code == 0, output
    log = job_log(emulated, project, str(job["jobId"]))
    assert "dynamodb_table" not in log and "deprecated" not in log.lower()
    # and its locks were lock files: taken and released (plan, apply), nothing left held
    versions, markers, held = lockfile_history(emulated, project)
    assert versions >= 2 and markers == versions and not held
    # and the lock table holds nothing of the project: no lock, no digest
    assert lock_items(emulated, project) == {}
    assert emulated.state(project)["resources"][0]["type"] == "aws_s3_bucket"


def test_terraform_1_0_3_still_locks_in_the_lock_table(
    emulated: Emulated, terraform_103: dict[str, str]
) -> None:
    project = "lf-legacy"
    # When a deploy runs on terraform 1.0.3
    exit_code, _, output = deploy(emulated, project, **terraform_103)

    # Then it locked in the lock table: its digest item is there, its lock released; no lock file
    assert exit_code == 0, output
    assert list(lock_items(emulated, project)) == [
        f"{state_lock_id(emulated.resources.state_bucket, project)}-md5"
    ]
    assert lockfile_history(emulated, project) == (0, 0, False)

    # When another run holds the lock item, then a 1.0.3 deploy fails on it
    hold_lock_item(emulated, project, "held-item")
    try:
        exit_code, job, output = deploy(
            emulated, project, "api", STATE_LOCK_TIMEOUT_SECONDS="0", **terraform_103
        )
    finally:
        release_lock_item(emulated, project)
    assert exit_code == 1, output
    assert "locked by another run (lock held-item" in job["error"]


def test_a_lock_file_a_newer_terraform_holds_stops_1_0_3_too(
    emulated: Emulated, terraform_103: dict[str, str]
) -> None:
    # Given a project whose state a 1.11 run is writing (its lock file is held)
    project = "lf-downgrade-held"
    assert deploy(emulated, project)[0] == 0
    hold_lockfile(emulated, project, "held-file")
    try:
        # When a 1.0.3 deploy comes (it knows no lock file), with no time to wait
        exit_code, job, output = deploy(
            emulated, project, "api", STATE_LOCK_TIMEOUT_SECONDS="0", **terraform_103
        )
        # Then the runner refuses it as terraform would its own lock, and the state is untouched
        assert exit_code == 1, output
        assert "locked by another run (lock held-file held by someone@elsewhere" in job["error"]
        tags = emulated.state(project)["resources"][0]["instances"][0]["attributes"]["tags"]
        assert tags == {"Tier": "web"}
        assert lockfile_history(emulated, project)[2]  # and the lock is still the other run's
    finally:
        release_lockfile(emulated, project)


def test_a_lock_of_either_kind_stops_a_1_11_deploy(emulated: Emulated) -> None:
    project = "lf-either-kind"
    assert deploy(emulated, project)[0] == 0

    # Given a lock item a 1.0.3 run holds: a 1.11 deploy takes both kinds, and waits for it
    hold_lock_item(emulated, project, "old-item")
    try:
        exit_code, job, output = deploy(emulated, project, "api", STATE_LOCK_TIMEOUT_SECONDS="0")
    finally:
        release_lock_item(emulated, project)
    assert exit_code == 1, output
    assert "locked by another run (lock old-item" in job["error"]
    assert not lockfile_history(emulated, project)[2]  # it let its own lock file go

    # Given a lock file another run holds: the deploy fails on it
    hold_lockfile(emulated, project, "other-file")
    try:
        exit_code, job, output = deploy(emulated, project, "api", STATE_LOCK_TIMEOUT_SECONDS="0")
    finally:
        release_lockfile(emulated, project)
    assert exit_code == 1, output
    assert "locked by another run (lock other-file" in job["error"]

    # and with both gone, the deploy goes through
    exit_code, _, output = deploy(emulated, project, "api")
    assert exit_code == 0, output
    assert emulated.state(project)["resources"][0]["instances"][0]["attributes"]["tags"] == {"Tier": "api"}


def test_a_project_moves_between_versions_both_ways_without_a_stale_digest(
    emulated: Emulated, terraform_103: dict[str, str]
) -> None:
    project = "lf-migrate"
    digest = f"{state_lock_id(emulated.resources.state_bucket, project)}-md5"
    # Given a project deployed with 1.0.3 (its digest item written)
    assert deploy(emulated, project, "one", **terraform_103)[0] == 0
    assert digest in lock_items(emulated, project)

    # When 1.11 changes its state (the digest would no longer match), then the digest is gone
    exit_code, _, output = deploy(emulated, project, "two")
    assert exit_code == 0, output
    assert lock_items(emulated, project) == {}

    # When the project goes back to 1.0.3, then it trusts the state it finds and writes a fresh digest
    exit_code, job, output = deploy(emulated, project, "three", **terraform_103)
    assert exit_code == 0, output + str(job.get("error"))
    assert emulated.state(project)["resources"][0]["instances"][0]["attributes"]["tags"] == {"Tier": "three"}
    assert digest in lock_items(emulated, project)


def test_a_jobs_own_lock_file_left_by_a_retried_write_is_cleared(emulated: Emulated) -> None:
    project = "lf-own-lock"
    assert deploy(emulated, project)[0] == 0
    # Given a deploy whose runner has started
    job_id = submit_job(emulated, project, code(project, "api"))
    process = start_runner(emulated, project, job_id, JobAction.DEPLOY, STATE_LOCK_TIMEOUT_SECONDS="0")
    deadline = time.monotonic() + 60
    while emulated.job(job_id)["status"] != "processing" and time.monotonic() < deadline:
        time.sleep(0.05)
    # and a lock file taken after that (as a lock write whose answer was lost, retried, leaves it)
    hold_lockfile(emulated, project, "own-retry", iso_now().replace("Z", "000000Z"))
    output, _ = process.communicate(timeout=600)

    # Then the runner cleared it as its own and the deploy went through
    assert process.returncode == 0, output
    assert "cleared this job's own state lock own-retry" in job_log(emulated, project, job_id)
    assert not lockfile_history(emulated, project)[2]


def test_a_lock_file_a_killed_terraform_left_is_reaped_and_the_next_deploy_runs(
    emulated: Emulated, toolchain: Toolchain, api: Api, tmp_path: Path
) -> None:
    from functions.handlers.reaper_handler import lambda_handler as reaper  # noqa: PLC0415
    from localmode.gateway import LocalContext  # noqa: PLC0415

    project = "lf-killed"
    # Given terraform 1.11 itself applying on a new project's state (no runner: no job owns its lock)
    workdir = tmp_path / "tf"
    workdir.mkdir()
    backend = {
        "bucket": emulated.resources.state_bucket,
        "key": state_key(project),
        "region": emulated.resources.region,
        "use_lockfile": True,
        "endpoints": {"s3": emulated.endpoint_url, "sts": emulated.endpoint_url},
        "use_path_style": True,
        "skip_requesting_account_id": True,
        "skip_credentials_validation": True,
        "access_key": "test",
        "secret_key": "test",
    }
    (workdir / "backend.tf.json").write_text(json.dumps({"terraform": {"backend": {"s3": backend}}}))
    (workdir / "main.tf").write_text(
        'resource "null_resource" "slow" {\n  provisioner "local-exec" {\n    command = "sleep 60"\n  }\n}\n'
    )
    env = toolchain.env({k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))})

    def terraform(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(toolchain.binary), *args],
            check=False,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    init = terraform("init", "-input=false", "-no-color")
    assert init.returncode == 0, init.stderr
    first = subprocess.Popen(
        [str(toolchain.binary), "apply", "-auto-approve", "-input=false", "-no-color", "-refresh=false"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not lockfile_history(emulated, project)[2] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert lockfile_history(emulated, project)[2], "terraform took no lock file"
        # When a second terraform plans with the lock on the same state, then it meets the lock file
        second = terraform("plan", "-input=false", "-no-color", "-lock-timeout=0s")
        assert second.returncode == 1 and "Error acquiring the state lock" in second.stderr, second.stderr
        assert "PreconditionFailed" in second.stderr  # the emulator refused its If-None-Match: * write
    finally:
        # When the first is killed outright (as a lost build is), its lock file stays behind
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
    assert lockfile_history(emulated, project)[2]

    # Then the reaper finds it stale (no job of the project was running it) and clears it
    report = reaper({}, LocalContext(function_name="reaper_handler"))
    lock_id = f"{emulated.resources.state_bucket}/{state_lockfile_key(project)}"
    assert lock_id in report["clearedLocks"], report
    assert not lockfile_history(emulated, project)[2]
    assert emulated.project(project)["lastUnlock"]["clearedBy"] == "reaper"
    # and the next deploy runs
    exit_code, _, output = deploy(emulated, project, "api")
    assert exit_code == 0, output
