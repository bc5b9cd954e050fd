"""Terraform and the warmed providers for this build, from the install's own S3, verified.

Run by the buildspec's install phase (``python -m runner.bootstrap``) as root, with the CodeBuild
role's credentials, before any submitted code is on the machine. That is the only context that
writes the toolchain prefix: the runner assumes a job-narrowed role that cannot, and terraform's
user gets credentials that cannot either (tests/runner/test_bootstrap_access.py checks both).

Every object read from S3 is checked before use against a digest that does not come from S3:

- terraform: the SHA256 the install pins (``TERRAFORM_SHA256``);
- a provider: the ``shasum`` the registry publishes for that release and platform (its ``zh:``
  hash), cross-checked against the release's ``SHA256SUMS`` file.

A miss or a mismatch downloads from the internet, checks the same digest, and only then fills
S3. A download that fails the check is never stored: terraform's stops the build; a provider's
only leaves that provider to terraform's own registry install.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.toolchain import REGISTRY_HOST, WARM_MIRROR_DIR, platform_key
from runner.settings import DEFAULT_ALLOWED_PROVIDERS, describe_settings_error, provider_addresses

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

LOGGER = logging.getLogger("runner.bootstrap")
RELEASES_URL: Final = "https://releases.hashicorp.com"
REGISTRY_URL: Final = f"https://{REGISTRY_HOST}"
DOWNLOAD_TIMEOUT_SECONDS: Final = 120
CHUNK: Final = 1 << 20
LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
EXIT_FAILED = 1
EXIT_BAD_SETTINGS = 2

Log = Callable[[str], None]


class BootstrapError(RuntimeError):
    """A toolchain part could not be had with a digest that matches."""


class BootstrapSettings(BaseModel):
    """The buildspec's environment; the CDK stack (cdk/runner_construct.py) sets every name."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    terraform_version: Annotated[str, Field(alias="TERRAFORM_VERSION", pattern=r"^\d+\.\d+\.\d+$")]
    terraform_sha256: Annotated[str, Field(alias="TERRAFORM_SHA256", pattern=r"^[0-9a-f]{64}$")]
    terraform_bin: Annotated[Path, Field(alias="TERRAFORM_BIN")]
    toolchain_dir: Annotated[Path, Field(alias="PROVISIONER_TOOLCHAIN_DIR")]
    bucket: Annotated[str, Field(alias="TOOLCHAIN_BUCKET", min_length=3)]
    prefix: Annotated[str, Field(alias="TOOLCHAIN_PREFIX", pattern=r"^([A-Za-z0-9._-]+/)+$")]
    allowed_providers: Annotated[str, Field(alias="ALLOWED_PROVIDERS")] = DEFAULT_ALLOWED_PROVIDERS
    # "hashicorp/aws=6.0.0,hashicorp/null=3.2.4": the releases put in the build's provider mirror.
    warm_providers: Annotated[str, Field(alias="WARM_PROVIDERS")] = ""
    region: Annotated[str, Field(alias="AWS_REGION", min_length=1)] = "us-east-1"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> BootstrapSettings:
        source = dict(os.environ if environ is None else environ)
        return cls.model_validate({k: v for k, v in source.items() if v != ""})

    def warm(self) -> list[tuple[str, str]]:
        """(address, version) of each warmed provider; one not on the allow-list is an error."""
        allowed = set(provider_addresses(self.allowed_providers))
        wanted = []
        for entry in (part.strip() for part in self.warm_providers.split(",")):
            if not entry:
                continue
            name, _, version = entry.partition("=")
            [address] = provider_addresses(name) or [name]
            if address not in allowed:
                raise BootstrapError(f"WARM_PROVIDERS names {name}, which ALLOWED_PROVIDERS does not allow")
            if not version.strip():
                raise BootstrapError(f"WARM_PROVIDERS entry {entry!r} needs a version: {name}=1.2.3")
            wanted.append((address, version.strip()))
        return wanted


@dataclass(frozen=True)
class Upstream:
    """Where a miss downloads from: HashiCorp's releases and the public registry. Only HTTPS is
    followed, or plain HTTP to loopback (the tests' stand-in for the internet)."""

    releases_url: str = RELEASES_URL
    registry_url: str = REGISTRY_URL

    def download(self, url: str, target: Path) -> str:
        """Stream ``url`` into ``target``; the SHA256 of what was written."""
        digest = hashlib.sha256()
        with _open(url) as response, target.open("wb") as handle:
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                handle.write(chunk)
        return digest.hexdigest()

    def json(self, url: str) -> dict[str, Any]:
        with _open(url) as response:
            data = json.loads(response.read())
        if not isinstance(data, dict):
            raise BootstrapError(f"{url} did not answer a JSON object")
        return data

    def text(self, url: str) -> str:
        with _open(url) as response:
            return str(response.read().decode())


