"""A config with a sensitive output, a database password and a secret in tfvars: after a deploy
and a destroy, the values appear in no API response, no log and no object the service wrote
(the state file itself aside, which terraform needs them in)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from tests.support.local_server import LocalServer

pytestmark = pytest.mark.terraform

DB_PASSWORD = "Db-Secret-Passw0rd-123"
TFVARS_TOKEN = "tfvars-Token-Value-456"
SECRETS = (DB_PASSWORD, TFVARS_TOKEN)
MAIN = """
variable "db_password" {
  type      = string
  sensitive = true
}

variable "api_token" {
  type      = string
  sensitive = true
}

resource "aws_db_instance" "db" {
  identifier          = "secrets-db"
  engine              = "postgres"
  instance_class      = "db.t3.micro"
  allocated_storage   = 20
  username            = "app"
  password            = var.db_password
  skip_final_snapshot = true
}

resource "aws_ssm_parameter" "token" {
  name  = "/app/token"
  type  = "SecureString"
  value = var.api_token
}

output "db_address" {
  value = aws_db_instance.db.address
}

output "token" {
  value     = var.api_token
  sensitive = true
}

output "password" {
  value     = aws_db_instance.db.password
  sensitive = true
}
"""


def test_secrets_appear_nowhere(strict_server: LocalServer) -> None:
    responses: list[str] = []

    def call(method: str, path: str, body: object = None) -> dict[str, object]:
        reply = strict_server.request(method, path, body)
        responses.append(json.dumps(reply.body))
        return dict(reply.body)

    accepted = call(
        "POST",
        "/api/deploy",
        {
            "projectId": "secrets",
            "files": {"main.tf": MAIN, "terraform.tfvars": f'api_token = "{TFVARS_TOKEN}"\n'},
            "variables": {"db_password": DB_PASSWORD},
        },
    )
    job_id = str(accepted["jobId"])
    status, _ = strict_server.wait_job(job_id)
    assert status["status"] == "completed", status
    for path in (
        f"/api/deploy/status/{job_id}",
        f"/api/deploy/logs/{job_id}",
        "/api/deploy/infrastructure/secrets",
        "/api/deploy/outputs/secrets",
        "/api/deploy/state/secrets",
        "/api/deploy/validate/secrets",
        "/api/deploy/costs/secrets",
        "/api/deploy/jobs?projectId=secrets",
    ):
        call("GET", path)
    destroy = call("POST", "/api/deploy/destroy", {"projectId": "secrets"})
    final, _ = strict_server.wait_job(str(destroy["jobId"]))
    assert final["status"] == "completed", final
    call("GET", f"/api/deploy/logs/{destroy['jobId']}")
    call("GET", f"/api/deploy/status/{destroy['jobId']}")

    # every API response
    found = [s for s in SECRETS if s in "\n".join(responses)]
    assert not found, "in API responses"
    # every log: the server's own, and each build's output
    data = strict_server.data_dir
    logs = [strict_server.log(), *(p.read_text(errors="replace") for p in (data / "builds").glob("*.log"))]
    assert not [s for s in SECRETS if s in "\n".join(logs)], "in logs"
    # every object the service wrote, read back from the emulator, but the state file
    emulator = strict_server.emulator_url()
    s3 = boto3.client(
        "s3",
        endpoint_url=emulator,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    checked = 0
    for bucket in ("provisioner-workspaces", "provisioner-logs", "provisioner-state"):
        for version in s3.list_object_versions(Bucket=bucket).get("Versions", []):
            key = version["Key"]
            if bucket == "provisioner-state" and key == "projects/secrets/terraform.tfstate":
                continue
            body = (
                s3.get_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])["Body"]
                .read()
                .decode(errors="replace")
            )
            checked += 1
            assert not [s for s in SECRETS if s in body], f"in s3://{bucket}/{key}"
    assert checked >= 6  # code, logs and plans of two jobs
    # and every record in the service's tables
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=emulator,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    for table in ("provisioner-jobs", "provisioner-projects", "provisioner-idempotency"):
        items = json.dumps(dynamodb.scan(TableName=table)["Items"])
        assert not [s for s in SECRETS if s in items], f"in {table}"
    # the data directory keeps the variables as Secrets Manager would, and nothing else holds them
    for file in Path(data).rglob("*"):
        if file.is_file() and file.name not in ("secrets.json", "terraform.tfstate", ".lock"):
            text = file.read_text(errors="replace")
            assert not [s for s in SECRETS if s in text], f"in {file}"
