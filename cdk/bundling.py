"""Assets built on this machine, without Docker: source packages copied, dependencies from pip.

Dependency versions and hashes come from ``uv.lock``, so Lambda and the runner get exactly what
the tests ran with, and pip refuses any file whose hash the lock does not list. The installed
dependency tree is cached under ``.cache/`` by a hash of its requirements: repeated synths (the
infrastructure tests synthesize often) copy it instead of reinstalling.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from cdk.constants import BUNDLE_CACHE_DIR, BUNDLE_EXCLUDES, PYPROJECT, REPO_ROOT, UV_LOCK

# Bumped when the way a dependency tree is installed changes, so old cache entries are not reused.
BUNDLER_VERSION = "2"
# Required by the API but never pulled: local bundling always succeeds or raises.
UNUSED_DOCKER_IMAGE = "public.ecr.aws/sam/build-python3.12"


class BundlingError(RuntimeError):
    """An asset could not be built on this machine."""


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    hashes: tuple[str, ...]

    def requirement_line(self) -> str:
        hashes = "".join(f" \\\n    --hash={digest}" for digest in self.hashes)
        return f"{self.name}=={self.version}{hashes}"


@dataclass(frozen=True)
class TargetPython:
    """The interpreter the dependencies are installed for; markers in the lock are evaluated for it."""

    version: str
    machine: str  # aarch64 | x86_64

    def marker_environment(self) -> dict[str, str]:
        return {
            "python_version": self.version,
            "python_full_version": f"{self.version}.0",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "os_name": "posix",
            "platform_machine": self.machine,
        }


# The manylinux aliases of PEP 599 and PEP 571/513: the same glibc floors under older names.
_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}


def manylinux_platforms(machine: str, glibc: tuple[int, int]) -> tuple[str, ...]:
    """Every manylinux platform tag a system with ``glibc`` runs, newest first (PEP 600).

    pip's ``--platform`` takes each tag literally: given only ``manylinux2014_aarch64`` it refuses a
    ``manylinux_2_34`` wheel that runs fine on the target, so the bundler names them all.
    """
    major, newest = glibc
    if major != 2:
        raise BundlingError(f"glibc {major}.{newest} is not a manylinux glibc")
    # aarch64 wheels began with manylinux2014 (glibc 2.17); x86_64 ones with manylinux1 (2.5).
    oldest = 5 if machine in ("x86_64", "i686") else 17
    tags: list[str] = []
    for minor in range(newest, oldest - 1, -1):
        tags.append(f"manylinux_2_{minor}_{machine}")
        legacy = _LEGACY_MANYLINUX.get((2, minor))
        if legacy:
            tags.append(f"{legacy}_{machine}")
    return tuple(tags)


def group_requirements(group: str, pyproject: Path = PYPROJECT) -> list[str]:
    """A dependency group of pyproject.toml, its included groups resolved (PEP 735)."""
    groups: dict[str, list[Any]] = tomllib.loads(pyproject.read_text())["dependency-groups"]
    if group not in groups:
        raise BundlingError(f"pyproject.toml has no dependency group {group!r}")
    requirements: list[str] = []
    for entry in groups[group]:
        if isinstance(entry, dict):
            requirements += group_requirements(str(entry["include-group"]), pyproject)
        else:
            requirements.append(str(entry))
    return requirements


def locked_closure(
    roots: Sequence[str],
    target: TargetPython,
    *,
    provided: frozenset[str] = frozenset(),
    lock_file: Path = UV_LOCK,
) -> list[LockedPackage]:
    """Every package ``roots`` need (extras included), pinned as ``uv.lock`` has it.

    ``provided`` names packages the target runtime already has (boto3 on Lambda); they and what
    only they need are left out.
    """
    lock = tomllib.loads(lock_file.read_text())
    packages: dict[str, Any] = {str(canonicalize_name(p["name"])): p for p in lock["package"]}
    environment = target.marker_environment()
    seen: dict[str, LockedPackage] = {}
    pending: list[tuple[str, frozenset[str]]] = []
    for root in roots:
        requirement = Requirement(root)
        pending.append((str(canonicalize_name(requirement.name)), frozenset(requirement.extras)))
    while pending:
        name, extras = pending.pop()
        if name in provided:
            continue
        entry = packages.get(name)
        if entry is None:
            raise BundlingError(
                f"{name} is not in {lock_file.name}: add it to pyproject.toml and run uv lock"
            )
        if name not in seen:
            seen[name] = LockedPackage(entry["name"], entry["version"], _hashes(entry))
        dependencies = list(entry.get("dependencies", []))
        for extra in extras:
            dependencies += entry.get("optional-dependencies", {}).get(extra, [])
        for dependency in dependencies:
            marker = dependency.get("marker")
            if marker and not Marker(marker).evaluate(environment):
                continue
            child = str(canonicalize_name(dependency["name"]))
            child_extras = frozenset(dependency.get("extra", []))
            if child not in seen or child_extras:
                pending.append((child, child_extras))
    return sorted(seen.values(), key=lambda p: p.name)


def _hashes(entry: Mapping[str, Any]) -> tuple[str, ...]:
    files = [*entry.get("wheels", []), *([entry["sdist"]] if "sdist" in entry else [])]
    return tuple(sorted({str(f["hash"]) for f in files if "hash" in f}))


def requirements_text(packages: Sequence[LockedPackage]) -> str:
    header = "# Generated at synth from uv.lock: exact versions, every file's hash.\n"
    return header + "\n".join(p.requirement_line() for p in packages) + "\n"


def _is_included(relative: PurePosixPath) -> bool:
    text = relative.as_posix()
    for pattern in BUNDLE_EXCLUDES:
        if "/" in pattern:
            if text == pattern or text.startswith(pattern + "/"):
                return False
        elif any(PurePosixPath(part).match(pattern) for part in relative.parts):
            return False
    return True


def source_files(packages: Sequence[str], root: Path = REPO_ROOT) -> Iterator[PurePosixPath]:
    """The files of ``packages`` that ship, relative to the repo root, in a stable order."""
    for package in packages:
        base = root / package
        if not base.is_dir():
            raise BundlingError(f"package {package}/ not found under {root}")
        for path in sorted(base.rglob("*")):
            relative = PurePosixPath(path.relative_to(root).as_posix())
            if path.is_file() and _is_included(relative):
                yield relative


def content_hash(packages: Sequence[str], extra_files: Mapping[str, str], root: Path = REPO_ROOT) -> str:
    """A hash of everything that goes into an asset: CDK's own fingerprint would walk the whole repo."""
    digest = hashlib.sha256(BUNDLER_VERSION.encode())
    for relative in source_files(packages, root):
        digest.update(f"\0{relative}\0".encode())
        digest.update((root / relative).read_bytes())
    for name in sorted(extra_files):
        digest.update(f"\0{name}\0{extra_files[name]}".encode())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class LocalBundler:
    """Copies source packages into the asset and, if asked, a pip-installed dependency tree."""

    def __init__(
        self,
        packages: Sequence[str],
        *,
        extra_files: Mapping[str, str] | None = None,
        dependencies: Sequence[LockedPackage] = (),
        pip_platforms: Sequence[str] = (),
        python_version: str | None = None,
        root: Path = REPO_ROOT,
        cache_dir: Path = BUNDLE_CACHE_DIR,
    ) -> None:
        if dependencies and not (pip_platforms and python_version):
            raise BundlingError("installing dependencies needs the target platform and Python version")
        self.packages = tuple(packages)
        self.extra_files = dict(extra_files or {})
        self.dependencies = tuple(dependencies)
        self.pip_platforms = tuple(pip_platforms)
        self.python_version = python_version
        self.root = root
        self.cache_dir = cache_dir

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        output = Path(output_dir)
        if self.dependencies:
            shutil.copytree(self._dependency_tree(), output, dirs_exist_ok=True)
        for relative in source_files(self.packages, self.root):
            target = output / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.root / relative, target)
        for name, text in self.extra_files.items():
            (output / name).write_text(text)
        return True

    def asset_hash(self) -> str:
        extra = dict(self.extra_files)
        if self.dependencies:
            extra["\0dependencies"] = self._dependency_key()
        return content_hash(self.packages, extra, self.root)

    def bundling_options(self) -> dict[str, Any]:
        """Keyword arguments for an asset: our hash, and bundling that never needs a container."""
        return {
            "asset_hash_type": AssetHashType.CUSTOM,
            "asset_hash": self.asset_hash(),
            "bundling": BundlingOptions(image=DockerImage.from_registry(UNUSED_DOCKER_IMAGE), local=self),
        }

    def _dependency_key(self) -> str:
        text = "\n".join(
            [
                BUNDLER_VERSION,
                " ".join(self.pip_platforms),
                str(self.python_version),
                requirements_text(self.dependencies),
            ]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _dependency_tree(self) -> Path:
        cached = self.cache_dir / f"deps-{self._dependency_key()}"
        if (cached / ".complete").is_file():
            return cached
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        # Build beside the cache entry and rename: concurrent synths never see half a tree.
        building = Path(tempfile.mkdtemp(prefix="deps-", dir=self.cache_dir))
        try:
            self._pip_install(building)
            (building / ".complete").write_text("")
            try:
                building.rename(cached)
            except OSError:
                if not (cached / ".complete").is_file():
                    raise
        finally:
            shutil.rmtree(building, ignore_errors=True)
        return cached

    def _pip_install(self, target: Path) -> None:
        requirements = target.parent / f"{target.name}.txt"
        requirements.write_text(requirements_text(self.dependencies))
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--no-deps",  # the lock already lists the whole closure
            "--require-hashes",
            "--only-binary=:all:",
            *(option for platform in self.pip_platforms for option in ("--platform", platform)),
            "--implementation",
            "cp",
            "--python-version",
            str(self.python_version),
            "--target",
            str(target),
            "--requirement",
            str(requirements),
        ]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "PIP_NO_INPUT": "1"},
            )
        finally:
            requirements.unlink(missing_ok=True)
        if result.returncode != 0:
            raise BundlingError(
                f"pip could not install the {self.pip_platforms[0]} dependencies:\n{result.stderr.strip()}"
            )
        # pip --target leaves its own metadata bin/ for console scripts; Lambda never runs them.
        shutil.rmtree(target / "bin", ignore_errors=True)
