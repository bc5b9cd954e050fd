"""Install options: documented defaults in cdk.json, and a clear error for every bad value."""

from __future__ import annotations

import pytest
from annotated_types import Ge, Le
from pydantic import BaseModel

from cdk.settings import InstallOptions, InstallOptionsError
from functions.models.env_vars import BuildSlots, Review
from tests.infrastructure.conftest import CDK_JSON_CONTEXT


def _options(**overrides: object) -> InstallOptions:
    return InstallOptions.from_context(
        {**CDK_JSON_CONTEXT, **{f"provisioner:{k}": v for k, v in overrides.items()}}
    )


def test_cdk_json_documents_every_option_with_its_default() -> None:
    # Given the defaults in cdk.json / When parsed / Then they equal the model's own defaults
    documented = {k.removeprefix("provisioner:") for k in CDK_JSON_CONTEXT if k.startswith("provisioner:")}
    assert documented == {field.alias for field in InstallOptions.model_fields.values()}
    assert InstallOptions.from_context(CDK_JSON_CONTEXT) == InstallOptions()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "authMode",
            "saml",
            "provisioner:authMode: Input should be 'iam', 'cognito' or 'apikey' (got \"saml\")",
        ),
        ("terraformVersion", "latest", "provisioner:terraformVersion: String should match pattern"),
        (
            "terraformSha256LinuxAmd64",
            "abc",
            "provisioner:terraformSha256LinuxAmd64: String should match pattern",
        ),
        (
            "logRetentionDays",
            10,
            "provisioner:logRetentionDays: must be one of CloudWatch's retention periods",
        ),
        ("allowedRegions", "eu-west-1,mars-1", "provisioner:allowedRegions.1: String should match pattern"),
        ("deployRoleArn", "platform-terraform", "provisioner:deployRoleArn: String should match pattern"),
        (
            "runnerTimeoutMinutes",
            0,
            "provisioner:runnerTimeoutMinutes: Input should be greater than or equal to 5",
        ),
        ("allowExecConstructs", "maybe", "provisioner:allowExecConstructs: Input should be a valid boolean"),
        ("alarmEmail", "ops", "provisioner:alarmEmail: String should match pattern"),
        (
            "approvalTimeoutHours",
            0,
            "provisioner:approvalTimeoutHours: Input should be greater than or equal to 1",
        ),
        (
            "planExpiryHours",
            365 * 24 + 1,
            "provisioner:planExpiryHours: Input should be less than or equal to 8760",
        ),
        ("queuePollSeconds", 301, "provisioner:queuePollSeconds: Input should be less than or equal to 300"),
        ("queuePollSeconds", "soon", "provisioner:queuePollSeconds: Input should be a valid integer"),
        (
            "maxConcurrentBuilds",
            0,
            "provisioner:maxConcurrentBuilds: Input should be greater than or equal to 1 (got 0)",
        ),
        ("maxConcurrentBuilds", "many", "provisioner:maxConcurrentBuilds: Input should be a valid integer"),
    ],
)
def test_a_bad_value_names_the_option_and_what_was_given(key: str, value: object, message: str) -> None:
    with pytest.raises(InstallOptionsError) as caught:
        _options(**{key: value})
    assert message in str(caught.value)


def _bounds(model: type[BaseModel], field: str) -> tuple[int, int]:
    metadata = model.model_fields[field].metadata
    low = next(m.ge for m in metadata if isinstance(m, Ge))
    high = next(m.le for m in metadata if isinstance(m, Le))
    assert isinstance(low, int)
    assert isinstance(high, int)
    return low, high


@pytest.mark.parametrize(
    ("option", "variable", "seconds_per_unit"),
    [
        ("approval_timeout_hours", "APPROVAL_TIMEOUT_SECONDS", 3600),
        ("plan_expiry_hours", "PLAN_EXPIRY_SECONDS", 3600),
        ("queue_poll_seconds", "QUEUE_POLL_SECONDS", 1),
    ],
)
def test_review_options_give_only_values_the_handlers_accept(
    option: str, variable: str, seconds_per_unit: int
) -> None:
    # Given an option's range / Then every value in it, in seconds, is in the handlers' Review range
    low, high = _bounds(InstallOptions, option)
    env_low, env_high = _bounds(Review, variable)
    assert env_low <= low * seconds_per_unit
    assert high * seconds_per_unit <= env_high
    default = InstallOptions.model_fields[option].default * seconds_per_unit
    Review.model_validate({variable: default})


def test_review_options_in_seconds() -> None:
    options = _options(approvalTimeoutHours="24", planExpiryHours=2, queuePollSeconds="30")
    assert options.approval_timeout_seconds == 24 * 3600
    assert options.plan_expiry_seconds == 2 * 3600
    assert options.queue_poll_seconds == 30
    defaults = InstallOptions()
    assert (defaults.approval_timeout_hours, defaults.plan_expiry_hours, defaults.queue_poll_seconds) == (
        168,
        168,
        10,
    )


def test_an_unknown_option_is_refused_with_the_known_ones() -> None:
    with pytest.raises(
        InstallOptionsError, match=r"unknown install option\(s\): provisioner:authmode; known: .*authMode"
    ):
        InstallOptions.from_context({"provisioner:authmode": "iam"})


def test_an_existing_role_and_a_boundary_are_exclusive() -> None:
    with pytest.raises(InstallOptionsError, match="set one of them"):
        _options(
            deployRoleArn="arn:aws:iam::123456789012:role/x",
            deployRoleBoundaryArn="arn:aws:iam::123456789012:policy/b",
        )


def test_command_line_strings_are_parsed() -> None:
    # Given `-c key=value` strings / Then lists, booleans and numbers come out typed
    options = _options(
        allowedRegions="eu-west-1, eu-central-1",
        deployRolePolicyArns='["arn:aws:iam::aws:policy/PowerUserAccess"]',
        allowExecConstructs="true",
        runnerTimeoutMinutes="120",
        runnerArchitecture="arm64",
        alarmEmail="",
    )
    assert options.allowed_regions == ("eu-west-1", "eu-central-1")
    assert options.deploy_role_policy_arns == ("arn:aws:iam::aws:policy/PowerUserAccess",)
    assert options.allow_exec_constructs is True
    assert options.runner_timeout_minutes == 120
    assert options.alarm_email is None
    assert options.terraform_sha256 == options.terraform_sha256_linux_arm64


def test_the_state_version_retention_is_an_option_in_days() -> None:
    assert InstallOptions().state_version_retention_days == 90
    assert _options(stateVersionRetentionDays="30").state_version_retention_days == 30
    for bad in (0, 5000):
        with pytest.raises(InstallOptionsError, match="stateVersionRetentionDays"):
            _options(stateVersionRetentionDays=bad)


def test_the_build_cap_is_an_option_the_steps_function_accepts_below_codebuilds_quota() -> None:
    # Given the option's range / Then the steps function accepts every value in it
    assert _bounds(InstallOptions, "max_concurrent_builds") == _bounds(BuildSlots, "MAX_CONCURRENT_BUILDS")
    # and the default is below CodeBuild's Linux/Small quota of 60, and the same as the handlers'
    assert InstallOptions().max_concurrent_builds == 20 == BuildSlots().MAX_CONCURRENT_BUILDS
    assert _options(maxConcurrentBuilds="5").max_concurrent_builds == 5
