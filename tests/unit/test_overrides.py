"""Override files: the backend per terraform version, provider settings from the provider schema."""

from __future__ import annotations

from typing import Any

import pytest

from core.hcl.config import load_configuration
from runner.confinement import BackendAccess, ProviderAccess
from runner.overrides import ProviderFacts, backend_document, provider_documents, written_configurations
from runner.settings import RunnerSettings

AWS = "registry.terraform.io/hashicorp/aws"
BRIDGE = BackendAccess(endpoint="http://127.0.0.1:4510", static_keys=("state-bridge", "state-bridge"))
SANDBOX = ProviderAccess(
    sandbox_endpoint="http://127.0.0.1:4566", static_keys=("sandbox-bridge", "sandbox-bridge")
)
DEPLOY = ProviderAccess(profile="provisioner-deploy")


def settings(**overrides: str) -> RunnerSettings:
    env = {
        "JOB_ID": "deploy-1700000000000-abc123",
        "PROJECT_ID": "shop",
        "JOB_ACTION": "deploy",
        "JOBS_TABLE": "jobs",
        "PROJECTS_TABLE": "projects",
        "LOCK_TABLE": "locks",
        "WORKSPACES_BUCKET": "workspaces",
        "STATE_BUCKET": "state",
        "LOGS_BUCKET": "logs",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
    }
    env.update(overrides)
    return RunnerSettings.from_environment(env)


def facts(version: int) -> ProviderFacts:
    """Provider config schemas as terraform prints them, trimmed to what matters here."""
    attributes: dict[str, Any] = {"region": "string", "access_key": "string", "secret_key": "string"}
    if version == 3:
        attributes |= {
            "s3_force_path_style": "bool",
            "skip_get_ec2_platforms": "bool",
            "skip_metadata_api_check": "bool",
        }
    else:
        attributes |= {"s3_use_path_style": "bool", "skip_metadata_api_check": "string"}
    attributes["skip_credentials_validation"] = "bool"
    return ProviderFacts(
        config_attributes={AWS: attributes},
        endpoints={AWS: ["s3", "sqs", "sts"]},
        config_blocks={AWS: ["assume_role", "default_tags", "endpoints"]},
    )


def test_backend_uses_one_key_per_project_with_locking_and_encryption() -> None:
    document = backend_document(
        settings(AWS_ENDPOINT_URL="", PROVISIONER_TARGET="aws"), "1.5.7", BackendAccess(profile="backend")
    )
    assert document == {
        "terraform": {
            "backend": {
                "s3": {
                    "bucket": "state",
                    "key": "projects/shop/terraform.tfstate",
                    "region": "us-east-1",
                    "dynamodb_table": "locks",
                    "encrypt": True,
                    "profile": "backend",
                }
            }
        }
    }


def test_backend_endpoint_settings_follow_the_terraform_version() -> None:
    # The backend reaches the service's emulator only through the job's state bridge
    old = backend_document(settings(), "1.0.3", BRIDGE)["terraform"]["backend"]["s3"]
    new = backend_document(settings(), "1.6.0", BRIDGE)["terraform"]["backend"]["s3"]
    assert old["endpoint"] == "http://127.0.0.1:4510" and old["force_path_style"] is True
    assert "endpoints" not in old
    assert new["endpoints"]["dynamodb"] == "http://127.0.0.1:4510" and new["use_path_style"] is True
    assert "endpoint" not in new and "force_path_style" not in new
    assert "http://127.0.0.1:5000" not in str(old) + str(new)
    assert (new["access_key"], new["secret_key"]) == BRIDGE.static_keys


@pytest.mark.parametrize(
    ("version", "lockfile", "table"),
    [
        ("1.0.3", False, True),
        ("1.9.8", False, True),
        ("1.10.0", True, False),
        ("1.11.4", True, False),
        ("1.10.2", True, False),  # OpenTofu 1.10 (the toolchain's flavor decides nothing here)
        ("2.0.0", True, False),
    ],
)
def test_the_state_lock_follows_the_terraform_version(version: str, lockfile: bool, table: bool) -> None:
    # Given a job on that terraform (or OpenTofu) version and no lock an older one left
    backend = backend_document(settings(), version, BRIDGE)["terraform"]["backend"]["s3"]
    # Then 1.10+ locks with the lock file only (no dynamodb_table: 1.11 warns it is deprecated),
    # older versions with the lock table
    assert ("use_lockfile" in backend) is lockfile and backend.get("use_lockfile", True) is True
    assert ("dynamodb_table" in backend) is table
    if table:
        assert backend["dynamodb_table"] == "locks"


