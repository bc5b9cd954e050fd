"""Acting as the service: providers pointed at the service's own emulator in every form terraform
accepts, and backends replaced to take over another project's state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.security.conftest import VICTIM, Install, assert_nothing_leaked, unique_project

pytestmark = pytest.mark.terraform

READ_VICTIM_STATE = (
    'data "aws_s3_bucket_object" "v" {\n  provider = {provider}\n  bucket = "provisioner-state"\n'
    f'  key = "projects/{VICTIM}/terraform.tfstate"\n}}\n'
    'output "x" {\n  value = data.aws_s3_bucket_object.v.body\n}\n'
)
DELETE_VICTIM_WORKSPACE = (
    'resource "aws_s3_bucket_object" "v" {\n  provider = {provider}\n  bucket = "provisioner-workspaces"\n'
    f'  key = "workspaces/{VICTIM}/{{job}}/main.tf"\n  content = "resource \\"null_resource\\" \\"pwn\\" {{}}"\n}}\n'
)
SKIPS = (
    "  skip_credentials_validation = true\n  skip_requesting_account_id = true\n"
    "  skip_metadata_api_check = true\n  s3_force_path_style = true\n"
)


def attacks(install: Install) -> dict[str, dict[str, str]]:
    emulator = install.server.emulator_url()
    endpoints = f'    s3 = "{emulator}"\n    sts = "{emulator}"\n    secretsmanager = "{emulator}"\n'
    reads = READ_VICTIM_STATE
    write = DELETE_VICTIM_WORKSPACE.replace("{job}", install.victim_job)
    return {
        "dynamic endpoints": {
            "main.tf": 'provider "aws" {\n  region = "us-east-1"\n' + SKIPS + '  dynamic "endpoints" {\n'
            f"    for_each = [1]\n    content {{\n{endpoints}    }}\n  }}\n}}\n"
            + reads.replace("{provider}", "aws")
        },
        "dynamic assume_role": {
            "main.tf": 'provider "aws" {\n  region = "us-east-1"\n  dynamic "assume_role" {\n    for_each = [1]\n'
            '    content {\n      role_arn = "arn:aws:iam::123456789012:role/provisioner-runner"\n    }\n  }\n}\n'
            + reads.replace("{provider}", "aws")
        },
        "a provider under another local name": {
            "main.tf": 'terraform {\n  required_providers {\n    svc = { source = "hashicorp/aws" }\n  }\n}\n'
            'provider "svc" {\n  region = "us-east-1"\n  access_key = "test"\n  secret_key = "test"\n'
            + SKIPS
            + f"  endpoints {{\n{endpoints}  }}\n}}\n"
            + reads.replace("{provider}", "svc")
        },
        "a provider in a child module": {
            "main.tf": 'module "m" {\n  source = "./m"\n}\noutput "x" {\n  value = module.m.x\n}\n',
            "m/main.tf": 'provider "aws" {\n  region = "us-east-1"\n  access_key = "test"\n  secret_key = "test"\n'
            + SKIPS
            + f"  endpoints {{\n{endpoints}  }}\n}}\n"
            + reads.replace("{provider}", "aws"),
        },
        "provider settings in json, as arrays": {
            "main.tf.json": json.dumps(
                {
                    "provider": [
                        {
                            "aws": [
                                {
                                    "region": "us-east-1",
                                    "access_key": "test",
                                    "secret_key": "test",
                                    "skip_credentials_validation": True,
                                    "skip_requesting_account_id": True,
                                    "endpoints": [{"s3": emulator, "sts": emulator}],
                                }
                            ]
                        }
                    ]
                }
            ),
            "read.tf": reads.replace("{provider}", "aws"),
        },
        "writing into another project's workspace": {"main.tf": write.replace("{provider}", "aws")},
        "writing into another project's workspace, another local name": {
            "main.tf": 'terraform {\n  required_providers {\n    w = { source = "hashicorp/aws" }\n  }\n}\n'
            'provider "w" {\n  region = "us-east-1"\n  access_key = "test"\n  secret_key = "test"\n'
            + SKIPS
            + f"  endpoints {{\n{endpoints}  }}\n}}\n"
            + write.replace("{provider}", "w")
        },
        "backend_override.tf.json onto the victim's state": {
            "main.tf": 'resource "null_resource" "x" {}\n',
            "backend_override.tf.json": json.dumps(
                {
                    "terraform": {
                        "backend": {
                            "s3": {
                                "bucket": "provisioner-state",
                                "key": f"projects/{VICTIM}/terraform.tfstate",
                                "region": "us-east-1",
                                "endpoint": emulator,
                                "access_key": "test",
                                "secret_key": "test",
                                "skip_credentials_validation": True,
                                "force_path_style": True,
                            }
                        }
                    }
                }
            ),
        },
        "override.tf in a sub-directory module": {
            "main.tf": 'module "m" {\n  source = "./m"\n}\n',
            "m/main.tf": 'resource "null_resource" "x" {}\n',
            "m/override.tf": 'resource "null_resource" "x" {\n  triggers = { a = "b" }\n}\n',
        },
        "a z_override.tf that empties the victim's state": {
            "main.tf": "",
            "z_override.tf": 'terraform {\n  backend "s3" {\n    key = "projects/victim/terraform.tfstate"\n  }\n}\n',
        },
        "a backend block with an escaped name": {
            "main.tf": 'terraform {\n  backend "\\u0073\\u0033" {\n'
            f'    key = "projects/{VICTIM}/terraform.tfstate"\n  }}\n}}\nresource "null_resource" "x" {{}}\n'
        },
        "a cloud block in json": {
            "main.tf.json": json.dumps({"terraform": [{"cloud": [{"organization": "x"}]}]})
        },
        "a .terraform directory with a provider of its own": {
            "main.tf": 'resource "null_resource" "x" {}\n',
            ".terraform/providers/registry.terraform.io/hashicorp/null/2.1.2/linux_amd64/terraform-provider-null_v2.1.2_x4": (
                "#!/bin/sh\necho PWN$((40+2))ED\n"
            ),
        },
    }


NAMES = [
    "dynamic endpoints",
    "dynamic assume_role",
    "a provider under another local name",
    "a provider in a child module",
    "provider settings in json, as arrays",
    "writing into another project's workspace",
    "writing into another project's workspace, another local name",
    "backend_override.tf.json onto the victim's state",
    "override.tf in a sub-directory module",
    "a z_override.tf that empties the victim's state",
    "a backend block with an escaped name",
    "a cloud block in json",
    "a .terraform directory with a provider of its own",
]


@pytest.mark.parametrize("name", NAMES)
def test_no_job_acts_as_the_service(strict: Install, name: str, record_outcome: Any) -> None:
    workspace = strict.victim_workspace()
    transcript = strict.attack(unique_project("svc"), attacks(strict)[name])
    record_outcome(transcript)
    assert_nothing_leaked(transcript, strict.victim_state["lineage"], "PWN42ED")
    # The victim's state, lock and stored code are as they were
    strict.assert_victim_intact()
    assert strict.victim_workspace() == workspace
