"""Set up a job the way the API does (record + code in S3), for tests that drive the runner directly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from core.records import JobAction, epoch_ms, iso_now, new_job_id, state_key, workspace_prefix
from localmode.emulator import ServiceResources, emulator_session

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Emulated:
    endpoint_url: str
    resources: ServiceResources
    # The sandbox emulator (its own process) that target "sandbox" deploys into.
    sandbox_url: str = ""

    def session(self) -> boto3.session.Session:
        return emulator_session(self.resources.region)

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def table(self, name: str) -> Any:
        return self.session().resource("dynamodb", endpoint_url=self.endpoint_url).Table(name)

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(
            self.table(self.resources.jobs_table).get_item(Key={"jobId": job_id}, ConsistentRead=True)["Item"]
        )

    def project(self, project_id: str) -> dict[str, Any]:
        item = self.table(self.resources.projects_table).get_item(Key={"projectId": project_id}).get("Item")
        return dict(item or {})

    def locks(self) -> list[dict[str, Any]]:
        return list(self.table(self.resources.lock_table).scan()["Items"])

    def state(self, project_id: str) -> dict[str, Any]:
        body = self.client("s3").get_object(Bucket=self.resources.state_bucket, Key=state_key(project_id))[
            "Body"
        ]
        return dict(json.loads(body.read()))


def submit_job(
    emulated: Emulated,
    project_id: str,
    files: Mapping[str, str],
    *,
    action: JobAction = JobAction.DEPLOY,
    variables: Mapping[str, Any] | None = None,
) -> str:
    job_id = new_job_id(action)
    s3 = emulated.client("s3")
    for path, text in files.items():
        s3.put_object(
            Bucket=emulated.resources.workspaces_bucket,
            Key=workspace_prefix(project_id, job_id) + path,
            Body=text.encode(),
        )
    item: dict[str, Any] = {
        "jobId": job_id,
        "projectId": project_id,
        "action": action.value,
        "status": "pending",
        "progress": 0,
        "phase": "queued",
        "kind": "job",
        "createdAt": epoch_ms(),
        "startTime": iso_now(),
    }
    if variables:
        secrets = emulated.client("secretsmanager")
        name = f"provisioner/{project_id}/{job_id}"
        created = secrets.create_secret(Name=name, SecretString=json.dumps(dict(variables)))
        item["variablesRef"] = {"secretId": created["ARN"], "versionId": created["VersionId"]}
    emulated.table(emulated.resources.jobs_table).put_item(Item=item)
    return job_id


def runner_environment(emulated: Emulated, project_id: str, job_id: str, action: JobAction) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    env.update(emulated.resources.environment())
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_ENDPOINT_URL": emulated.endpoint_url,
            "JOB_ID": job_id,
            "PROJECT_ID": project_id,
            "JOB_ACTION": action.value,
            "PROVISIONER_TARGET": "sandbox",
            "SANDBOX_ENDPOINT_URL": emulated.sandbox_url,
            "PROGRESS_INTERVAL_SECONDS": "0.5",
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    return env


def start_runner(
    emulated: Emulated, project_id: str, job_id: str, action: JobAction, **extra_env: str
) -> subprocess.Popen[str]:
    env = runner_environment(emulated, project_id, job_id, action)
    env.update(extra_env)
    return subprocess.Popen(
        [sys.executable, "-m", "runner"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_job(
    emulated: Emulated,
    project_id: str,
    files: Mapping[str, str],
    *,
    action: JobAction = JobAction.DEPLOY,
    variables: Mapping[str, Any] | None = None,
    timeout: float = 600,
) -> tuple[int, dict[str, Any], str]:
    """Submit and run one job to the end; returns (exit code, job record, runner output)."""
    job_id = submit_job(emulated, project_id, files, action=action, variables=variables)
    process = start_runner(emulated, project_id, job_id, action)
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, emulated.job(job_id), output