def _check_scheme(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)):
        raise BootstrapError(f"refusing to download over {parts.scheme or 'no scheme'}: {url}")


class _HttpsRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is followed only where a first request could go: never down to plain HTTP."""

    def redirect_request(  # noqa: PLR0917 - urllib's signature
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        _check_scheme(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER: Final = urllib.request.build_opener(_HttpsRedirects)


def _open(url: str) -> Any:
    _check_scheme(url)
    try:
        return _OPENER.open(url, timeout=DOWNLOAD_TIMEOUT_SECONDS)
    except OSError as exc:
        raise BootstrapError(f"download of {url} failed: {exc}") from exc


@dataclass(frozen=True)
class ToolchainStore:
    """The toolchain prefix of the install's bucket: a byte cache, never a source of trust."""

    s3: S3Client
    bucket: str
    prefix: str

    def terraform_key(self, version: str, platform: str) -> str:
        return f"{self.prefix}terraform/{version}/terraform_{version}_{platform}.zip"

    def provider_key(self, address: str, version: str, platform: str) -> str:
        name = address.rsplit("/", 1)[-1]
        filename = f"terraform-provider-{name}_{version}_{platform}.zip"
        return f"{self.prefix}providers/{address}/{version}/{filename}"

    def get(self, key: str, target: Path) -> str | None:
        """The object's SHA256 once written to ``target``; None when there is no such object."""
        try:
            # Parallel ranged GETs for large objects (the AWS provider's zip is 100-180 MB).
            self.s3.download_file(self.bucket, key, str(target))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise BootstrapError(f"reading s3://{self.bucket}/{key} failed: {exc}") from exc
        return file_sha256(target)

    def put(self, key: str, source: Path) -> None:
        # upload_file splits large objects into parallel parts.
        self.s3.upload_file(str(source), self.bucket, key)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_verified(
    store: ToolchainStore,
    key: str,
    *,
    expected: str,
    download: Callable[[Path], str],
    target: Path,
    log: Log,
) -> str:
    """``target`` holds bytes whose SHA256 is ``expected``: from S3, else downloaded and stored.

    Returns where they came from: "s3", or "internet" (and S3 now holds them).
    """
    try:
        found = store.get(key, target)
    except BootstrapError as exc:  # the copy is a cache: an unreadable one is a miss
        log(f"{exc}; downloading instead")
        found = None
    if found == expected:
        log(f"s3://{store.bucket}/{key}: hit, sha256 {expected}")
        return "s3"
    if found is None:
        log(f"s3://{store.bucket}/{key}: miss; downloading")
    else:
        log(f"s3://{store.bucket}/{key}: REFUSED, sha256 {found} is not {expected}; downloading again")
    got = download(target)
    if got != expected:
        target.unlink(missing_ok=True)
        raise BootstrapError(f"downloaded {key.rsplit('/', 1)[-1]} has sha256 {got}, expected {expected}")
    try:
        store.put(key, target)
    except (ClientError, S3UploadFailedError) as exc:
        log(f"s3://{store.bucket}/{key}: not stored ({exc}); the next build downloads it again")
    else:
        log(f"s3://{store.bucket}/{key}: filled, sha256 {expected}")
    return "internet"


def install_terraform(
    settings: BootstrapSettings, store: ToolchainStore, upstream: Upstream, log: Log
) -> str:
    """Unpack the pinned terraform release to ``TERRAFORM_BIN``; where it came from."""
    version, platform = settings.terraform_version, platform_key()
    name = f"terraform_{version}_{platform}.zip"
    url = f"{upstream.releases_url}/terraform/{version}/{name}"
    with _scratch(settings.toolchain_dir) as scratch:
        archive = scratch / name
        origin = fetch_verified(
            store,
            store.terraform_key(version, platform),
            expected=settings.terraform_sha256,
            download=lambda target: upstream.download(url, target),
            target=archive,
            log=log,
        )
        settings.terraform_bin.parent.mkdir(parents=True, exist_ok=True)
        _extract(archive, settings.terraform_bin.parent, only={"terraform"})
    return origin


def published_sha256(upstream: Upstream, address: str, version: str, platform: str) -> tuple[str, str]:
    """(download URL, SHA256) of a release as the registry publishes it, cross-checked against
    the release's SHA256SUMS (terraform's ``zh:`` hash is the same digest)."""
    host, namespace, name = address.split("/")
    if host != REGISTRY_HOST:
        raise BootstrapError(f"{address}: only providers of {REGISTRY_HOST} are warmed")
    os_name, arch = platform.split("_", 1)
    meta = upstream.json(
        f"{upstream.registry_url}/v1/providers/{namespace}/{name}/{version}/download/{os_name}/{arch}"
    )
    filename = f"terraform-provider-{name}_{version}_{platform}.zip"
    shasum = str(meta.get("shasum", ""))
    if meta.get("filename") != filename or len(shasum) != 64:
        raise BootstrapError(f"{address} {version}: the registry's answer names no {filename} digest")
    sums = upstream.text(str(meta["shasums_url"]))
    if f"{shasum}  {filename}" not in sums.splitlines():
        raise BootstrapError(f"{address} {version}: {filename} is not in the release's SHA256SUMS")
    return str(meta["download_url"]), shasum


