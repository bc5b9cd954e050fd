"""Reading what is not the project's: the service's data directory, other projects' state and
secrets, the runner's environment, files outside the workspace, in the forms an attacker would use
(escapes, templates, module sources, remote state, the service's own buckets)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.conftest import VICTIM, Install, assert_nothing_leaked, unique_project

pytestmark = pytest.mark.terraform


def _escaped(path: str) -> str:
    """An HCL string literal spelling every '/' and '.' as a unicode escape."""
    return path.replace("/", "\\u002f").replace(".", "\\u002e")


def _outputs(expressions: dict[str, str]) -> str:
    return "".join(f'output "{name}" {{\n  value = {value}\n}}\n' for name, value in expressions.items())


def attacks(install: Install) -> dict[str, dict[str, str]]:
    data = str(install.data_dir)
    secrets_file = f"{data}/secrets.json"
    pid = install.server.process.pid if install.server.process else 1
    emulator = install.server.emulator_url()
    return {
        "file() of the data directory": {"main.tf": _outputs({"x": f'file("{secrets_file}")'})},
        "file() with escaped path characters": {
            "main.tf": _outputs({"x": f'file("{_escaped(secrets_file)}")'})
        },
        "fileset() listing the data directory": {"main.tf": _outputs({"x": f'fileset("{data}", "**")'})},
        "the server's environment": {"main.tf": _outputs({"x": f'file("/proc/{pid}/environ")'})},
        "the environment of every process": {
            "main.tf": _outputs({"x": '[for p in range(1, 200) : try(file("/proc/${p}/environ"), "")]'})
        },
        "a template that reads the data directory": {
            "main.tf": _outputs({"x": 'templatefile("${path.module}/t.tftpl", {})'}),
            "t.tftpl": f'${{file("{secrets_file}")}}',
        },
        "a template with an escaped path": {
            "main.tf": _outputs({"x": 'templatefile("${path.module}/t.tftpl", {})'}),
            "t.tftpl": f'%{{ for l in [file("{_escaped(secrets_file)}")] }}${{l}}%{{ endfor }}',
        },
        "remote state from the data directory": {
            "main.tf": f'data "terraform_remote_state" "v" {{\n  backend = "local"\n  config = {{\n'
            f'    path = "{data}/buckets/provisioner-state/projects/{VICTIM}/terraform.tfstate"\n  }}\n}}\n'
            + _outputs({"x": "data.terraform_remote_state.v.outputs"})
        },
        "remote state from the service's state bucket": {
            "main.tf": 'data "terraform_remote_state" "v" {\n  backend = "s3"\n  config = {\n'
            f'    bucket = "provisioner-state"\n    key = "projects/{VICTIM}/terraform.tfstate"\n'
            f'    region = "us-east-1"\n    endpoint = "{emulator}"\n    force_path_style = true\n'
            '    skip_credentials_validation = true\n    access_key = "test"\n    secret_key = "test"\n'
            "  }\n}\n" + _outputs({"x": "data.terraform_remote_state.v.outputs"})
        },
        "remote state in json syntax": {
            "main.tf.json": '{"data": [{"terraform_remote_state": {"v": {"backend": "local", "config": {"path": "'
            + f"{data}/buckets/provisioner-state/projects/{VICTIM}/terraform.tfstate"
            + '"}}}}], "output": {"x": {"value": "${data.terraform_remote_state.v.outputs}"}}}'
        },
        "a module from file://": {"main.tf": f'module "m" {{\n  source = "file://{data}"\n}}\n'},
        "a module from git::file://": {"main.tf": f'module "m" {{\n  source = "git::file://{data}"\n}}\n'},
        "a module with an escaped parent path": {
            "main.tf": 'module "m" {\n  source = "./\\u002e\\u002e/\\u002e\\u002e/\\u002e\\u002e"\n}\n'
        },
        "a module from an absolute path": {"main.tf": f'module "m" {{\n  source = "{data}"\n}}\n'},
        "the service's state bucket, with the sandbox's own provider": {
            "main.tf": 'data "aws_s3_bucket_object" "v" {\n  bucket = "provisioner-state"\n'
            f'  key    = "projects/{VICTIM}/terraform.tfstate"\n}}\n'
            + _outputs({"x": "data.aws_s3_bucket_object.v.body"})
        },
        "the victim's secret object in the sandbox": {
            "main.tf": 'data "aws_s3_bucket_object" "v" {\n  bucket = "victim-data"\n  key = "secret.txt"\n}\n'
            + _outputs({"x": "data.aws_s3_bucket_object.v.body"})
        },
        "the victim's stored variables": {
            "main.tf": f'data "aws_secretsmanager_secret_version" "v" {{\n  secret_id = "provisioner/{VICTIM}/variables"\n}}\n'
            + _outputs({"x": "data.aws_secretsmanager_secret_version.v.secret_string"})
        },
    }


NAMES = [
    "file() of the data directory",
    "file() with escaped path characters",
    "fileset() listing the data directory",
    "the server's environment",
    "the environment of every process",
    "a template that reads the data directory",
    "a template with an escaped path",
    "remote state from the data directory",
    "remote state from the service's state bucket",
    "remote state in json syntax",
    "a module from file://",
    "a module from git::file://",
    "a module with an escaped parent path",
    "a module from an absolute path",
    "the service's state bucket, with the sandbox's own provider",
    "the victim's secret object in the sandbox",
    "the victim's stored variables",
]


@pytest.mark.parametrize("name", NAMES)
def test_nothing_foreign_comes_back(strict: Install, name: str, record_outcome: Any) -> None:
    transcript = strict.attack(unique_project("read"), attacks(strict)[name])
    record_outcome(transcript)
    # Whatever the outcome (refused, failed, or completed with nothing foreign in it)
    assert_nothing_leaked(transcript, strict.victim_state["lineage"])
    strict.assert_victim_intact()
