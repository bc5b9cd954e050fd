"""The runner's input: the environment a CodeBuild build (or local mode's stand-in) gives it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.records import JOB_ID_PATTERN, PROJECT_ID_PATTERN, JobAction, JobStage

Target = Literal["sandbox", "aws"]
# Host-reaching providers (external, local, http, archive) are left out unless the install adds them.
DEFAULT_ALLOWED_PROVIDERS = "hashicorp/aws,hashicorp/null,hashicorp/random,hashicorp/time,hashicorp/tls"


class RunnerSettings(BaseModel):
    """Checked once at start; a missing or malformed variable stops the build before terraform runs."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    job_id: Annotated[str, Field(alias="JOB_ID", pattern=JOB_ID_PATTERN)]
    project_id: Annotated[str, Field(alias="PROJECT_ID", pattern=PROJECT_ID_PATTERN)]
    action: Annotated[JobAction, Field(alias="JOB_ACTION")]
    # What this build does of the job: all of it (run), its plan only, kept for a later apply
    # (plan), or the apply of a plan an earlier build saved (apply).
    stage: Annotated[JobStage, Field(alias="JOB_STAGE")] = JobStage.RUN
    # Stage apply: the job whose saved plan is applied (a speculative plan's); the job itself if unset.
    plan_job_id: Annotated[str | None, Field(alias="PLAN_JOB_ID", pattern=JOB_ID_PATTERN)] = None
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
    # The sandbox emulator (local mode) for target "sandbox": a separate emulator, one account per
    # project, reached by terraform only through the runner's sandbox bridge.
    sandbox_endpoint_url: Annotated[str | None, Field(alias="SANDBOX_ENDPOINT_URL")] = None
    deploy_role_arn: Annotated[str | None, Field(alias="DEPLOY_ROLE_ARN")] = None
    # Target "aws" from local mode: the keys the providers deploy with (the user's own).
    target_access_key_id: Annotated[str | None, Field(alias="TARGET_AWS_ACCESS_KEY_ID")] = None
    target_secret_access_key: Annotated[str | None, Field(alias="TARGET_AWS_SECRET_ACCESS_KEY")] = None
    target_session_token: Annotated[str | None, Field(alias="TARGET_AWS_SESSION_TOKEN")] = None
    # "strict": terraform runs as a user of its own (root needed). "none": as the runner's user,
    # for code one trusts on a machine without root; never in an install.
    isolation: Annotated[Literal["strict", "none"], Field(alias="PROVISIONER_ISOLATION")] = "strict"
    job_uid_range: Annotated[str, Field(alias="JOB_UID_RANGE", pattern=r"^\d{4,9}-\d{4,9}$")] = (
        "200000-299999"
    )
    # Providers terraform may install (terraform's provider_installation include list).
    allowed_providers: Annotated[str, Field(alias="ALLOWED_PROVIDERS")] = DEFAULT_ALLOWED_PROVIDERS
    # Where HTTPS may go from a job whose network is isolated but whose target is AWS.
    egress_allowed_hosts: Annotated[str, Field(alias="EGRESS_ALLOWED_HOSTS")] = "amazonaws.com,api.aws"
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

    @model_validator(mode="after")
    def _stage_fits_action(self) -> RunnerSettings:
        if self.stage is JobStage.APPLY and self.action not in (JobAction.DEPLOY, JobAction.DESTROY):
            raise ValueError(f"stage apply is for a deploy or a destroy, not a {self.action.value}")
        if self.stage is JobStage.PLAN and self.action is JobAction.VALIDATE:
            raise ValueError("stage plan is for a plan, a deploy or a destroy, not a validate")
        if self.action is JobAction.DRIFT and self.stage is not JobStage.RUN:
            raise ValueError("a drift check is one build (stage run): it never saves or applies a plan")
        return self

    @property
    def source_plan_job_id(self) -> str:
        """The job whose saved plan stage apply applies: the job itself unless PLAN_JOB_ID says."""
        return self.plan_job_id or self.job_id

    @property
    def speculative(self) -> bool:
        """A plan nobody will apply in this job: it takes no state lock and writes nothing on the
        project (stage plan of action plan, or a drift check; the project's lock is not this job's)."""
        return (
            self.stage is JobStage.PLAN and self.action is JobAction.PLAN
        ) or self.action is JobAction.DRIFT

    @property
    def isolated_network(self) -> bool:
        """Terraform gets a network of its own, reaching only the runner's bridges: always when the
        service's AWS is an emulator (local mode), whose data no job may reach directly."""
        return self.aws_endpoint_url is not None or self.target == "sandbox"

    @property
    def uid_range(self) -> tuple[int, int]:
        low, high = (int(part) for part in self.job_uid_range.split("-"))
        return (low, high) if low <= high else (high, low)

    @property
    def provider_allow_list(self) -> list[str]:
        return provider_addresses(self.allowed_providers)

    @property
    def egress_hosts(self) -> list[str]:
        return [host.strip().lower() for host in self.egress_allowed_hosts.split(",") if host.strip()]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> RunnerSettings:
        source = dict(os.environ if environ is None else environ)
        # Empty strings mean "unset" in CodeBuild overrides, which cannot drop a variable.
        cleaned = {k: v for k, v in source.items() if v != ""}
        return cls.model_validate(cleaned)


def provider_addresses(text: str) -> list[str]:
    """``hashicorp/aws, example.com/acme/x`` -> full source addresses, as terraform writes them."""
    addresses = []
    for entry in text.split(","):
        parts = [part for part in entry.strip().lower().split("/") if part]
        if len(parts) == 2:
            parts.insert(0, "registry.terraform.io")
        if len(parts) == 3:
            addresses.append("/".join(parts))
    return addresses


def describe_settings_error(error: ValidationError) -> str:
    problems = []
    for issue in error.errors():
        name = ".".join(str(part) for part in issue["loc"])
        problems.append(f"{name}: {issue['msg']}")
    return "invalid runner environment: " + "; ".join(problems)
