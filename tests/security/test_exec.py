"""Commands on the runner's host: every form of a provisioner or a command-running provider that
an install with exec constructs off must never run, whichever layer stops it (preflight at
submit, the provider allow-list at init, terraform's decoded plan before apply)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.security.conftest import Install, assert_nothing_leaked, unique_project

pytestmark = pytest.mark.terraform

# The command prints this only if it runs: the code holds the arithmetic, never the result.
MARKER = "PWN42ED"
COMMAND = "echo PWN$((40+2))ED"


def _json(document: object) -> str:
    return json.dumps(document, indent=1)


ATTACKS: dict[str, dict[str, str]] = {
    "json body as arrays": {
        "main.tf.json": _json(
            {
                "resource": [
                    {"null_resource": {"x": [{"provisioner": [{"local-exec": [{"command": COMMAND}]}]}]}}
                ]
            }
        )
    },
    "duplicate json key hides the first": {
        "main.tf.json": '{"resource": {"null_resource": {"x": {"provisioner": {"local-exec": {"command": "'
        + COMMAND
        + '"}}}}}, "resource": {"null_resource": {"y": {}}}}'
    },
    "hcl escape in the label": {
        "main.tf": 'resource "null_resource" "x" {\n  provisioner "local\\u002dexec" {\n'
        f'    command = "{COMMAND}"\n  }}\n}}\n'
    },
    "terraform_data, a builtin resource": {
        "main.tf": f'resource "terraform_data" "x" {{\n  provisioner "local-exec" {{\n    command = "{COMMAND}"\n  }}\n}}\n'
    },
    "in a child module": {
        "main.tf": 'module "m" {\n  source = "./modules/m"\n}\n',
        "modules/m/main.tf": f'resource "null_resource" "x" {{\n  provisioner "local-exec" {{\n    command = "{COMMAND}"\n  }}\n}}\n',
    },
    "in a child module, json": {
        "main.tf": 'module "m" {\n  source = "./m"\n}\n',
        "m/x.tf.json": _json(
            {"resource": {"null_resource": {"x": {"provisioner": [{"local-exec": {"command": COMMAND}}]}}}}
        ),
    },
    "destroy-time, in json with when": {
        "main.tf.json": _json(
            {
                "resource": {
                    "null_resource": {
                        "x": {"provisioner": {"local-exec": {"when": "destroy", "command": COMMAND}}}
                    }
                }
            }
        )
    },
    "the external data source": {
        "main.tf": 'data "external" "x" {\n  program = ["sh", "-c", "' + COMMAND + '"]\n}\n'
    },
    "the external data source in a check block": {
        "main.tf": 'check "c" {\n  data "external" "x" {\n    program = ["sh", "-c", "'
        + COMMAND
        + '"]\n  }\n  assert {\n    condition = true\n    error_message = "x"\n  }\n}\n'
    },
    "the external provider under another local name": {
        "main.tf": 'terraform {\n  required_providers {\n    run = { source = "hashicorp/external" }\n  }\n}\n'
        'data "external" "x" {\n  provider = run\n  program = ["sh", "-c", "' + COMMAND + '"]\n}\n'
    },
    "the local provider": {
        "main.tf": 'resource "local_file" "x" {\n  filename = "${path.module}/x.sh"\n  content = "x"\n}\n'
    },
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_no_command_runs_on_a_strict_install(strict: Install, name: str, record_outcome: Any) -> None:
    # When an attacker submits the construct in this form
    transcript = strict.attack(unique_project("exec"), ATTACKS[name])
    record_outcome(transcript)
    # Then it is refused, at submit or before apply, and its command never ran
    assert transcript.ended in ("refused", "failed"), transcript.text[-3000:]
    assert "(local-exec): Executing" not in transcript.text
    assert_nothing_leaked(transcript, MARKER)
    strict.assert_victim_intact()


def test_a_removed_block_cannot_carry_a_destroy_time_command(strict: Install) -> None:
    # Given a project with a resource
    project = unique_project("removed")
    first = strict.attack(project, {"main.tf": 'resource "null_resource" "x" {}\n'})
    assert first.ended == "completed", first.text[-3000:]
    # When the next deploy removes it with a removed block that carries a provisioner
    removed = (
        "removed {\n  from = null_resource.x\n  lifecycle {\n    destroy = true\n  }\n"
        f'  provisioner "local-exec" {{\n    when    = destroy\n    command = "{COMMAND}"\n  }}\n}}\n'
    )
    for files in (
        {"main.tf": removed},
        {"main.tf": removed.replace('"local-exec"', '"local\\u002dexec"')},
    ):
        transcript = strict.attack(project, files)
        # Then nothing ran
        assert transcript.ended in ("refused", "failed"), transcript.text[-3000:]
        assert_nothing_leaked(transcript, MARKER)
