"""The job's session policy: only this job's objects and records, and small enough for STS."""

from __future__ import annotations

import json

from runner.credentials import MAX_PACKED_POLICY, packed, session_policy
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
        f"arn:aws:s3:::*/projects/{project}/terraform.tfstate*",
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
    assume = next(s for s in statements if s["Action"] == "sts:AssumeRole")
    assert assume["Resource"].endswith("RunnerDeployRole1234-ABCDEFGHIJKL")


def test_partitions_follow_the_region() -> None:
    china = json.dumps(session_policy(settings(AWS_REGION="cn-north-1")))
    assert "arn:aws-cn:s3:::" in china and "arn:aws:s3:::" not in china
