"""Install options: CDK context keys ``provisioner:<name>``, parsed once into one typed object.

Defaults live in ``cdk.json``; ``cdk deploy -c provisioner:authMode=cognito`` overrides one. A bad
value stops the synth with a message that names the key, what was wrong and what was given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cdk.constants import CONTEXT_PREFIX
from core.requests import DRIFT_SCHEDULE_PATTERN

AuthMode = Literal["iam", "cognito", "apikey"]
Architecture = Literal["amd64", "arm64"]

# CloudWatch Logs accepts only these retention periods (days: CDK's RetentionDays member).
LOG_RETENTION_DAYS = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    120: "FOUR_MONTHS",
    150: "FIVE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
    400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS",
    731: "TWO_YEARS",
    1096: "THREE_YEARS",
    1827: "FIVE_YEARS",
    2192: "SIX_YEARS",
    2557: "SEVEN_YEARS",
}
ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]+$"
POLICY_ARN = r"^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/[A-Za-z0-9_+=,.@/-]+$"
REGION = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"
SHA256 = r"^[0-9a-f]{64}$"
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
# A provider source address: NAMESPACE/TYPE, optionally behind a registry host.
PROVIDER_SOURCE = r"^([a-z0-9.-]+\.[a-z]{2,}/)?[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$"
# A year: the longest wait or plan age the handlers accept (and a standard execution's lifetime).
MAX_REVIEW_HOURS = 365 * 24
DEFAULT_ALLOWED_PROVIDERS = (
    "hashicorp/aws",
    "hashicorp/null",
    "hashicorp/random",
    "hashicorp/time",
    "hashicorp/tls",
)


class InstallOptionsError(ValueError):
    """One or more install options are invalid; the message lists each."""


class InstallOptions(BaseModel):
    """Everything an operator may choose at install time."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    stage_name: Annotated[str, Field(alias="stageName", pattern=r"^[A-Za-z0-9_]{1,128}$")] = "v1"
    auth_mode: Annotated[AuthMode, Field(alias="authMode")] = "iam"
    terraform_version: Annotated[
        str, Field(alias="terraformVersion", pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")
    ] = "1.5.7"
    terraform_sha256_linux_amd64: Annotated[str, Field(alias="terraformSha256LinuxAmd64", pattern=SHA256)] = (
        "c0ed7bc32ee52ae255af9982c8c88a7a4c610485cf1d55feeb037eab75fa082c"
    )
    terraform_sha256_linux_arm64: Annotated[str, Field(alias="terraformSha256LinuxArm64", pattern=SHA256)] = (
        "f4b4ad7c6b6088960a667e34495cae490fb072947a9ff266bf5929f5333565e4"
    )
    runner_architecture: Annotated[Architecture, Field(alias="runnerArchitecture")] = "amd64"
    runner_timeout_minutes: Annotated[int, Field(alias="runnerTimeoutMinutes", ge=5, le=480)] = 60
    deploy_role_arn: Annotated[str | None, Field(alias="deployRoleArn", pattern=ROLE_ARN)] = None
    deploy_role_boundary_arn: Annotated[
        str | None, Field(alias="deployRoleBoundaryArn", pattern=POLICY_ARN)
    ] = None
    deploy_role_policy_arns: Annotated[
        tuple[Annotated[str, Field(pattern=POLICY_ARN)], ...],
        Field(alias="deployRolePolicyArns", min_length=1),
    ] = (ADMINISTRATOR_ACCESS,)
    allowed_regions: Annotated[
        tuple[Annotated[str, Field(pattern=REGION)], ...], Field(alias="allowedRegions")
    ] = ()
    log_retention_days: Annotated[int, Field(alias="logRetentionDays")] = 90
    # Old terraform state versions (the state history a rollback reads) expire after this long.
    state_version_retention_days: Annotated[int, Field(alias="stateVersionRetentionDays", ge=1, le=3650)] = 90
    allow_exec_constructs: Annotated[bool, Field(alias="allowExecConstructs")] = False
    # Providers terraform may install (terraform's own provider_installation include list).
    allowed_providers: Annotated[
        tuple[Annotated[str, Field(pattern=PROVIDER_SOURCE)], ...],
        Field(alias="allowedProviders", min_length=1),
    ] = DEFAULT_ALLOWED_PROVIDERS
    tag_job_id: Annotated[bool, Field(alias="tagJobId")] = True
    alarm_email: Annotated[
        str | None, Field(alias="alarmEmail", pattern=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
    ] = None
    throttle_rate_limit: Annotated[int, Field(alias="throttleRateLimit", ge=1, le=10000)] = 20
    throttle_burst_limit: Annotated[int, Field(alias="throttleBurstLimit", ge=1, le=5000)] = 40
    # Plan → review → apply. The ranges are those functions/models/env_vars.py's Review accepts.
    # A plan waiting for approval is discarded after this long.
    approval_timeout_hours: Annotated[int, Field(alias="approvalTimeoutHours", ge=1, le=MAX_REVIEW_HOURS)] = (
        168
    )
    # A saved plan older than this is stale: it is planned again rather than applied.
    plan_expiry_hours: Annotated[int, Field(alias="planExpiryHours", ge=1, le=MAX_REVIEW_HOURS)] = 168
    # How often a queued job's workflow looks whether its turn has come.
    queue_poll_seconds: Annotated[int, Field(alias="queuePollSeconds", ge=1, le=300)] = 10
    # Builds running at once, account-wide (every deploy, destroy, plan, validate and drift check
    # counts; a gated job's plan and apply are a build each). Jobs over it wait as pending. Kept
    # below CodeBuild's concurrent-build quota for the runner's compute type (Linux/Small: 60 in
    # most regions; 20 for some types, as low as 5 in a new account:
    # https://docs.aws.amazon.com/codebuild/latest/userguide/limits.html), so a burst waits here, in
    # order, rather than meeting CodeBuild's refusal or taking the account's other builds' share.
    max_concurrent_builds: Annotated[int, Field(alias="maxConcurrentBuilds", ge=1, le=10000)] = 20
    # How often each deployed project's drift is checked unless its settings say ("off": never).
    drift_schedule: Annotated[str, Field(alias="driftSchedule", pattern=DRIFT_SCHEDULE_PATTERN)] = (
        "rate(1 day)"
    )

    @field_validator(
        "deploy_role_arn", "deploy_role_boundary_arn", "alarm_email", mode="before", check_fields=False
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("deploy_role_policy_arns", "allowed_regions", "allowed_providers", mode="before")
    @classmethod
    def _list_from_cli(cls, value: Any) -> Any:
        # `-c key=value` on the command line always gives a string: accept JSON or a comma list.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _known_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of CloudWatch's retention periods {sorted(LOG_RETENTION_DAYS)}")
        return value

    @model_validator(mode="after")
    def _one_deploy_role_source(self) -> InstallOptions:
        if self.deploy_role_arn and self.deploy_role_boundary_arn:
            raise ValueError(
                "deployRoleArn names an existing role; deployRoleBoundaryArn applies only to a role the "
                "stack creates: set one of them"
            )
        return self

    @property
    def log_retention_name(self) -> str:
        return LOG_RETENTION_DAYS[self.log_retention_days]

    @property
    def approval_timeout_seconds(self) -> int:
        return self.approval_timeout_hours * 3600

    @property
    def plan_expiry_seconds(self) -> int:
        return self.plan_expiry_hours * 3600

    @property
    def terraform_sha256(self) -> str:
        """The digest of the release for the runner's architecture."""
        if self.runner_architecture == "arm64":
            return self.terraform_sha256_linux_arm64
        return self.terraform_sha256_linux_amd64

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> InstallOptions:
        """Read every ``provisioner:*`` key; unknown keys are refused, so a typo never passes silently."""
        raw = {k.removeprefix(CONTEXT_PREFIX): v for k, v in context.items() if k.startswith(CONTEXT_PREFIX)}
        known = {field.alias for field in cls.model_fields.values() if field.alias}
        unknown = sorted(set(raw) - known)
        if unknown:
            names = ", ".join(CONTEXT_PREFIX + name for name in unknown)
            raise InstallOptionsError(
                f"unknown install option(s): {names}; known: {', '.join(sorted(known))}"
            )
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise InstallOptionsError(describe(exc, raw)) from exc


def describe(error: ValidationError, raw: Mapping[str, Any]) -> str:
    problems = []
    for issue in error.errors():
        location = [str(part) for part in issue["loc"]]
        key = location[0] if location else ""
        where = CONTEXT_PREFIX + ".".join(location) if key else "install options"
        given = f" (got {json.dumps(raw[key])})" if key in raw else ""
        message = str(issue["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}{given}")
    return "invalid install options: " + "; ".join(problems)
