"""The job's session policy: only this job's objects and records, and small enough for STS."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from runner.confinement import _backend
from runner.credentials import (
    BACKEND_PROFILE,
    DEPLOY_PROFILE,
    MAX_PACKED_POLICY,
    CredentialFile,
    TerraformCredentials,
    backend_policy,
    packed,
    session_policy,
    static_document,
)
from runner.jail import IsolationError, allocate_user
from runner.settings import RunnerSettings

# Names as CDK generates them: long, with the stack name and a hash in each.
LONG = "TerraformProvisioner-DataJobsTable1234567-ABCDEFGHIJKLMNOP"


def settings(**extra: str) -> RunnerSettings:
    return RunnerSettings.from_environment(
        {
            "JOB_ID": "deploy-1764166000000-abcdef123",
            "PROJECT_ID": "a" * 64,
            "JOB_ACTION": "deploy",
            "JOBS_TABLE": LONG,
            "PROJECTS_TABLE": LONG.replace("Jobs", "Projects"),
            "LOCK_TABLE": LONG.replace("Jobs", "Locks"),
            "WORKSPACES_BUCKET": "terraformprovisioner-dataworkspacesbucket1a2b3c-abcdefghijkl",
            "STATE_BUCKET": "terraformprovisioner-datastatebucket1a2b3c4d5e-abcdefghijkl",
            "LOGS_BUCKET": "terraformprovisioner-datalogsbucket1a2b3c4d5e6-abcdefghijkl",
            "AWS_REGION": "eu-central-1",
            "DEPLOY_ROLE_ARN": "arn:aws:iam::123456789012:role/TerraformProvisioner-RunnerDeployRole1234-ABCDEFGHIJKL",
            "RUNNER_JOB_ROLE_ARN": "arn:aws:iam::123456789012:role/job",
            **extra,
        }
    )


def test_the_policy_fits_sts_with_the_longest_names() -> None:
    assert len(packed(session_policy(settings()))) <= MAX_PACKED_POLICY


def test_the_policy_names_this_job_and_project_only() -> None:
    policy = session_policy(settings())
    project, job = "a" * 64, "deploy-1764166000000-abcdef123"
    statements = policy["Statement"]
    assert {s["Effect"] for s in statements} == {"Allow"}
    objects = next(s for s in statements if "s3:GetObject" in s["Action"])
    assert objects["Resource"] == [
        f"arn:aws:s3:::*/workspaces/{project}/{job}/*",
        f"arn:aws:s3:::*/logs/{project}/{job}.log",
        f"arn:aws:s3:::*/plans/{project}/{job}.json",
        f"arn:aws:s3:::*/projects/{project}/terraform.tfstate",
        f"arn:aws:s3:::*/projects/{project}/terraform.tfstate.tflock",
    ]
    items = next(s for s in statements if "dynamodb:GetItem" in s["Action"])
    lock = f"terraformprovisioner-datastatebucket1a2b3c4d5e-abcdefghijkl/projects/{project}/terraform.tfstate"
    assert items["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"] == [
        job,
        project,
        lock,
        f"{lock}-md5",
    ]
    secrets = next(s for s in statements if s["Action"] == "secretsmanager:GetSecretValue")
    assert secrets["Resource"].endswith(f":secret:provisioner/{project}/*")
    assume = next(s for s in statements if "sts:AssumeRole" in s["Action"])
    assert assume["Resource"].endswith("RunnerDeployRole1234-ABCDEFGHIJKL")


def test_terraforms_backend_gets_the_projects_state_and_lock_only() -> None:
    # Given the longest names
    policy = backend_policy(settings())
    text = json.dumps(policy)
    project = "a" * 64
    state = (
        f"terraformprovisioner-datastatebucket1a2b3c4d5e-abcdefghijkl/projects/{project}/terraform.tfstate"
    )
    # Then it fits STS, names the state object and its lock items, and nothing of the records
    assert len(packed(policy)) <= MAX_PACKED_POLICY
    objects = [s["Resource"] for s in policy["Statement"] if "s3:PutObject" in s["Action"]]
    assert objects == [f"arn:aws:s3:::{state}", f"arn:aws:s3:::{state}.tflock"]
    # The lock file: written only where none is (terraform's If-None-Match: *), read and deleted;
    # no statement reaches any other object beside the state ("terraform.tfstate*")
    lockfile = [s for s in policy["Statement"] if s["Resource"] == f"arn:aws:s3:::{state}.tflock"]
    assert [(s["Action"], s.get("Condition")) for s in lockfile] == [
        ("s3:PutObject", {"StringEquals": {"s3:if-none-match": "*"}}),
        (["s3:GetObject", "s3:DeleteObject"], None),
    ]
    assert "tfstate*" not in text
    items = next(s for s in policy["Statement"] if "dynamodb:PutItem" in s["Action"])
    assert items["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"] == [state, f"{state}-md5"]
    for foreign in ("workspaces/", "logs/", "plans/", "secretsmanager", "sts:AssumeRole", "Jobs", "Projects"):
        assert foreign not in text


def test_partitions_follow_the_region() -> None:
    china = json.dumps(session_policy(settings(AWS_REGION="cn-north-1")))
    assert "arn:aws-cn:s3:::" in china and "arn:aws:s3:::" not in china


def test_terraform_reads_each_credential_from_a_file_only_its_user_can_read(tmp_path: Path) -> None:
    # Given a job user and two sources the runner refreshes
    user = allocate_user(tmp_path / "users")
    try:
        calls: list[str] = []

        def fetch(name: str) -> Callable[[], dict[str, Any]]:
            def document() -> dict[str, Any]:
                calls.append(name)
                return static_document(f"{name}-key-{len(calls)}", f"{name}-secret")

            return document

        credentials = TerraformCredentials(tmp_path / "aws", user)
        credentials.add(BACKEND_PROFILE, fetch("backend"))
        credentials.add(DEPLOY_PROFILE, fetch("deploy"))
        credentials.start()
        credentials.stop()
        # Then each profile is a file the job's uid owns, mode 0600, read through credential_process
        config = (tmp_path / "aws" / "config").read_text()
        for profile in (BACKEND_PROFILE, DEPLOY_PROFILE):
            path = tmp_path / "aws" / f"{profile}.json"
            info = path.stat()
            assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (user.uid, 0o600)
            assert f"[profile {profile}]\ncredential_process = /bin/cat {path}" in config
            assert json.loads(path.read_text())["Version"] == 1
        assert credentials.environment() == {
            "AWS_CONFIG_FILE": str(tmp_path / "aws" / "config"),
            "AWS_SDK_LOAD_CONFIG": "1",
        }
        # and a rewrite replaces the file atomically, keeping its owner
        CredentialFile(tmp_path / "aws" / f"{DEPLOY_PROFILE}.json", user).write(static_document("new", "new"))
        rewritten = tmp_path / "aws" / f"{DEPLOY_PROFILE}.json"
        assert json.loads(rewritten.read_text())["AccessKeyId"] == "new"
        assert rewritten.stat().st_uid == user.uid
    finally:
        user.release()


def test_without_a_job_role_terraform_gets_no_backend_credentials_on_the_hosts_network() -> None:
    # The runner never hands terraform its own (the build's) credentials in their place
    aws = settings(RUNNER_JOB_ROLE_ARN="", PROVISIONER_TARGET="aws")
    assert not aws.isolated_network
    with pytest.raises(IsolationError, match="RUNNER_JOB_ROLE_ARN"):
        _backend(
            ExitStack(),
            settings=aws,
            netns=None,
            credentials=TerraformCredentials(Path("/nonexistent"), None),
            log=print,
        )
