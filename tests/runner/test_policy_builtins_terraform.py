"""The built-in policy checks over plans real terraform writes (both versions), with the forms a
user could write to slip past them: a dynamic ingress block, an override file, a JSON
configuration, aliased and passed-in providers, and a protected resource in a child module
removed from the code."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from core.toolchain import Toolchain
from policy.builtins import BUILTINS, parse_settings
from policy.model import Finding, PolicyContext
from tests.support.terraform_103 import terraform_binary

pytestmark = pytest.mark.terraform

CONTEXT = PolicyContext(project_id="p", caller="c", action="deploy", default_region="us-east-1")

PROVIDERS = """
variable "west" {
  type    = string
  default = "us-west-2"
}

variable "team" {
  type = string
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "k"
  secret_key                  = "s"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  default_tags {
    tags = { Owner = "platform" }
  }
}

provider "aws" {
  alias                       = "west"
  region                      = var.west
  access_key                  = "k"
  secret_key                  = "s"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
}
"""

MAIN = """
resource "aws_security_group" "ssh" {
  name = "ssh"
  dynamic "ingress" {
    for_each = [22, 443]
    content {
      from_port   = ingress.value
      to_port     = ingress.value
      protocol    = "tcp"
      cidr_blocks = ["0.0.0.0/0"]
    }
  }
}

resource "aws_instance" "web" {
  count         = 1
  ami           = "ami-12345678"
  instance_type = "t3.micro"
  tags          = { Team = var.team }
}

module "edge" {
  source    = "./edge"
  providers = { aws = aws.west }
}
"""

OVERRIDE = """
resource "aws_instance" "web" {
  instance_type = "p4d.24xlarge"
}
"""

EDGE = """
resource "aws_s3_bucket" "site" {
  bucket = "edge-site"
}
"""

JSON_CONFIG = {
    "resource": {
        "aws_s3_bucket": {"public": {"bucket": "public-assets", "acl": "public-read"}},
        "aws_s3_bucket_policy": {
            "public": {
                "bucket": "public-assets",
                "policy": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": ["arn:aws:iam::123456789012:root", "*"]},
                                "Action": "s3:GetObject",
                                "Resource": "arn:aws:s3:::public-assets/*",
                            }
                        ],
                    }
                ),
            }
        },
    }
}


@pytest.fixture(scope="module", params=["toolchain", "1.0.3"])
def terraform(request: pytest.FixtureRequest, toolchain: Toolchain) -> tuple[Path, dict[str, str]]:
    return terraform_binary(request.param, toolchain)[0], toolchain.env()


def tf(terraform: tuple[Path, dict[str, str]], workdir: Path, *args: str) -> str:
    binary, env = terraform
    result = subprocess.run(
        [str(binary), *args, "-no-color"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"terraform {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def write(workdir: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text(text)


def show_plan(terraform: tuple[Path, dict[str, str]], workdir: Path, *args: str) -> dict[str, Any]:
    tf(terraform, workdir, "plan", "-input=false", "-out=tfplan", *args)
    document: dict[str, Any] = json.loads(tf(terraform, workdir, "show", "-json", "tfplan"))
    return document


def run(name: str, plan: dict[str, Any], settings: dict[str, Any]) -> list[Finding]:
    return BUILTINS[name].check(plan, parse_settings(name, settings), CONTEXT)


def test_attacker_forms_in_a_real_plan(terraform: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "providers.tf": PROVIDERS,
            "main.tf": MAIN,
            "main_override.tf": OVERRIDE,
            "public.tf.json": json.dumps(JSON_CONFIG),
            "edge/main.tf": EDGE,
        },
    )
    tf(terraform, tmp_path, "init", "-input=false")
    plan = show_plan(terraform, tmp_path, "-var", "team=web")

    exposure = {f.message for f in run("public-exposure", plan, {})}
    assert exposure == {
        "aws_security_group.ssh is open to the world (0.0.0.0/0 or ::/0) on port 22",
        "aws_s3_bucket.public has the public acl public-read",
        "aws_s3_bucket_policy.public has a policy statement 0 that allows any principal (*)",
    }
    classes = run("allowed-classes", plan, {"instanceTypes": ["t3.*"]})
    assert [f.message for f in classes] == [
        "aws_instance.web[0] instance_type is p4d.24xlarge, which is not an allowed instance type (t3.*)"
    ]
    # module.edge was passed aws.west, whose region is a variable's default. terraform 1.0 does
    # not write which configuration a module was passed: the bucket may be in either region.
    regions = run("allowed-regions", plan, {"regions": ["us-east-1"]})
    assert [f.address for f in regions] == ["module.edge.aws_s3_bucket.site"]
    assert "us-west-2" in regions[0].message
    assert run("allowed-regions", plan, {"regions": ["us-*"]}) == []
    # Owner comes from default_tags; Team only the instance sets
    tags = {f.address: f.message for f in run("required-tags", plan, {"tags": ["Owner", "Team"]})}
    assert "aws_instance.web[0]" not in tags
    assert tags["aws_security_group.ssh"] == "aws_security_group.ssh is missing the required tags Team"
    assert "Owner" in tags["module.edge.aws_s3_bucket.site"]


def test_protected_resource_removed_from_a_child_module(
    terraform: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    # The state holds the module's bucket (written here: no apply); the code no longer has the
    # module, so the plan (not refreshed: nothing is called) destroys it.
    name = f"protected-{uuid.uuid4().hex[:8]}"
    instance = {
        "index_key": 0,
        "schema_version": 0,
        "attributes": {"id": name, "bucket": name, "acl": "private"},
    }
    state = {
        "version": 4,
        "terraform_version": "1.0.3",
        "serial": 1,
        "lineage": str(uuid.uuid4()),
        "outputs": {},
        "resources": [
            {
                "module": "module.data",
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "kept",
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [instance],
            }
        ],
    }
    provider = (
        'provider "aws" {\n  region = "us-east-1"\n  access_key = "k"\n  secret_key = "s"\n'
        "  skip_credentials_validation = true\n  skip_metadata_api_check = true\n"
        "  skip_requesting_account_id = true\n}\n"
    )
    write(tmp_path, {"main.tf": provider, "terraform.tfstate": json.dumps(state)})
    tf(terraform, tmp_path, "init", "-input=false")
    plan = show_plan(terraform, tmp_path, "-refresh=false")

    findings = run("destroy-protection", plan, {"types": ["aws_s3_bucket"]})
    assert findings == [
        Finding(
            "module.data.aws_s3_bucket.kept[0] (aws_s3_bucket) would be destroyed",
            "module.data.aws_s3_bucket.kept[0]",
        )
    ]
    assert len(run("destroy-protection", plan, {"addresses": ["module.data.*"]})) == 1
    assert run("destroy-protection", plan, {"types": ["aws_db_instance"]}) == []
