"""The shared provider with real terraform, on both ends of the supported range: plan, show and
apply use the one process the runner started, and nothing else, and terraform goes back to its
own provider once that process is gone."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from core.toolchain import Toolchain
from runner.jail import Jail
from runner.shared_provider import ATTACH_VARIABLE, start
from tests.support.terraform_103 import terraform_binary

pytestmark = pytest.mark.terraform

# A plan of a new resource makes no AWS call with these settings: the test needs no emulator.
CONFIG = """
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "k"
  secret_key                  = "s"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  skip_region_validation      = true
  skip_get_ec2_platforms      = true
}

resource "aws_sqs_queue" "queue" {
  name = "shared-provider"
}
"""


@pytest.fixture(scope="module", params=["toolchain", "1.0.3"])
def terraform(request: pytest.FixtureRequest, toolchain: Toolchain) -> tuple[Path, dict[str, str]]:
    return terraform_binary(request.param, toolchain)[0], toolchain.env()


def run(
    terraform: tuple[Path, dict[str, str]], workdir: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(terraform[0]), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_commands_use_the_shared_process_and_fall_back_when_it_is_gone(
    terraform: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    env = terraform[1]
    (tmp_path / "main.tf").write_text(CONFIG)
    initialised = run(terraform, tmp_path, env, "init", "-input=false", "-no-color")
    assert initialised.returncode == 0, initialised.stderr

    shared = start(tmp_path, Jail(user=None, namespaces=False), env)
    assert shared is not None
    try:
        attach = shared.attach()
        assert attach is not None
        attached = {**env, ATTACH_VARIABLE: attach}
        # Without its installed binary terraform cannot start a provider of its own: whatever
        # succeeds now was served by the shared process.
        providers = tmp_path / ".terraform" / "providers"
        shutil.move(providers, tmp_path / "providers-away")
        planned = run(terraform, tmp_path, attached, "plan", "-input=false", "-no-color", "-out=tfplan")
        assert planned.returncode == 0, planned.stdout + planned.stderr
        shown = run(terraform, tmp_path, attached, "show", "-json", "-no-color", "tfplan")
        assert shown.returncode == 0, shown.stderr
        changes = json.loads(shown.stdout)["resource_changes"]
        assert [(c["address"], c["change"]["actions"]) for c in changes] == [
            ("aws_sqs_queue.queue", ["create"])
        ]
        assert shared.attach() == attach  # still serving after two commands
    finally:
        shared.stop()
    assert shared.attach() is None

    refused = run(terraform, tmp_path, env, "plan", "-input=false", "-no-color")
    assert refused.returncode != 0  # the proof above: its own provider is what is missing
    shutil.move(tmp_path / "providers-away", providers)
    own = run(terraform, tmp_path, env, "plan", "-input=false", "-no-color")
    assert own.returncode == 0, own.stdout + own.stderr
