"""The seed's "Complete Deployment Workflow" against make local's server, over HTTP only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.toolchain import Toolchain
from tests.support.local_server import LocalServer

pytestmark = pytest.mark.terraform

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "webapp" / "main.tf"
DB_PASSWORD = "E2e-Db-Passw0rd-7"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("local") / "data"


@pytest.fixture(scope="module")
def server(data_dir: Path, toolchain: Toolchain) -> Iterator[LocalServer]:
    running = LocalServer(data_dir)
    running.start()
    yield running
    running.stop()


def test_the_complete_deployment_workflow_survives_a_restart(server: LocalServer, data_dir: Path) -> None:
    code = EXAMPLE.read_text()
    responses: list[str] = []

    def read(path: str) -> dict[str, object]:
        reply = server.get(path)
        assert reply.status == 200, (path, reply.body)
        responses.append(json.dumps(reply.body))
        return dict(reply.body)

    # 2. Deploy infrastructure
    accepted = server.post(
        "/api/deploy",
        {"projectId": "project-123", "iacCode": code, "variables": {"db_password": DB_PASSWORD}},
    )
    assert accepted.status == 202, accepted.body
    job_id = accepted.body["jobId"]

    # 3. Monitor deployment progress: it rises through the phases to completed
    status, seen = server.wait_job(job_id)
    assert status["status"] == "completed", status
    phases = [phase for phase, _ in seen]
    assert {"plan", "apply"} <= set(phases) and phases[-1] == "done"
    progress = [value for _, value in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    assert status["result"]["outputs"]["s3_bucket_name"] == "webapp-assets"

    # 4. Infrastructure details, outputs, state
    infrastructure = read("/api/deploy/infrastructure/project-123")
    assert infrastructure["deploymentStatus"] == "deployed"
    outputs = read("/api/deploy/outputs/project-123")["outputs"]
    assert isinstance(outputs, dict)
    assert outputs["api_gateway_url"].startswith("https://") and outputs["api_gateway_url"].endswith("/prod")
    assert outputs["database_endpoint"].endswith(":5432")
    assert outputs["database_password"] == "(sensitive)"
    state = read("/api/deploy/state/project-123")["state"]
    assert isinstance(state, dict) and len(state["resources"]) == 15
    assert read("/api/deploy/validate/project-123")["valid"] is True

    # 5. Estimate costs
    costs = read("/api/deploy/costs/project-123")["costs"]
    assert isinstance(costs, dict) and costs["total"] > 0 and costs["resourceCounts"]["aws_db_instance"] == 1

    # 6. Destroy
    destroy = server.post("/api/deploy/destroy", {"projectId": "project-123"})
    assert destroy.status == 202
    destroy_status, _ = server.wait_job(destroy.body["jobId"])
    assert destroy_status["status"] == "completed", destroy_status
    assert read("/api/deploy/infrastructure/project-123")["deploymentStatus"] == "destroyed"
    log_before = read(f"/api/deploy/logs/{job_id}")["content"]
    jobs_before = read("/api/deploy/jobs?projectId=project-123")["jobs"]
    assert DB_PASSWORD not in "\n".join(responses)

    # Then the server restarts, and everything reads back the same
    assert server.stop() == 0
    restarted = LocalServer(data_dir)
    restarted.start()
    try:
        assert restarted.get("/api/deploy/infrastructure/project-123").body["deploymentStatus"] == "destroyed"
        assert restarted.get("/api/deploy/jobs?projectId=project-123").body["jobs"] == jobs_before
        assert restarted.get(f"/api/deploy/logs/{job_id}").body["content"] == log_before
        assert (
            restarted.get(f"/api/deploy/status/{job_id}").body["result"]["outputs"]
            == status["result"]["outputs"]
        )
        state_after = restarted.get("/api/deploy/state/project-123").body["state"]
        assert state_after["lineage"] == state["lineage"] and state_after["resources"] == []
    finally:
        restarted.stop()
