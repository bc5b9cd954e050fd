"""The shared provider's bookkeeping: which binary, what terraform is told, and every way it can
fail to start leading back to terraform starting its own provider."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runner.jail import Jail
from runner.shared_provider import ATTACH_VARIABLE, _attach_value, installed_binary, start
from runner.terraform import Terraform

ANNOUNCED = (
    '\tTF_REATTACH_PROVIDERS=\'{"registry.terraform.io/hashicorp/aws":{"Protocol":"grpc",'
    '"ProtocolVersion":5,"Pid":1,"Test":false,"Addr":{"Network":"unix","String":"/tmp/plugin1"}}}\'\n'
)
OPEN_JAIL = Jail(user=None, namespaces=False)


def _install(workdir: Path, host: str, version: str, script: str = "#!/bin/sh\nsleep 30\n") -> Path:
    directory = workdir / ".terraform" / "providers" / host / "hashicorp" / "aws" / version / "linux_amd64"
    directory.mkdir(parents=True)
    binary = directory / f"terraform-provider-aws_v{version}_x5"
    binary.write_text(script)
    binary.chmod(0o755)
    return binary


def _announcing(tmp_path: Path) -> str:
    """A stand-in provider: prints its address as the real one does, then serves (sleeps)."""
    (tmp_path / "announcement").write_text(f"provider started\n{ANNOUNCED}")
    return f"#!/bin/sh\ncat '{tmp_path / 'announcement'}'\nexec sleep 30\n"


def test_the_attach_value_is_keyed_by_the_installed_address_and_left_to_its_process() -> None:
    value = _attach_value(ANNOUNCED, "registry.opentofu.org/hashicorp/aws")
    assert value is not None
    document = json.loads(value)
    assert list(document) == ["registry.opentofu.org/hashicorp/aws"]
    config = document["registry.opentofu.org/hashicorp/aws"]
    # Test: terraform neither watches the pid (another namespace's) nor stops the process.
    assert config["Test"] is True
    assert config["Addr"] == {"Network": "unix", "String": "/tmp/plugin1"}


@pytest.mark.parametrize(
    "line",
    [
        "TF_REATTACH_PROVIDERS='not json'",
        "TF_REATTACH_PROVIDERS='[]'",
        'TF_REATTACH_PROVIDERS=\'{"a/b/c": {"Addr": {}}, "d/e/f": {"Addr": {}}}\'',
        'TF_REATTACH_PROVIDERS=\'{"a/b/c": {"Pid": 1}}\'',
        'TF_REATTACH_PROVIDERS=\'{"a/b/c": "x"}\'',
    ],
)
def test_an_announcement_it_cannot_read_is_not_used(line: str) -> None:
    assert _attach_value(line, "registry.terraform.io/hashicorp/aws") is None


def test_the_one_installed_release_is_found_through_the_plugin_cache_link(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    binary = _install(cache, "registry.terraform.io", "3.39.0")
    workdir = tmp_path / "work"
    (workdir / ".terraform").mkdir(parents=True)
    # init links the cache's package directory, as with a plugin cache.
    (workdir / ".terraform" / "providers").symlink_to(cache / ".terraform" / "providers")
    assert installed_binary(workdir) == (
        "registry.terraform.io/hashicorp/aws",
        workdir / binary.relative_to(cache),
    )


def test_no_release_or_two_releases_mean_no_shared_provider(tmp_path: Path) -> None:
    assert installed_binary(tmp_path) is None
    assert start(tmp_path, OPEN_JAIL, {"PATH": "/usr/bin:/bin"}) is None
    _install(tmp_path, "registry.terraform.io", "3.39.0")
    _install(tmp_path, "registry.terraform.io", "5.0.0")
    assert installed_binary(tmp_path) is None


def test_a_provider_that_announces_itself_is_attached_until_it_stops(tmp_path: Path) -> None:
    _install(
        tmp_path,
        "registry.terraform.io",
        "3.39.0",
        _announcing(tmp_path),
    )
    shared = start(tmp_path, OPEN_JAIL, {"PATH": "/usr/bin:/bin"})
    assert shared is not None
    try:
        attach = shared.attach()
        assert (
            attach is not None and json.loads(attach)["registry.terraform.io/hashicorp/aws"]["Test"] is True
        )
        assert shared.attach() == attach
    finally:
        shared.stop()
    assert shared.process.returncode is not None
    assert shared.attach() is None  # gone: terraform starts its own


def test_a_provider_that_exits_unannounced_is_not_waited_for(tmp_path: Path) -> None:
    _install(
        tmp_path, "registry.terraform.io", "3.39.0", "#!/bin/sh\necho 'This binary is a plugin.'\nexit 1\n"
    )
    shared = start(tmp_path, OPEN_JAIL, {"PATH": "/usr/bin:/bin"}, timeout=60)
    assert shared is not None
    began = time.monotonic()
    assert shared.attach() is None
    assert time.monotonic() - began < 30  # its exit ended the wait, not the 60 s timeout


def test_a_silent_provider_is_given_up_on_and_stopped(tmp_path: Path) -> None:
    _install(tmp_path, "registry.terraform.io", "3.39.0", "#!/bin/sh\nexec sleep 30\n")
    shared = start(tmp_path, OPEN_JAIL, {"PATH": "/usr/bin:/bin"}, timeout=0.2)
    assert shared is not None
    assert shared.attach() is None
    assert shared.process.returncode is not None


def test_terraform_is_told_only_while_the_provider_serves(tmp_path: Path) -> None:
    _install(
        tmp_path,
        "registry.terraform.io",
        "3.39.0",
        _announcing(tmp_path),
    )
    terraform = Terraform.__new__(Terraform)
    terraform.env = {"PATH": "/usr/bin:/bin"}
    terraform.shared_provider = None
    assert ATTACH_VARIABLE not in terraform._environment()
    terraform.shared_provider = start(tmp_path, OPEN_JAIL, terraform.env)
    assert terraform.shared_provider is not None
    assert ATTACH_VARIABLE in terraform._environment()
    terraform.shared_provider.stop()
    assert ATTACH_VARIABLE not in terraform._environment()