def warm_provider(
    settings: BootstrapSettings,
    store: ToolchainStore,
    upstream: Upstream,
    release: tuple[str, str],
    log: Log,
) -> str:
    """Put one verified provider release into the build's mirror; where it came from.

    The mirror holds the release's zip as published (terraform's packed layout), so terraform can
    check it against every hash a job's lock file records, ``zh:`` and ``h1:`` alike.
    """
    address, version = release
    platform = platform_key()
    url, shasum = published_sha256(upstream, address, version, platform)
    destination = settings.toolchain_dir / WARM_MIRROR_DIR / address
    with _scratch(settings.toolchain_dir) as scratch:
        archive = scratch / "provider.zip"
        origin = fetch_verified(
            store,
            store.provider_key(address, version, platform),
            expected=shasum,
            download=lambda target: upstream.download(url, target),
            target=archive,
            log=log,
        )
        with zipfile.ZipFile(archive) as bundle:
            _check_entries(archive.name, bundle)
        destination.mkdir(parents=True, exist_ok=True)
        archive.chmod(0o644)
        archive.replace(destination / store.provider_key(address, version, platform).rsplit("/", 1)[-1])
    return origin


def bootstrap(
    settings: BootstrapSettings, s3: S3Client, upstream: Upstream | None = None, log: Log = print
) -> dict[str, str]:
    """Terraform (a failure stops the build) and each warmed provider (a failure leaves it to
    the registry); what came from where."""
    upstream = upstream or Upstream()
    store = ToolchainStore(s3, settings.bucket, settings.prefix)
    warm = settings.warm()
    settings.toolchain_dir.mkdir(parents=True, exist_ok=True)
    settings.toolchain_dir.chmod(0o755)  # terraform's own user reaches its job's directory in it
    shutil.rmtree(settings.toolchain_dir / WARM_MIRROR_DIR, ignore_errors=True)
    origins = {"terraform": install_terraform(settings, store, upstream, log)}
    for release in warm:
        name = " ".join(release)
        try:
            origins[name] = warm_provider(settings, store, upstream, release, log)
        except (BootstrapError, OSError, zipfile.BadZipFile) as exc:
            log(f"{name}: not warmed, terraform will install it from the registry: {exc}")
            origins[name] = "not warmed"
    return origins


@contextmanager
def _scratch(root: Path) -> Iterator[Path]:
    """A root-only directory for downloads, removed afterwards."""
    with tempfile.TemporaryDirectory(dir=root, prefix=".bootstrap-") as name:
        yield Path(name)


def _check_entries(name: str, bundle: zipfile.ZipFile) -> None:
    """Releases hold plain files at their top level: no paths, directories or parent references."""
    for member in bundle.infolist():
        entry = member.filename
        if member.is_dir() or "/" in entry or "\\" in entry or entry in ("", ".", ".."):
            raise BootstrapError(f"{name}: unexpected entry {entry!r}")


def _extract(archive: Path, destination: Path, only: set[str] | None = None) -> None:
    """The named plain files of a checked archive, each replaced whole."""
    with zipfile.ZipFile(archive) as bundle:
        _check_entries(archive.name, bundle)
        for member in bundle.infolist():
            name = member.filename
            if only is not None and name not in only:
                continue
            target = destination / name
            partial = destination / f".{name}.partial"
            with bundle.open(member) as source, partial.open("wb") as handle:
                shutil.copyfileobj(source, handle, CHUNK)
            partial.chmod(0o755)
            partial.replace(target)
    if only is not None and not all((destination / name).is_file() for name in only):
        raise BootstrapError(f"{archive.name} holds no {', '.join(sorted(only))}")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = BootstrapSettings.from_environment()
        settings.warm()
    except ValidationError as exc:
        print(describe_settings_error(exc).replace("runner", "bootstrap", 1), file=sys.stderr)
        return EXIT_BAD_SETTINGS
    except BootstrapError as exc:
        print(f"invalid bootstrap environment: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    s3 = boto3.session.Session(region_name=settings.region).client("s3")
    try:
        origins = bootstrap(settings, s3, log=lambda line: LOGGER.info("%s", line))
    except BootstrapError as exc:
        print(f"toolchain bootstrap failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    LOGGER.info("toolchain: %s", json.dumps(origins))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
