"""Hostile input through the HTTP API: each case has its expected status and error; none is a 5xx,
none starts a job, none writes outside the workspace."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.requests import MAX_CODE_BYTES
from tests.support.local_server import LocalServer

SENTINEL = Path(f"/tmp/provisioner-hostile-{uuid.uuid4().hex}")
BUCKET = 'resource "aws_s3_bucket" "b" {\n  bucket = "hostile"\n}\n'
CONTROL = 'resource "null_resource" "n" {}\n'


def deploy_body(code: str | None = BUCKET, **extra: Any) -> bytes:
    body: dict[str, Any] = {"projectId": "hostile", **extra}
    if code is not None:
        body["iacCode"] = code
    return json.dumps(body).encode()


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


# (name, method, path, body, content type, expected status, expected error)
CASES: list[tuple[str, str, str, bytes | None, str, int, str]] = [
    ("malformed JSON", "POST", "/api/deploy", b'{"projectId": }', "application/json", 400, "bad_request"),
    ("truncated JSON", "POST", "/api/deploy", deploy_body()[:40], "application/json", 400, "bad_request"),
    ("empty body", "POST", "/api/deploy", None, "application/json", 400, "bad_request"),
    ("array body", "POST", "/api/deploy", b"[1, 2]", "application/json", 400, "bad_request"),
    ("string body", "POST", "/api/deploy", b'"deploy"', "application/json", 400, "bad_request"),
    (
        "numeric project id",
        "POST",
        "/api/deploy",
        b'{"projectId": 7, "iacCode": "x"}',
        "application/json",
        400,
        "bad_request",
    ),
    (
        "list as code",
        "POST",
        "/api/deploy",
        b'{"projectId": "p", "iacCode": ["a"]}',
        "application/json",
        400,
        "bad_request",
    ),
    (
        "string as files",
        "POST",
        "/api/deploy",
        b'{"projectId": "p", "files": "main.tf"}',
        "application/json",
        400,
        "bad_request",
    ),
    (
        "list as variables",
        "POST",
        "/api/deploy",
        deploy_body(variables=[1]),
        "application/json",
        400,
        "bad_request",
    ),
    ("missing project", "POST", "/api/deploy", b'{"iacCode": "x"}', "application/json", 400, "bad_request"),
    ("missing code", "POST", "/api/deploy", deploy_body(None), "application/json", 400, "bad_request"),
    (
        "unknown field",
        "POST",
        "/api/deploy",
        deploy_body(iacCdoe="x"),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "oversized body",
        "POST",
        "/api/deploy",
        b" " * (7 * 1024 * 1024),
        "application/json",
        413,
        "payload_too_large",
    ),
    (
        "oversized code",
        "POST",
        "/api/deploy",
        deploy_body("#" * (MAX_CODE_BYTES + 10)),
        "application/json",
        413,
        "payload_too_large",
    ),
    (
        "deeply nested variables",
        "POST",
        "/api/deploy",
        deploy_body(variables={"v": nested(40)}),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "deeply nested JSON",
        "POST",
        "/api/deploy",
        b"[" * 100_000 + b"]" * 100_000,
        "application/json",
        400,
        "bad_request",
    ),
    (
        "not UTF-8",
        "POST",
        "/api/deploy",
        b'{"projectId": "\xc3\x28", "iacCode": "x"}',
        "application/json",
        400,
        "bad_request",
    ),
    (
        "gzip body",
        "POST",
        "/api/deploy",
        gzip.compress(deploy_body()),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "traversal project id",
        "POST",
        "/api/deploy",
        deploy_body(projectId="../../etc"),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "slash project id",
        "POST",
        "/api/deploy",
        deploy_body(projectId="a/b"),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "NUL project id",
        "POST",
        "/api/deploy",
        deploy_body(projectId="a\u0000b"),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "look-alike project id",
        "POST",
        "/api/deploy",
        deploy_body(projectId="h\u043estile"),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "empty project id",
        "POST",
        "/api/deploy",
        deploy_body(projectId=""),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "long project id",
        "POST",
        "/api/deploy",
        deploy_body(projectId="p" * 65),
        "application/json",
        400,
        "bad_request",
    ),
    ("empty HCL", "POST", "/api/deploy", deploy_body(""), "application/json", 400, "bad_request"),
    (
        "binary HCL",
        "POST",
        "/api/deploy",
        deploy_body("PK\u0003\u0004\u0000\u0001"),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "zip bomb in files",
        "POST",
        "/api/deploy",
        deploy_body(files={"bomb.zip": "UEsDBBQAAAAIAA" * 1000}),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "file escaping the workspace",
        "POST",
        "/api/deploy",
        deploy_body(files={"../../etc/cron.d/x.tf": BUCKET}),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "absolute file path",
        "POST",
        "/api/deploy",
        deploy_body(files={"/etc/x.tf": BUCKET}),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "backslash file path",
        "POST",
        "/api/deploy",
        deploy_body(files={"..\\..\\x.tf": BUCKET}),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "reserved file name",
        "POST",
        "/api/deploy",
        deploy_body(files={"_provisioner_backend.tf.json": "{}"}),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "terraform data dir",
        "POST",
        "/api/deploy",
        deploy_body(files={".terraform/providers/x.tf": BUCKET}),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "too many files",
        "POST",
        "/api/deploy",
        deploy_body(files={f"f{i}.tf": "" for i in range(501)}),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "backend block",
        "POST",
        "/api/deploy",
        deploy_body('terraform {\n  backend "s3" {}\n}\n'),
        "application/json",
        400,
        "invalid_configuration",
    ),
    (
        "cloud block",
        "POST",
        "/api/deploy",
        deploy_body("terraform {\n  cloud {}\n}\n"),
        "application/json",
        400,
        "invalid_configuration",
    ),
    (
        "local-exec",
        "POST",
        "/api/deploy",
        deploy_body(
            'resource "null_resource" "n" {\n  provisioner "local-exec" {\n    command = "touch '
            + str(SENTINEL)
            + '"\n  }\n}\n'
        ),
        "application/json",
        400,
        "invalid_configuration",
    ),
    (
        "remote-exec",
        "POST",
        "/api/deploy",
        deploy_body(
            'resource "null_resource" "n" {\n  provisioner "remote-exec" {\n    inline = ["id"]\n  }\n}\n'
        ),
        "application/json",
        400,
        "invalid_configuration",
    ),
    (
        "external data source",
        "POST",
        "/api/deploy",
        deploy_body('data "external" "e" {\n  program = ["sh", "-c", "touch ' + str(SENTINEL) + '"]\n}\n'),
        "application/json",
        400,
        "invalid_configuration",
    ),
    (
        "file(/etc/passwd)",
        "POST",
        "/api/deploy",
        deploy_body('output "p" {\n  value = file("/etc/passwd")\n}\n'),
        "application/json",
        400,
        "invalid_configuration",
    ),
    (
        "templatefile outside",
        "POST",
        "/api/deploy",
        deploy_body('output "p" {\n  value = templatefile("${path.module}/../../../etc/hosts", {})\n}\n'),
        "application/json",
        400,
        "invalid_configuration",
    ),
    (
        "file from a variable",
        "POST",
        "/api/deploy",
        deploy_body('variable "f" {}\noutput "p" {\n  value = file(var.f)\n}\n'),
        "application/json",
        400,
        "invalid_configuration",
    ),
    (
        "module outside",
        "POST",
        "/api/deploy",
        deploy_body('module "m" {\n  source = "../../../../etc"\n}\n'),
        "application/json",
        400,
        "invalid_configuration",
    ),
    (
        "absolute module",
        "POST",
        "/api/deploy",
        deploy_body('module "m" {\n  source = "/opt/modules/m"\n}\n'),
        "application/json",
        400,
        "invalid_configuration",
    ),
    (
        "provider credentials",
        "POST",
        "/api/deploy",
        deploy_body('provider "aws" {\n  access_key = "AKIAEXAMPLE"\n  secret_key = "x"\n}\n'),
        "application/json",
        400,
        "invalid_configuration",
    ),
    (
        "provider endpoints",
        "POST",
        "/api/deploy",
        deploy_body('provider "aws" {\n  endpoints {\n    s3 = "http://evil.example"\n  }\n}\n'),
        "application/json",
        400,
        "invalid_configuration",
    ),
    (
        "provider assume_role",
        "POST",
        "/api/deploy",
        deploy_body(
            'provider "aws" {\n  assume_role {\n    role_arn = "arn:aws:iam::1:role/admin"\n  }\n}\n'
        ),
        "application/json",
        400,
        "invalid_configuration",
    ),
    (
        "local_file outside",
        "POST",
        "/api/deploy",
        deploy_body(
            'resource "local_file" "f" {\n  content = "x"\n  filename = "' + str(SENTINEL) + '"\n}\n'
        ),
        "application/json",
        400,
        "invalid_configuration",
    ),
    (
        "tfvars with expression",
        "POST",
        "/api/deploy",
        deploy_body(files={"main.tf": BUCKET, "terraform.tfvars": 'x = file("/etc/passwd")\n'}),
        "application/json",
        400,
        "bad_request",
    ),
    (
        "tfvars not auto-loaded",
        "POST",
        "/api/deploy",
        deploy_body(files={"main.tf": BUCKET, "prod.tfvars": 'x = "y"\n'}),
        "application/json",
        400,
        "bad_request",
    ),
    ("text/plain body", "POST", "/api/deploy", deploy_body(), "text/plain", 415, "unsupported_media_type"),
    (
        "destroy with bad id",
        "POST",
        "/api/deploy/destroy",
        b'{"projectId": "../x"}',
        "application/json",
        400,
        "bad_request",
    ),
    (
        "destroy never seen",
        "POST",
        "/api/deploy/destroy",
        b'{"projectId": "never-seen"}',
        "application/json",
        404,
        "project_not_found",
    ),
    (
        "status bad id",
        "GET",
        "/api/deploy/status/..%2F..%2Fetc%2Fpasswd",
        None,
        "application/json",
        400,
        "bad_request",
    ),
    (
        "status unknown",
        "GET",
        "/api/deploy/status/deploy-1700000000000-nosuchjob",
        None,
        "application/json",
        404,
        "job_not_found",
    ),
    (
        "state traversal",
        "GET",
        "/api/deploy/state/..%2F..%2Fetc",
        None,
        "application/json",
        400,
        "bad_request",
    ),
    (
        "logs negative offset",
        "GET",
        "/api/deploy/logs/deploy-1700000000000-nosuchjob?offset=-1",
        None,
        "application/json",
        400,
        "bad_request",
    ),
    ("jobs huge limit", "GET", "/api/deploy/jobs?limit=100000", None, "application/json", 400, "bad_request"),
    (
        "jobs forged token",
        "GET",
        "/api/deploy/jobs?next=eyJqb2JJZCI6IHsiUyI6ICJ4In19",
        None,
        "application/json",
        400,
        "bad_request",
    ),
    (
        "cancel unknown",
        "POST",
        "/api/deploy/cancel/deploy-1700000000000-nosuchjob",
        None,
        "application/json",
        404,
        "job_not_found",
    ),
    (
        "unlock never locked",
        "POST",
        "/api/admin/unlock/never-seen",
        b"{}",
        "application/json",
        404,
        "not_found",
    ),
    ("wrong method", "DELETE", "/api/deploy", None, "application/json", 405, "method_not_allowed"),
    ("unknown route", "GET", "/api/../../etc/passwd", None, "application/json", 404, "not_found"),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "content_type", "status", "error"), CASES, ids=[c[0] for c in CASES]
)
def test_hostile_request_gets_its_expected_error(
    strict_server: LocalServer,
    name: str,
    method: str,
    path: str,
    body: bytes | None,
    content_type: str,
    status: int,
    error: str,
) -> None:
    reply = strict_server.raw(method, path, body, {"Content-Type": content_type})
    assert reply.status == status, (name, reply.body)
    assert isinstance(reply.body, dict) and reply.body["error"] == error, (name, reply.body)
    assert reply.body["message"]


def job_ids(server: LocalServer) -> set[str]:
    return {str(job["jobId"]) for job in server.get("/api/deploy/jobs?limit=100").body["jobs"]}


def test_at_least_forty_cases_and_nothing_happened(
    strict_server: LocalServer, record_figure: Callable[[str], None]
) -> None:
    assert len(CASES) >= 40
    # Given a job the listing shows (so an empty difference below means none started, not that
    # the listing cannot show one)
    before = job_ids(strict_server)
    control = strict_server.post("/api/deploy", {"projectId": "hostile-control", "iacCode": CONTROL})
    assert control.status == 202, control.body
    final, _ = strict_server.wait_job(str(control.body["jobId"]))
    assert final["status"] == "completed", final
    shown = job_ids(strict_server)
    assert shown == before | {control.body["jobId"]}

    # When every case is sent, here, whatever ran before
    for name, method, path, body, content_type, status, _ in CASES:
        reply = strict_server.raw(method, path, body, {"Content-Type": content_type})
        assert reply.status == status, (name, reply.body)

    # Then none of them started a job or left a file behind
    assert job_ids(strict_server) == shown
    assert not SENTINEL.exists()
    record_figure(
        f"hostile input: {len(CASES)} cases, each its expected 4xx; no job started, nothing written outside"
    )
