"""Who may write the toolchain prefix, and what the bootstrap accepts as input.

The job's credentials are evaluated by the moto emulator's IAM policy evaluator: the runner's
own session policy and terraform's backend policy each grant what a job needs, and nothing under
the toolchain prefix (the deploy role's boundary denies the service's buckets whole; the stack's
tests check that).
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from cdk.constants import REPO_ROOT, TOOLCHAIN_PREFIX
from core.records import JobStage, log_key, state_key
from runner.bootstrap import (
    EXIT_BAD_SETTINGS,
    BootstrapError,
    BootstrapSettings,
    Upstream,
    _extract,
)
from runner.credentials import backend_policy, session_policy
from runner.settings import RunnerSettings

LOGS = "provisioner-logs"
STATE = "provisioner-state"
TOOLCHAIN_OBJECTS = (
    f"arn:aws:s3:::{LOGS}/{TOOLCHAIN_PREFIX}terraform/1.5.7/terraform_1.5.7_linux_amd64.zip",
    f"arn:aws:s3:::{LOGS}/{TOOLCHAIN_PREFIX}providers/registry.terraform.io/hashicorp/aws/6.0.0/"
    "terraform-provider-aws_6.0.0_linux_amd64.zip",
)


def _runner(**extra: str) -> RunnerSettings:
    return RunnerSettings.from_environment(
        {
            "JOB_ID": "deploy-1700000000000-abc123",
            "PROJECT_ID": "demo",
            "JOB_ACTION": "deploy",
            "JOBS_TABLE": "jobs",
            "PROJECTS_TABLE": "projects",
            "LOCK_TABLE": "locks",
            "WORKSPACES_BUCKET": "provisioner-workspaces",
            "STATE_BUCKET": STATE,
            "LOGS_BUCKET": LOGS,
            "PROVISIONER_TARGET": "aws",
            "RUNNER_JOB_ROLE_ARN": "arn:aws:iam::123456789012:role/job",
            "DEPLOY_ROLE_ARN": "arn:aws:iam::123456789012:role/deploy",
            **extra,
        }
    )


def _evaluate(policy: dict[str, Any], action: str, resource: str) -> PermissionResult:
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)


@pytest.mark.parametrize("stage", [stage.value for stage in JobStage])
def test_the_jobs_credentials_cannot_write_or_delete_the_toolchain_prefix(stage: str) -> None:
    settings = _runner(JOB_STAGE=stage)
    for name, policy in (("runner", session_policy(settings)), ("backend", backend_policy(settings))):
        for resource in TOOLCHAIN_OBJECTS:
            for action in ("s3:PutObject", "s3:DeleteObject"):
                assert _evaluate(policy, action, resource) is PermissionResult.NEUTRAL, (name, action)
    # The evaluator does grant what the policies name: the check above is not vacuous
    log = f"arn:aws:s3:::{LOGS}/{log_key('demo', settings.job_id)}"
    state = f"arn:aws:s3:::{STATE}/{state_key('demo')}"
    assert _evaluate(session_policy(settings), "s3:PutObject", log) is PermissionResult.PERMITTED
    assert _evaluate(backend_policy(settings), "s3:PutObject", state) is PermissionResult.PERMITTED


BASE = {
    "TERRAFORM_VERSION": "1.5.7",
    "TERRAFORM_SHA256": "c0ed7bc32ee52ae255af9982c8c88a7a4c610485cf1d55feeb037eab75fa082c",
    "TERRAFORM_BIN": "/opt/terraform/terraform",
    "PROVISIONER_TOOLCHAIN_DIR": "/opt/provisioner-toolchain",
    "TOOLCHAIN_BUCKET": LOGS,
    "TOOLCHAIN_PREFIX": TOOLCHAIN_PREFIX,
}


def test_warmed_providers_are_full_addresses_on_the_allow_list() -> None:
    settings = BootstrapSettings.from_environment(
        {**BASE, "WARM_PROVIDERS": "hashicorp/aws=6.0.0, registry.terraform.io/hashicorp/null=3.2.4,"}
    )
    assert settings.warm() == [
        ("registry.terraform.io/hashicorp/aws", "6.0.0"),
        ("registry.terraform.io/hashicorp/null", "3.2.4"),
    ]
    assert BootstrapSettings.from_environment({**BASE, "WARM_PROVIDERS": ""}).warm() == []


@pytest.mark.parametrize(
    ("warm", "message"),
    [
        ("hashicorp/external=2.3.0", "hashicorp/external, which ALLOWED_PROVIDERS does not allow"),
        ("hashicorp/aws", "needs a version: hashicorp/aws=1.2.3"),
    ],
)
def test_a_warmed_provider_off_the_allow_list_or_without_a_version_is_refused(
    warm: str, message: str
) -> None:
    settings = BootstrapSettings.from_environment({**BASE, "WARM_PROVIDERS": warm})
    with pytest.raises(BootstrapError, match=message):
        settings.warm()


def test_the_pinned_digest_and_the_prefix_are_checked_at_start() -> None:
    with pytest.raises(ValueError, match="TERRAFORM_SHA256"):
        BootstrapSettings.from_environment({**BASE, "TERRAFORM_SHA256": "not-a-digest"})
    with pytest.raises(ValueError, match="TOOLCHAIN_PREFIX"):
        BootstrapSettings.from_environment({**BASE, "TOOLCHAIN_PREFIX": "../elsewhere"})


@pytest.mark.parametrize("url", ["http://releases.hashicorp.com/x.zip", "file:///etc/passwd", "ftp://a/b"])
def test_downloads_go_over_https_or_to_loopback_only(url: str, tmp_path: Path) -> None:
    with pytest.raises(BootstrapError, match="refusing to download"):
        Upstream().download(url, tmp_path / "x")


@pytest.mark.parametrize("entry", ["../terraform", "bin/terraform", "sub/"])
def test_an_archive_entry_with_a_path_is_refused(entry: str, tmp_path: Path) -> None:
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(entry, b"x")
    with pytest.raises(BootstrapError, match="unexpected entry"):
        _extract(archive, tmp_path)
    assert not (tmp_path.parent / "terraform").exists()


def test_a_redirect_down_to_plain_http_is_refused(tmp_path: Path) -> None:
    # Given a (loopback) server that redirects a download elsewhere over plain HTTP
    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", "http://releases.example.invalid/terraform.zip")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # When the bootstrap downloads from it, then it refuses to follow
        with pytest.raises(BootstrapError, match="refusing to download over http"):
            Upstream().download(f"http://127.0.0.1:{server.server_port}/terraform.zip", tmp_path / "x")
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"TERRAFORM_SHA256": "abc"}, "invalid bootstrap environment: TERRAFORM_SHA256"),
        ({"WARM_PROVIDERS": "hashicorp/external=2.3.0"}, "which ALLOWED_PROVIDERS does not allow"),
    ],
)
def test_the_command_stops_on_a_bad_environment_before_touching_anything(
    change: dict[str, str], message: str, tmp_path: Path
) -> None:
    environment = {**BASE, "PROVISIONER_TOOLCHAIN_DIR": str(tmp_path / "toolchain"), **change}
    result = subprocess.run(
        [sys.executable, "-m", "runner.bootstrap"],
        env={"PATH": os.environ["PATH"], **environment},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == EXIT_BAD_SETTINGS
    assert message in result.stderr
    assert not (tmp_path / "toolchain").exists()
