"""The build's credentials narrowed to one job.

In AWS the build's own role may do little more than assume the *job role*. The runner assumes it
with a session policy naming this job's objects and records only, and everything after that (the
runner's writes, terraform's backend and, through it, its providers' ``assume_role``) uses those
credentials. Assumed from the build role they last an hour at most (role chaining), so they are
handed out through ``credential_process``: the AWS SDKs ask again before they expire, which a long
apply needs. The container's own credential endpoint is kept away from terraform's environment.

``python -m runner.credentials`` is that credential process.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import boto3

from provisioner.records import log_key, plan_key, state_key, state_lock_id, workspace_prefix
from runner.settings import RunnerSettings

PROFILE = "provisioner-job"
SESSION_SECONDS = 3600
MAX_PACKED_POLICY = 2048
CONTAINER_VARIABLES = (
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
)
STATIC_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def session_policy(settings: RunnerSettings) -> dict[str, Any]:
    """What this job may touch: its code, its log and plan, its project's state, record and lock.

    The policy names keys, not buckets or tables: the job role's own policy names those, and a
    session can only narrow it. That keeps the policy within STS's 2,048 characters.
    """
    arn = partition(settings.region)
    project, job = settings.project_id, settings.job_id
    lock = state_lock_id(settings.state_bucket, project)
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [
                f"arn:{arn}:s3:::*/{workspace_prefix(project, job)}*",
                f"arn:{arn}:s3:::*/{log_key(project, job)}",
                f"arn:{arn}:s3:::*/{plan_key(project, job)}",
                f"arn:{arn}:s3:::*/{state_key(project)}*",
            ],
        },
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:{arn}:s3:::*"},
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            "Resource": f"arn:{arn}:dynamodb:*:*:table/*",
            "Condition": {
                "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [job, project, lock, f"{lock}-md5"]}
            },
        },
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": f"arn:{arn}:secretsmanager:*:*:secret:provisioner/{project}/*",
        },
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], "Resource": "*"},
    ]
    if settings.deploy_role_arn:
        statements.append(
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": settings.deploy_role_arn}
        )
    return {"Version": "2012-10-17", "Statement": statements}


def packed(policy: dict[str, Any]) -> str:
    text = json.dumps(policy, separators=(",", ":"))
    if len(text) > MAX_PACKED_POLICY:
        raise ValueError(f"the job's session policy is {len(text)} characters; STS takes {MAX_PACKED_POLICY}")
    return text


def assume(settings: RunnerSettings) -> dict[str, Any]:
    """Fresh job credentials, in credential_process's output format."""
    assert settings.job_role_arn is not None
    sts = boto3.session.Session(region_name=settings.region).client("sts")
    response = sts.assume_role(
        RoleArn=settings.job_role_arn,
        RoleSessionName=settings.job_id[:64],
        Policy=packed(session_policy(settings)),
        DurationSeconds=SESSION_SECONDS,
        Tags=[{"Key": "ProjectId", "Value": settings.project_id}, {"Key": "JobId", "Value": settings.job_id}],
    )
    credentials = response["Credentials"]
    return {
        "Version": 1,
        "AccessKeyId": credentials["AccessKeyId"],
        "SecretAccessKey": credentials["SecretAccessKey"],
        "SessionToken": credentials["SessionToken"],
        "Expiration": credentials["Expiration"].isoformat(),
    }


def narrow_to_job(settings: RunnerSettings) -> Path | None:
    """Point this process and its children at the job's credentials; returns the config file."""
    if not settings.job_role_arn:
        return None
    # The build's credentials (and, with an emulator, its endpoint) go to the credential process
    # only; terraform's environment never holds them.
    names = (*CONTAINER_VARIABLES, *STATIC_VARIABLES, "AWS_ENDPOINT_URL")
    source = {name: os.environ[name] for name in names if name in os.environ}
    arguments = [sys.executable, "-m", "runner.credentials"]
    for name, value in source.items():
        arguments += ["--source", f"{name}={value}"]
    directory = Path(tempfile.mkdtemp(prefix="provisioner-credentials-"))
    config = directory / "config"
    config.write_text(
        f"[profile {PROFILE}]\nregion = {settings.region}\ncredential_process = {shlex.join(arguments)}\n"
    )
    config.chmod(stat.S_IRUSR | stat.S_IWUSR)
    for name in (*CONTAINER_VARIABLES, *STATIC_VARIABLES):
        os.environ.pop(name, None)
    os.environ.update({"AWS_CONFIG_FILE": str(config), "AWS_PROFILE": PROFILE, "AWS_SDK_LOAD_CONFIG": "1"})
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.credentials")
    parser.add_argument("--source", action="append", default=[], help="NAME=VALUE of the build's credentials")
    options = parser.parse_args(argv)
    # The build role's own credentials, for this process only; then the job's, narrowed.
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SDK_LOAD_CONFIG"):
        os.environ.pop(name, None)
    for pair in options.source:
        name, _, value = pair.partition("=")
        os.environ[name] = value
    print(json.dumps(assume(RunnerSettings.from_environment())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
