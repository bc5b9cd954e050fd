"""The runner's input: the environment a CodeBuild build (or local mode's stand-in) gives it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from provisioner.records import JOB_ID_PATTERN, PROJECT_ID_PATTERN, JobAction

Target = Literal["sandbox", "aws"]


class RunnerSettings(BaseModel):
    """Checked once at start; a missing or malformed variable stops the build before terraform runs."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    job_id: Annotated[str, Field(alias="JOB_ID", pattern=JOB_ID_PATTERN)]
    project_id: Annotated[str, Field(alias="PROJECT_ID", pattern=PROJECT_ID_PATTERN)]
    action: Annotated[JobAction, Field(alias="JOB_ACTION")]
    jobs_table: Annotated[str, Field(alias="JOBS_TABLE", min_length=3)]
    projects_table: Annotated[str, Field(alias="PROJECTS_TABLE", min_length=3)]
    lock_table: Annotated[str, Field(alias="LOCK_TABLE", min_length=3)]
    workspaces_bucket: Annotated[str, Field(alias="WORKSPACES_BUCKET", min_length=3)]
    state_bucket: Annotated[str, Field(alias="STATE_BUCKET", min_length=3)]
    logs_bucket: Annotated[str, Field(alias="LOGS_BUCKET", min_length=3)]
    region: Annotated[str, Field(alias="AWS_REGION", min_length=1)] = "us-east-1"
    target: Annotated[Target, Field(alias="PROVISIONER_TARGET")] = "sandbox"
    # The service's own AWS endpoint (the emulator in local mode); boto3 reads it too.
    aws_endpoint_url: Annotated[str | None, Field(alias="AWS_ENDPOINT_URL")] = None
    # Where terraform's providers connect for target "sandbox"; defaults to the service's endpoint.
    sandbox_endpoint_url: Annotated[str | None, Field(alias="SANDBOX_ENDPOINT_URL")] = None
    sandbox_access_key_id: Annotated[str, Field(alias="SANDBOX_ACCESS_KEY_ID")] = "test"
    sandbox_secret_access_key: Annotated[str, Field(alias="SANDBOX_SECRET_ACCESS_KEY")] = "test"  # noqa: S105
    deploy_role_arn: Annotated[str | None, Field(alias="DEPLOY_ROLE_ARN")] = None
    # In AWS: the role this job's credentials are narrowed from (see runner/credentials.py).
    job_role_arn: Annotated[str | None, Field(alias="RUNNER_JOB_ROLE_ARN")] = None
    state_kms_key_id: Annotated[str | None, Field(alias="STATE_KMS_KEY_ID")] = None
    tag_job_id: Annotated[bool, Field(alias="TAG_JOB_ID")] = True
    allow_exec: Annotated[bool, Field(alias="ALLOW_EXEC_CONSTRUCTS")] = False
    progress_interval_seconds: Annotated[float, Field(alias="PROGRESS_INTERVAL_SECONDS", gt=0)] = 2.0
    # A previous job's terraform may still be writing state after its workflow gave up on it
    # (a timeout): wait for it rather than fail. 0 fails at once on a held lock.
    lock_timeout_seconds: Annotated[int, Field(alias="STATE_LOCK_TIMEOUT_SECONDS", ge=0, le=3600)] = 60
    # How long a cancelled terraform may take to write its state and release the lock.
    cancel_grace_seconds: Annotated[float, Field(alias="CANCEL_GRACE_SECONDS", gt=0)] = 300.0

    @property
    def sandbox_endpoint(self) -> str | None:
        return self.sandbox_endpoint_url or self.aws_endpoint_url

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> RunnerSettings:
        source = dict(os.environ if environ is None else environ)
        # Empty strings mean "unset" in CodeBuild overrides, which cannot drop a variable.
        cleaned = {k: v for k, v in source.items() if v != ""}
        return cls.model_validate(cleaned)


def describe_settings_error(error: ValidationError) -> str:
    problems = []
    for issue in error.errors():
        name = ".".join(str(part) for part in issue["loc"])
        problems.append(f"{name}: {issue['msg']}")
    return "invalid runner environment: " + "; ".join(problems)
