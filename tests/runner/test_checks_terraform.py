"""The checks of terraform's own view (runner/checks.py) over what terraform really writes: the
module manifest after init and the saved plan's configuration, on both terraform versions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from core.toolchain import Toolchain
from runner.checks import installed_module_problems, plan_configuration_problems
from tests.support.terraform_103 import terraform_binary

pytestmark = pytest.mark.terraform

AWS = (
    '  region = "us-east-1"\n  access_key = "k"\n  secret_key = "s"\n'
    "  skip_credentials_validation = true\n  skip_metadata_api_check = true\n"
    "  skip_requesting_account_id = true\n"
)


@pytest.fixture(scope="module", params=["toolchain", "1.0.3"])
def terraform(request: pytest.FixtureRequest, toolchain: Toolchain) -> tuple[Path, dict[str, str], str]:
    binary, version = terraform_binary(request.param, toolchain)
    return binary, toolchain.env(), version


def run(terraform: tuple[Path, dict[str, str], str], workdir: Path, *args: str) -> str:
    binary, env, _version = terraform
    result = subprocess.run(
        [str(binary), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def planned(
    terraform: tuple[Path, dict[str, str], str], workdir: Path, files: dict[str, str]
) -> dict[str, Any]:
    for name, text in files.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text(text)
    run(terraform, workdir, "init", "-input=false", "-no-color")
    run(terraform, workdir, "plan", "-input=false", "-no-color", "-out=tfplan")
    document: dict[str, Any] = json.loads(run(terraform, workdir, "show", "-json", "tfplan"))
    return document


def ours(expressions: dict[str, Any]) -> bool:
    return (expressions.get("access_key") or {}).get("constant_value") == "ours"


def test_provisioners_remote_state_and_child_providers_are_found(
    terraform: tuple[Path, dict[str, str], str], tmp_path: Path
) -> None:
    (tmp_path / "other.tfstate").write_text(
        json.dumps({"version": 4, "terraform_version": "1.0.0", "serial": 1, "lineage": "x", "outputs": {}})
    )
    files = {
        "main.tf": 'resource "null_resource" "root" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n'
        'module "child" {\n  source = "./child"\n}\n'
        'data "terraform_remote_state" "other" {\n  backend = "local"\n'
        f'  config = {{\n    path = "{tmp_path / "other.tfstate"}"\n  }}\n}}\n',
        "child/main.tf": f'provider "aws" {{\n{AWS}}}\n'
        'resource "null_resource" "inner" {\n  provisioner "local-exec" {\n    when = destroy\n'
        '    command = "id"\n  }\n}\n',
    }
    plan = planned(terraform, tmp_path, files)
    problems = plan_configuration_problems(plan, {"aws"}, allow_exec=False, is_ours=ours)
    text = "\n".join(problems)
    assert "null_resource.root" in text and "module.child.null_resource.inner" in text
    assert "data.terraform_remote_state.other reads another state" in text
    assert "inside module.child" in text
    # With exec allowed, the provisioners pass; the rest does not
    allowed = plan_configuration_problems(plan, {"aws"}, allow_exec=True, is_ours=ours)
    assert not any("provisioner" in p for p in allowed) and len(allowed) == 2


def test_aws_configurations_must_be_the_ones_the_runner_wrote(
    terraform: tuple[Path, dict[str, str], str], tmp_path: Path
) -> None:
    files = {
        "main.tf": 'terraform {\n  required_providers {\n    other = { source = "hashicorp/aws" }\n  }\n}\n'
        f'provider "aws" {{\n{AWS.replace(chr(34) + "k" + chr(34), chr(34) + "ours" + chr(34))}}}\n'
        f'provider "other" {{\n  alias = "x"\n{AWS}}}\n'
    }
    plan = planned(terraform, tmp_path, files)
    # A configuration the runner did not write, or one without its settings, is refused
    names = frozenset({"aws", "other"})
    problems = plan_configuration_problems(
        plan, {"aws"}, allow_exec=False, is_ours=ours, aws_local_names=names
    )
    assert problems == [
        "AWS provider configuration other is not one the service configured",
        "AWS provider configuration other.x is not one the service configured",
    ]
    problems = plan_configuration_problems(
        plan, {"aws", "other", "other.x"}, allow_exec=False, is_ours=ours, aws_local_names=names
    )
    assert problems == [
        "AWS provider configuration other is not one the service configured",
        "AWS provider configuration other.x is not one the service configured",
    ]
    # and a configuration with the runner's settings passes
    clean = planned(
        terraform, tmp_path / "clean", {"main.tf": f'provider "aws" {{\n{AWS}}}\n'.replace('"k"', '"ours"')}
    )
    assert plan_configuration_problems(clean, {"aws"}, allow_exec=False, is_ours=ours) == []


def test_modules_from_outside_the_workspace_are_found(
    terraform: tuple[Path, dict[str, str], str], tmp_path: Path
) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "main.tf").write_text('output "o" {\n  value = 1\n}\n')
    workdir = tmp_path / "code"
    workdir.mkdir()
    (workdir / "inside").mkdir()
    (workdir / "inside" / "main.tf").write_text('output "o" {\n  value = 1\n}\n')
    (workdir / "main.tf").write_text(
        'module "inside" {\n  source = "./inside"\n}\nmodule "outside" {\n  source = "../outside"\n}\n'
    )
    run(terraform, workdir, "init", "-input=false", "-no-color")
    problems = installed_module_problems(workdir)
    assert len(problems) == 1 and 'module "outside"' in problems[0]