def test_a_lock_item_an_older_terraform_left_is_taken_too_while_moving_off_the_table() -> None:
    # Given a lock item in the table (a 1.0.3 job's), a 1.11 job takes both kinds of lock
    backend = backend_document(settings(), "1.11.4", BRIDGE, dynamodb_lock_held=True)["terraform"]["backend"]
    assert backend["s3"]["use_lockfile"] is True and backend["s3"]["dynamodb_table"] == "locks"
    # and an older version, which has no lock file, is not given one
    old = backend_document(settings(), "1.0.3", BRIDGE, dynamodb_lock_held=True)["terraform"]["backend"]
    assert "use_lockfile" not in old["s3"] and old["s3"]["dynamodb_table"] == "locks"


def test_sandbox_points_every_aws_provider_block_at_the_emulator() -> None:
    # Given a default provider and an aliased one
    configuration = load_configuration(
        {
            "main.tf": 'provider "aws" {\n  region = "us-east-1"\n}\nprovider "aws" {\n  alias = "west"\n  region = "us-west-2"\n}\n'
        }
    )
    override, defaults = provider_documents(configuration, facts(3), settings(), SANDBOX)
    assert defaults is None
    assert override is not None
    blocks = override["provider"]["aws"]
    assert sorted(str(b.get("alias")) for b in blocks) == ["None", "west"]
    for block in blocks:
        assert block["endpoints"] == [
            {"s3": "http://127.0.0.1:4566", "sqs": "http://127.0.0.1:4566", "sts": "http://127.0.0.1:4566"}
        ]
        assert block["s3_force_path_style"] is True
        assert block["skip_get_ec2_platforms"] is True
        assert block["access_key"] == "sandbox-bridge"
        assert "default_tags" not in block


def test_every_local_name_of_the_aws_provider_is_redirected() -> None:
    # Given the AWS provider under another local name, configured with an alias and used unconfigured
    configuration = load_configuration(
        {
            "main.tf": 'terraform {\n  required_providers {\n    cloud = { source = "hashicorp/aws" }\n'
            '    other = { source = "registry.terraform.io/hashicorp/aws" }\n  }\n}\n'
            'provider "cloud" {\n  alias = "east"\n  region = "us-east-1"\n}\n'
            'resource "aws_sqs_queue" "q" {\n  provider = other\n  name = "q"\n}\n'
        }
    )
    override, defaults = provider_documents(configuration, facts(3), settings(), SANDBOX)
    # Then the configured one is overridden and every local name without a default gets one
    assert override is not None and defaults is not None
    assert [b["alias"] for b in override["provider"]["cloud"]] == ["east"]
    assert sorted(defaults["provider"]) == ["aws", "cloud", "other"]
    for blocks in (*override["provider"].values(), *defaults["provider"].values()):
        for block in blocks:
            assert set(block["endpoints"][0].values()) == {"http://127.0.0.1:4566"}
    assert written_configurations(configuration) == {"aws", "cloud", "cloud.east", "other"}


def test_settings_use_the_names_and_types_of_the_provider_version() -> None:
    configuration = load_configuration({"main.tf": 'resource "aws_s3_bucket" "b" {}\n'})
    override, defaults = provider_documents(configuration, facts(5), settings(), SANDBOX)
    # no provider block in the code: a normal file declares the default one
    assert override is None
    assert defaults is not None
    block = defaults["provider"]["aws"][0]
    assert block["s3_use_path_style"] is True
    assert block["skip_metadata_api_check"] == "true"
    assert "s3_force_path_style" not in block and "skip_get_ec2_platforms" not in block


def test_target_aws_uses_the_deploy_profile_and_merges_default_tags() -> None:
    configuration = load_configuration(
        {"main.tf": 'provider "aws" {\n  default_tags {\n    tags = { Team = "shop" }\n  }\n}\n'}
    )
    aws = settings(PROVISIONER_TARGET="aws", DEPLOY_ROLE_ARN="arn:aws:iam::123456789012:role/deploy")
    override, _ = provider_documents(configuration, facts(5), aws, DEPLOY)
    assert override is not None
    block = override["provider"]["aws"][0]
    assert "endpoints" not in block and "access_key" not in block and "assume_role" not in block
    # The runner assumed the deploy role itself; terraform reads it from a profile of its own
    assert block["profile"] == "provisioner-deploy"
    assert block["default_tags"] == [
        {
            "tags": {
                "Team": "shop",
                "ManagedBy": "terraform-provisioner",
                "ProjectId": "shop",
                "JobId": aws.job_id,
            }
        }
    ]


def test_tags_given_as_an_expression_are_merged_in_terraform() -> None:
    configuration = load_configuration(
        {"main.tf": 'provider "aws" {\n  default_tags {\n    tags = var.tags\n  }\n}\n'}
    )
    aws = settings(PROVISIONER_TARGET="aws", TAG_JOB_ID="false")
    override, _ = provider_documents(configuration, facts(5), aws, DEPLOY)
    assert override is not None
    tags = override["provider"]["aws"][0]["default_tags"][0]["tags"]
    assert tags == '${merge(var.tags, {"ManagedBy" = "terraform-provisioner", "ProjectId" = "shop"})}'
