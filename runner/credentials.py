"""Credentials, each narrowed to what its holder needs; the sources never reach terraform.

In AWS the build's own role may do little more than assume the *job role*. The runner (root)
assumes it three ways, in its own process:

- for itself, with a session policy naming this job's objects and records (``session_policy``);
- for terraform's state backend, with a policy naming this project's state object and lock items
  only (``backend_policy``);
- and, from its own session, the install's *deploy role*, which the providers deploy with.

Terraform gets the last two as files only its user can read, through ``credential_process =
cat <file>``, and the runner rewrites them before they expire (chained sessions last an hour).
The container's credential endpoint, the build role's keys and the runner's own session stay in
the runner's process, which terraform's user cannot read.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.credentials import RefreshableCredentials
from botocore.session import get_session

from core.records import (
    JobStage,
    log_key,
    plan_key,
    saved_plan_prefix,
    state_key,
    state_lock_id,
    state_lockfile_key,
    workspace_prefix,
)
from runner.jail import JobUser
from runner.settings import RunnerSettings

LOGGER = logging.getLogger("runner.credentials")
SESSION_SECONDS = 3600
REFRESH_EVERY_SECONDS = 15 * 60
MAX_PACKED_POLICY = 2048
BACKEND_PROFILE = "provisioner-backend"
DEPLOY_PROFILE = "provisioner-deploy"

CredentialDocument = dict[str, Any]


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def session_policy(settings: RunnerSettings) -> dict[str, Any]:
    """What the runner may touch: its job's code, log and plan, its project's state, record and lock.

    The policy names keys, not buckets or tables: the job role's own policy names those, and a
    session can only narrow it. That keeps the policy within STS's 2,048 characters.
    """
    arn = partition(settings.region)
    project, job = settings.project_id, settings.job_id
    lock = state_lock_id(settings.state_bucket, project)
    objects = [
        f"arn:{arn}:s3:::*/{workspace_prefix(project, job)}*",
        f"arn:{arn}:s3:::*/{log_key(project, job)}",
        f"arn:{arn}:s3:::*/{plan_key(project, job)}",
        f"arn:{arn}:s3:::*/{state_key(project)}",
        # The lock file: read, and deleted (If-Match) when it is this job's own (pipeline.py).
        f"arn:{arn}:s3:::*/{state_lockfile_key(project)}",
    ]
    records = [job, project, lock, f"{lock}-md5"]
    # A split job: stage plan writes its saved plan, stage apply reads the one it applies (and
    # that job's record, for what the plan was made against).
    if settings.stage is JobStage.PLAN:
        objects.append(f"arn:{arn}:s3:::*/{saved_plan_prefix(project, job)}*")
    elif settings.stage is JobStage.APPLY:
        source = settings.source_plan_job_id
        objects.append(f"arn:{arn}:s3:::*/{saved_plan_prefix(project, source)}*")
        if source != job:
            records.append(source)
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": objects,
        },
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:{arn}:s3:::*"},
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            "Resource": f"arn:{arn}:dynamodb:*:*:table/*",
            "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": records}},
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
            {
                "Effect": "Allow",
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Resource": settings.deploy_role_arn,
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def backend_policy(settings: RunnerSettings) -> dict[str, Any]:
    """Terraform's state backend: this project's state object, its lock file and its lock items
    (the lock table: terraform < 1.10, a 1.10+ job moving off it, and the digest item)."""
    arn = partition(settings.region)
    key = state_key(settings.project_id)
    lock = state_lock_id(settings.state_bucket, settings.project_id)
    lockfile = f"arn:{arn}:s3:::{settings.state_bucket}/{state_lockfile_key(settings.project_id)}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"arn:{arn}:s3:::{settings.state_bucket}/{key}",
            },
            # The lock file (1.10+): written only where none is, as terraform does (If-None-Match:
            # *), so a held lock cannot be overwritten; read (whose lock is it?) and deleted.
            {
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": lockfile,
                "Condition": {"StringEquals": {"s3:if-none-match": "*"}},
            },
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:DeleteObject"], "Resource": lockfile},
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:{arn}:s3:::{settings.state_bucket}",
                "Condition": {"StringLike": {"s3:prefix": ["env:/", "env:/*"]}},
            },
            {
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
                "Resource": f"arn:{arn}:dynamodb:*:*:table/{settings.lock_table}",
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [lock, f"{lock}-md5"]}},
            },
            {
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": "*",
            },
        ],
    }


def packed(policy: dict[str, Any]) -> str:
    text = json.dumps(policy, separators=(",", ":"))
    if len(text) > MAX_PACKED_POLICY:
        raise ValueError(f"the job's session policy is {len(text)} characters; STS takes {MAX_PACKED_POLICY}")
    return text


def _document(credentials: dict[str, Any]) -> CredentialDocument:
    """STS credentials in credential_process's output format."""
    expiration = credentials["Expiration"]
    return {
        "Version": 1,
        "AccessKeyId": credentials["AccessKeyId"],
        "SecretAccessKey": credentials["SecretAccessKey"],
        "SessionToken": credentials["SessionToken"],
        "Expiration": expiration.isoformat() if isinstance(expiration, datetime) else str(expiration),
    }


