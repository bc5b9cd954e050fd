"""A project deployed for real (API -> runner with terraform -> records), read back through the API.

The job is run by the runner directly, as the workflow's build would; the workflow itself is
exercised by the workflow tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from core.records import JobAction
from core.toolchain import Toolchain
from tests.support.api import Api
from tests.support.jobs import start_runner

pytestmark = pytest.mark.terraform

DB_PASSWORD = "Hunter2-Db-Pa55word"
TFVARS_SECRET = "tfvars-Secret-Value-42"
APP = """
variable "api_token" {
  type      = string
  sensitive = true
}

resource "aws_s3_bucket" "assets" {
  bucket = "{project}-assets"
}

resource "aws_db_instance" "db" {
  identifier          = "{project}-db"
  engine              = "postgres"
  instance_class      = "db.t3.micro"
  allocated_storage   = 20
  username            = "app"
  password            = "{password}"
  skip_final_snapshot = true
}

output "bucket" {
  value = aws_s3_bucket.assets.bucket
}

output "db_endpoint" {
  value = aws_db_instance.db.address
}

output "token" {
  value     = var.api_token
  sensitive = true
}
""".replace("{password}", DB_PASSWORD)
# Every read of a project: the secrets must be in none of their answers.
READS = (
    "/api/deploy/status/{job}",
    "/api/deploy/logs/{job}",
    "/api/deploy/infrastructure/{project}",
    "/api/deploy/outputs/{project}",
    "/api/deploy/state/{project}",
    "/api/deploy/validate/{project}",
    "/api/deploy/costs/{project}",
    "/api/deploy/jobs?projectId={project}",
)


def app(project: str) -> str:
    return APP.replace("{project}", project)


@dataclass
class Deployed:
    project: str
    job_id: str


def run(api: Api, project: str, job_id: str, action: JobAction) -> None:
    process = start_runner(api.emulated, project, job_id, action)
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output


def deploy(api: Api, project: str) -> Deployed:
    response = api.post(
        "/api/deploy",
        {"projectId": project, "iacCode": app(project), "variables": {"api_token": TFVARS_SECRET}},
    )
    assert response.status == 202, response.body
    job_id = response.json()["jobId"]
    run(api, project, job_id, JobAction.DEPLOY)
    return Deployed(project, job_id)


@pytest.fixture(scope="module")
def deployed(api: Api, toolchain: Toolchain) -> Deployed:
    return deploy(api, "api-deployed")


def read(api: Api, path: str, query: str = "") -> dict[str, Any]:
    response = api.get(path, query)
    assert response.status == 200, (path, response.body)
    return dict(response.json())


def test_the_job_completed_with_outputs_masked(api: Api, deployed: Deployed) -> None:
    status = read(api, f"/api/deploy/status/{deployed.job_id}")
    assert status["status"] == "completed" and status["progress"] == 100
    result = status["result"]
    assert isinstance(result, dict)
    assert result["message"] == "Infrastructure deployed successfully"
    assert result["outputs"]["bucket"] == "api-deployed-assets"
    assert result["outputs"]["token"] == "(sensitive)"
    assert "Apply complete!" in result["logs"]
    assert status["endTime"] and status["error"] is None


def test_infrastructure_outputs_and_state(api: Api, deployed: Deployed) -> None:
    infrastructure = read(api, "/api/deploy/infrastructure/api-deployed")
    assert infrastructure["deploymentStatus"] == "deployed"
    assert infrastructure["deploymentJobId"] == deployed.job_id
    assert infrastructure["activeJobId"] is None
    summary = infrastructure["terraformState"]
    assert isinstance(summary, dict) and summary["resourceCount"] == 2 and summary["serial"] >= 1
    outputs = read(api, "/api/deploy/outputs/api-deployed")
    assert outputs["outputs"] == {
        "bucket": "api-deployed-assets",
        "db_endpoint": infrastructure["deploymentOutputs"]["db_endpoint"],
        "token": "(sensitive)",
    }
    state = read(api, "/api/deploy/state/api-deployed")["state"]
    assert isinstance(state, dict)
    assert state["version"] == 4 and state["serial"] == summary["serial"]
    db = next(r for r in state["resources"] if r["type"] == "aws_db_instance")
    assert db["instances"][0]["attributes"]["password"] == "(sensitive)"
    assert db["instances"][0]["attributes"]["instance_class"] == "db.t3.micro"
    assert state["outputs"]["token"]["value"] == "(sensitive)"


def test_the_log_reads_in_pieces(api: Api, deployed: Deployed) -> None:
    first = read(api, f"/api/deploy/logs/{deployed.job_id}")
    assert first["complete"] is True and first["offset"] == 0
    content = str(first["content"])
    assert "--- apply ---" in content and "Apply complete!" in content
    middle = int(first["nextOffset"]) // 2
    rest = read(api, f"/api/deploy/logs/{deployed.job_id}", f"offset={middle}")
    assert content.encode()[middle:].decode(errors="ignore").strip() in str(rest["content"])
    end = read(api, f"/api/deploy/logs/{deployed.job_id}", f"offset={first['nextOffset']}")
    assert end["content"] == "" and end["complete"] is True


def test_validation_merges_terraforms_verdict(api: Api, deployed: Deployed) -> None:
    result = read(api, "/api/deploy/validate/api-deployed")
    assert result["valid"] is True
    assert result["message"] == "Terraform configuration is valid"
    terraform = result["terraformValidation"]
    assert (
        isinstance(terraform, dict) and terraform["current"] is True and terraform["jobId"] == deployed.job_id
    )


def test_costs_price_the_recorded_plan(api: Api, deployed: Deployed) -> None:
    result = read(api, "/api/deploy/costs/api-deployed")
    assert result["basis"] == "plan"
    costs = result["costs"]
    assert isinstance(costs, dict)
    assert costs["resourceCounts"] == {"aws_db_instance": 1, "aws_s3_bucket": 1}
    assert costs["database"] > 0
    addresses = {r["address"] for r in result["resources"]}
    assert "aws_db_instance.db" in addresses


def test_history_lists_the_job(api: Api, deployed: Deployed) -> None:
    listed = read(api, "/api/deploy/jobs", "projectId=api-deployed")
    assert [job["jobId"] for job in listed["jobs"]] == [deployed.job_id]


def test_destroy_then_no_secret_was_ever_returned(api: Api, toolchain: Toolchain) -> None:
    # Given a project of its own, deployed, every read of which is kept
    mine = deploy(api, "api-destroyed")
    project = mine.project
    answers: list[str] = []

    def read_all(job_id: str) -> None:
        for template in READS:
            path, _, query = template.format(job=job_id, project=project).partition("?")
            response = api.get(path, query)
            assert response.status == 200, (path, response.body)
            answers.append(response.body.decode())

    read_all(mine.job_id)
    before = read(api, f"/api/deploy/infrastructure/{project}")
    assert before["deploymentStatus"] == "deployed" and before["deploymentOutputs"]["token"] == "(sensitive)"

    # When it is destroyed
    response = api.post("/api/deploy/destroy", {"projectId": project})
    assert response.status == 202
    body = response.json()
    assert body["message"] == "Infrastructure destruction started" and body["jobId"].startswith("destroy-")
    run(api, project, body["jobId"], JobAction.DESTROY)

    # Then the project is destroyed, its outputs gone, the destroy job completed
    infrastructure = read(api, f"/api/deploy/infrastructure/{project}")
    assert infrastructure["deploymentStatus"] == "destroyed"
    assert infrastructure["deploymentOutputs"] == {}
    assert infrastructure["activeJobId"] is None
    assert read(api, f"/api/deploy/status/{body['jobId']}")["status"] == "completed"
    read_all(body["jobId"])
    # and no answer, before or after, held the database password or the tfvars secret
    everything = "\n".join(answers)
    assert len(answers) == 2 * len(READS)
    assert "(sensitive)" in everything  # the values were there to leak, masked
    assert DB_PASSWORD not in everything
    assert TFVARS_SECRET not in everything
    assert json.dumps(DB_PASSWORD) not in everything