def assume(
    source: boto3.session.Session, settings: RunnerSettings, role_arn: str, policy: dict[str, Any] | None
) -> CredentialDocument:
    arguments: dict[str, Any] = {
        "RoleArn": role_arn,
        "RoleSessionName": settings.job_id[:64],
        "DurationSeconds": SESSION_SECONDS,
        "Tags": [
            {"Key": "ProjectId", "Value": settings.project_id},
            {"Key": "JobId", "Value": settings.job_id},
        ],
    }
    if policy is not None:
        arguments["Policy"] = packed(policy)
    sts = source.client("sts", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    return _document(dict(sts.assume_role(**arguments)["Credentials"]))


def runner_session(settings: RunnerSettings) -> boto3.session.Session:
    """The runner's own AWS session: the job role narrowed to this job, refreshed as it expires.

    Without a job role (local mode, where the service's AWS is an emulator) it is the
    environment's, which only this process holds.
    """
    source = boto3.session.Session(region_name=settings.region)
    if not settings.job_role_arn:
        return source
    role = settings.job_role_arn
    policy = session_policy(settings)

    def fetch() -> dict[str, str]:
        document = assume(source, settings, role, policy)
        return {
            "access_key": document["AccessKeyId"],
            "secret_key": document["SecretAccessKey"],
            "token": document["SessionToken"],
            "expiry_time": document["Expiration"],
        }

    botocore_session = get_session()
    # botocore's documented way to hand a session refreshable credentials has no public setter.
    botocore_session._credentials = RefreshableCredentials.create_from_metadata(  # type: ignore[attr-defined]
        metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
    )
    return boto3.session.Session(botocore_session=botocore_session, region_name=settings.region)


@dataclass
class CredentialFile:
    """One profile's credentials, rewritten atomically and readable by the job user only."""

    path: Path
    user: JobUser | None

    def write(self, document: CredentialDocument) -> None:
        partial = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle)
        if self.user is not None:
            os.chown(partial, self.user.uid, self.user.gid)
        partial.replace(self.path)


class TerraformCredentials:
    """The AWS config terraform reads: one profile per credential, each a file the runner refreshes."""

    def __init__(self, directory: Path, user: JobUser | None) -> None:
        self.directory = directory
        self.user = user
        self.config = directory / "config"
        self._sources: dict[str, tuple[CredentialFile, Callable[[], CredentialDocument]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, profile: str, fetch: Callable[[], CredentialDocument]) -> None:
        self._sources[profile] = (CredentialFile(self.directory / f"{profile}.json", self.user), fetch)

    @property
    def profiles(self) -> list[str]:
        return list(self._sources)

    def start(self) -> None:
        """Write every profile now (a failure stops the job), then keep them fresh."""
        self.directory.mkdir(mode=0o700, exist_ok=True)
        if self.user is not None:
            os.chown(self.directory, self.user.uid, self.user.gid)
        for credential, fetch in self._sources.values():
            credential.write(fetch())
        lines = []
        for profile, (credential, _fetch) in self._sources.items():
            lines += [f"[profile {profile}]", f"credential_process = /bin/cat {credential.path}", ""]
        self.config.write_text("\n".join(lines))
        self.config.chmod(0o644)
        if self._sources:
            self._thread = threading.Thread(target=self._refresh, name="credentials", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _refresh(self) -> None:
        while not self._stop.wait(REFRESH_EVERY_SECONDS):
            for profile, (credential, fetch) in self._sources.items():
                try:
                    credential.write(fetch())
                except Exception:  # the SDK keeps the last ones until they expire; try again later
                    LOGGER.warning("refreshing %s failed", profile, exc_info=True)

    def environment(self) -> dict[str, str]:
        if not self._sources:
            return {}
        return {"AWS_CONFIG_FILE": str(self.config), "AWS_SDK_LOAD_CONFIG": "1"}


def static_document(access_key: str, secret_key: str, session_token: str | None = None) -> CredentialDocument:
    """Long-lived keys in credential_process's format (no Expiration: the SDK never asks again)."""
    document: CredentialDocument = {"Version": 1, "AccessKeyId": access_key, "SecretAccessKey": secret_key}
    if session_token:
        document["SessionToken"] = session_token
    return document
