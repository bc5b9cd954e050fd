"""The HTTP contract of the seed document and its extras, through the real handlers on the emulator."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.records import workspace_prefix
from core.requests import MAX_CODE_BYTES, MAX_REQUEST_BYTES
from functions.dal import aws
from functions.dal.jobs import DynamoJobStore, JobItem
from functions.dal.schedules import schedule_name
from functions.handlers.routing import ROUTES
from functions.utils import env as env_module
from tests.support.api import Api

BUCKET = 'resource "aws_s3_bucket" "b" {\n  bucket = "api-bucket"\n}\n'


def deploy(api: Api, project: str, code: str = BUCKET, **extra: object) -> dict[str, object]:
    response = api.post("/api/deploy", {"projectId": project, "iacCode": code, **extra})
    assert response.status == 202, response.body
    return dict(response.json())


def cancel(api: Api, job_id: str) -> None:
    response = api.post(f"/api/deploy/cancel/{job_id}")
    assert response.status == 202, response.body


def test_health_and_the_openapi_document_list_every_route(api: Api) -> None:
    assert api.get("/api/health").json() == {"status": "ok", "version": "1.0.0"}
    document = api.get("/api/openapi.json").json()
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    expected = {(r.method, r.path) for r in ROUTES if r.path != "/api/openapi.json"}
    assert documented == expected
    schemas = document["components"]["schemas"]
    for model in (
        "DeployRequest",
        "DestroyRequest",
        "DeployAccepted",
        "JobOut",
        "JobListOut",
        "LogOut",
        "InfrastructureOut",
        "OutputsOut",
        "StateOut",
        "ValidationOut",
        "CostsOut",
        "CancelOut",
        "ErrorOut",
    ):
        assert model in schemas, model
    post = document["paths"]["/api/deploy"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("DeployRequest")
    assert {"202", "400", "409", "413", "415", "503"} <= set(post["responses"])


def test_deploy_is_accepted_and_recorded(api: Api) -> None:
    # When the seed's body is posted
    body = deploy(api, "api-accepted")

    # Then the answer has the seed's shape and id format
    assert body["status"] == "accepted"
    assert body["message"] == "Infrastructure deployment started"
    job_id = str(body["jobId"])
    assert re.fullmatch(r"deploy-\d{13}-[a-z0-9]+", job_id)
    # and the code, the job, the project lock and the execution exist
    s3 = api.emulated.client("s3")
    key = workspace_prefix("api-accepted", job_id) + "main.tf"
    stored = s3.get_object(Bucket=api.emulated.resources.workspaces_bucket, Key=key)["Body"].read().decode()
    assert stored == BUCKET
    job = api.emulated.job(job_id)
    assert (job["status"], job["projectId"], job["action"]) == ("pending", "api-accepted", "deploy")
    project = api.emulated.project("api-accepted")
    assert project["activeJobId"] == job_id
    assert project["deploymentStatus"] == "pending"
    execution = api.emulated.client("stepfunctions").describe_execution(
        executionArn=api.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{job_id}"
    )
    assert json.loads(execution["input"]) == {
        "jobId": job_id,
        "projectId": "api-accepted",
        "action": "deploy",
        "runTimeoutSeconds": 3 * 3600,
        # it runs directly (no approval asked), holds the lock already, and applies its own plan
        "mode": "direct",
        "queued": False,
        "queuePollSeconds": 5,
        "approvalTimeoutSeconds": 7 * 24 * 3600,
        "planJobId": job_id,
    }
    # and its status reads back in the seed's job shape
    status = api.get(f"/api/deploy/status/{job_id}").json()
    assert {
        "jobId",
        "status",
        "progress",
        "result",
        "startTime",
        "endTime",
        "error",
        "phase",
        "projectId",
    } <= set(status)
    assert status["status"] == "pending" and status["progress"] == 0
    assert set(status["result"]) == {"message", "logs", "outputs"}
    infrastructure = api.get("/api/deploy/infrastructure/api-accepted").json()
    assert infrastructure["deploymentStatus"] == "pending"
    assert infrastructure["deploymentJobId"] == job_id
    cancel(api, job_id)


def test_files_and_variables_are_stored_apart(api: Api) -> None:
    files = {
        "main.tf": 'variable "db_password" {\n  sensitive = true\n}\n',
        "modules/app/main.tf": "locals {}\n",
    }
    deploy_files = api.post(
        "/api/deploy",
        {"projectId": "api-files", "files": files, "variables": {"db_password": "Sup3r-Secret-9"}},
    )
    assert deploy_files.status == 202, deploy_files.body
    job_id = deploy_files.json()["jobId"]
    s3 = api.emulated.client("s3")
    listed = s3.list_objects_v2(
        Bucket=api.emulated.resources.workspaces_bucket, Prefix=workspace_prefix("api-files", job_id)
    )
    assert sorted(o["Key"].rsplit(job_id + "/", 1)[1] for o in listed["Contents"]) == [
        "main.tf",
        "modules/app/main.tf",
    ]
    # the variables are a secret, not a workspace file
    reference = api.emulated.job(job_id)["variablesRef"]
    secret = api.emulated.client("secretsmanager").get_secret_value(SecretId=reference["secretId"])
    assert json.loads(secret["SecretString"]) == {"db_password": "Sup3r-Secret-9"}
    cancel(api, job_id)


def test_one_active_job_per_project_under_a_race(api: Api) -> None:
    # When 20 deploys of one project arrive at once, each asking to be refused if it is busy
    body = {"projectId": "api-race", "iacCode": BUCKET, "whenBusy": "reject"}
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: api.post("/api/deploy", body), range(20)))

    # Then exactly one is accepted and the others name it
    accepted = [r for r in responses if r.status == 202]
    rejected = [r for r in responses if r.status == 409]
    assert len(accepted) == 1 and len(rejected) == 19
    winner = accepted[0].json()["jobId"]
    assert {r.json()["activeJobId"] for r in rejected} == {winner}
    assert all(r.json()["error"] == "conflict" for r in rejected)
    cancel(api, winner)
    # and once it ended, the project takes a new job
    again = deploy(api, "api-race")
    cancel(api, str(again["jobId"]))


def test_idempotency_key_returns_the_same_response_and_starts_nothing_new(api: Api) -> None:
    request = {"projectId": "api-idem", "iacCode": BUCKET}
    first = api.post("/api/deploy", request, headers={"Idempotency-Key": "key-1"})
    second = api.post("/api/deploy", request, headers={"Idempotency-Key": "key-1"})
    assert first.status == second.status == 202
    assert first.json() == second.json()
    listed = api.get("/api/deploy/jobs", "projectId=api-idem").json()["jobs"]
    assert [job["jobId"] for job in listed] == [first.json()["jobId"]]
    # the same key with another body is refused; another key meets the lock
    other = api.post(
        "/api/deploy", {**request, "iacCode": BUCKET + "\n"}, headers={"Idempotency-Key": "key-1"}
    )
    assert other.status == 422 and other.json()["error"] == "idempotency_key_reused"
    refused = {**request, "whenBusy": "reject"}
    assert api.post("/api/deploy", refused, headers={"Idempotency-Key": "key-2"}).status == 409
    cancel(api, first.json()["jobId"])


def test_deploys_racing_for_a_busy_project_all_queue_each_in_a_place_of_its_own(api: Api) -> None:
    # When 20 deploys of one project arrive at once (the default: wait in the project's queue)
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(
            pool.map(
                lambda _: api.post("/api/deploy", {"projectId": "api-queue", "iacCode": BUCKET}), range(20)
            )
        )

    # Then all are accepted: one holds the project, the others queue behind it in places 1..19
    assert [r.status for r in responses] == [202] * 20
    bodies = [r.json() for r in responses]
    holders = [b["jobId"] for b in bodies if "queuePosition" not in b]
    assert len(holders) == 1
    places = sorted(b["queuePosition"] for b in bodies if "queuePosition" in b)
    assert places == list(range(1, 20))
    project = api.emulated.project("api-queue")
    assert project["activeJobId"] == holders[0]
    assert sorted(project["queue"]) == sorted(b["jobId"] for b in bodies if "queuePosition" in b)
    # Cancelled, the queued jobs leave the queue and never hold the project
    for body in bodies:
        if "queuePosition" in body:
            assert api.post(f"/api/deploy/cancel/{body['jobId']}").json()["status"] == "failed"
    assert "queue" not in api.emulated.project("api-queue")
    assert api.emulated.project("api-queue")["activeJobId"] == holders[0]
    cancel(api, holders[0])


def test_job_history_is_paginated_newest_first(api: Api) -> None:
    created = []
    for _ in range(5):
        job_id = str(deploy(api, "api-pages")["jobId"])
        cancel(api, job_id)
        created.append(job_id)
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        query = "projectId=api-pages&limit=2" + (f"&next={token}" if token else "")
        page = api.get("/api/deploy/jobs", query).json()
        seen += [job["jobId"] for job in page["jobs"]]
        pages += 1
        if not page["next"]:
            break
        token = page["next"]
    assert seen == list(reversed(created))
    assert pages == 3
    # every project's jobs without the filter, and bad tokens and limits are refused
    everything = api.get("/api/deploy/jobs", "limit=100").json()["jobs"]
    assert set(created) <= {job["jobId"] for job in everything}
    bad = api.get("/api/deploy/jobs", "next=not-a-token")
    assert bad.status == 400 and bad.json()["field"] == "next"
    assert api.get("/api/deploy/jobs", "limit=0").status == 400
    assert api.get("/api/deploy/jobs", "projectId=../x").status == 400


def test_cancel_of_a_pending_job_frees_the_project(api: Api) -> None:
    job_id = str(deploy(api, "api-cancel")["jobId"])
    response = api.post(f"/api/deploy/cancel/{job_id}")
    assert response.status == 202
    assert response.json()["status"] == "failed"
    status = api.get(f"/api/deploy/status/{job_id}").json()
    assert status["status"] == "failed" and status["error"] == "cancelled"
    assert api.emulated.project("api-cancel").get("activeJobId") is None
    execution = api.emulated.client("stepfunctions").describe_execution(
        executionArn=api.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{job_id}"
    )
    assert execution["status"] == "ABORTED"
    # a finished job cannot be cancelled again; an unknown one is not found
    assert api.post(f"/api/deploy/cancel/{job_id}").status == 409
    assert api.post("/api/deploy/cancel/deploy-1700000000000-nosuchjob").status == 404


@pytest.fixture
def broken_workflow(api: Api) -> Iterator[None]:
    saved = os.environ["STATE_MACHINE_ARN"]
    os.environ["STATE_MACHINE_ARN"] = saved.rsplit(":", 1)[0] + ":no-such-machine"
    env_module.environment.cache_clear()
    yield
    os.environ["STATE_MACHINE_ARN"] = saved
    env_module.environment.cache_clear()


def test_a_workflow_that_cannot_start_gives_503_and_leaves_nothing_held(
    api: Api, broken_workflow: None
) -> None:
    response = api.post("/api/deploy", {"projectId": "api-no-workflow", "iacCode": BUCKET})
    assert response.status == 503
    assert response.json()["error"] == "service_unavailable"
    project = api.emulated.project("api-no-workflow")
    assert project.get("activeJobId") is None
    assert project.get("deploymentStatus") is None
    jobs = api.emulated.table(api.emulated.resources.jobs_table).scan()["Items"]
    mine = [j for j in jobs if j["projectId"] == "api-no-workflow"]
    assert [j["status"] for j in mine] == ["failed"]
    assert mine[0]["error"].startswith("the job could not start")


def test_validate_reports_each_problem_with_the_check_that_found_it(api: Api) -> None:
    code = 'resource "aws_s3_bucket" "b" {\n  bucket = var.name\n  tags   = local.tags\n}\n'
    job_id = str(deploy(api, "api-validate", code)["jobId"])
    result = api.get("/api/deploy/validate/api-validate").json()
    assert result["valid"] is False
    assert result["message"] == "Terraform configuration has 2 errors"
    assert [(e["check"], e["line"]) for e in result["errors"]] == [("references", 2), ("references", 3)]
    assert "var.name" in result["errors"][0]["message"]
    cancel(api, job_id)
    assert api.get("/api/deploy/validate/api-never-seen").status == 404


def test_costs_answer_in_the_seed_shape(api: Api) -> None:
    code = 'resource "aws_instance" "web" {\n  ami = "ami-1"\n  instance_type = "t3.micro"\n}\n' + BUCKET
    job_id = str(deploy(api, "api-costs", code)["jobId"])
    result = api.get("/api/deploy/costs/api-costs").json()
    assert result["projectId"] == "api-costs" and result["estimated"] is True
    costs = result["costs"]
    assert set(costs) >= {
        "compute",
        "storage",
        "networking",
        "database",
        "total",
        "resourceCounts",
        "currency",
        "period",
    }
    assert costs["resourceCounts"] == {"aws_instance": 1, "aws_s3_bucket": 1}
    assert (costs["currency"], costs["period"]) == ("USD", "monthly")
    assert costs["compute"] > 0 and costs["total"] >= costs["compute"]
    assert result["basis"] == "code"
    cancel(api, job_id)


BAD_REQUESTS = [
    ("malformed JSON", b'{"projectId": "x", ', "application/json", 400, "body"),
    ("truncated JSON", b'{"projectId": "x", "iacCode": "reso', "application/json", 400, "body"),
    (
        "wrong type",
        json.dumps({"projectId": 5, "iacCode": BUCKET}).encode(),
        "application/json",
        400,
        "projectId",
    ),
    ("missing code", json.dumps({"projectId": "x"}).encode(), "application/json", 400, "body"),
    ("missing project", json.dumps({"iacCode": BUCKET}).encode(), "application/json", 400, "projectId"),
    (
        "unknown field",
        json.dumps({"projectId": "x", "iacCode": BUCKET, "iacCdoe": 1}).encode(),
        "application/json",
        400,
        "iacCdoe",
    ),
    (
        "traversal id",
        json.dumps({"projectId": "../etc", "iacCode": BUCKET}).encode(),
        "application/json",
        400,
        "projectId",
    ),
    (
        "slash id",
        json.dumps({"projectId": "a/b", "iacCode": BUCKET}).encode(),
        "application/json",
        400,
        "projectId",
    ),
    (
        "nul id",
        json.dumps({"projectId": "a\u0000b", "iacCode": BUCKET}).encode(),
        "application/json",
        400,
        "projectId",
    ),
    (
        "look-alike id",
        json.dumps({"projectId": "pr\u043eject", "iacCode": BUCKET}).encode(),
        "application/json",
        400,
        "projectId",
    ),
    (
        "long id",
        json.dumps({"projectId": "a" * 65, "iacCode": BUCKET}).encode(),
        "application/json",
        400,
        "projectId",
    ),
    (
        "empty code",
        json.dumps({"projectId": "x", "iacCode": "  \n"}).encode(),
        "application/json",
        400,
        "iacCode",
    ),
    (
        "binary code",
        json.dumps({"projectId": "x", "iacCode": "\u0000\u0001PK"}).encode(),
        "application/json",
        400,
        "body",
    ),
    (
        "escaping file",
        json.dumps({"projectId": "x", "files": {"../../x.tf": BUCKET}}).encode(),
        "application/json",
        400,
        "files",
    ),
    (
        "absolute file",
        json.dumps({"projectId": "x", "files": {"/etc/x.tf": BUCKET}}).encode(),
        "application/json",
        400,
        "files",
    ),
    ("not UTF-8", b'{"projectId": "\xff\xfe", "iacCode": "x"}', "application/json", 400, "body"),
    ("text body", b"projectId=x", "text/plain", 415, None),
    ("form body", b"projectId=x", "application/x-www-form-urlencoded", 415, None),
]


@pytest.mark.parametrize(
    ("case", "raw", "content_type", "status", "field"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
)
def test_bad_requests_get_clear_errors(
    api: Api, case: str, raw: bytes, content_type: str, status: int, field: str | None
) -> None:
    response = api.call("POST", "/api/deploy", raw=raw, headers={"Content-Type": content_type})
    assert response.status == status, response.body
    body = response.json()
    assert set(body) >= {"error", "message"} and body["message"]
    if field is not None:
        assert body.get("field") == field, body


def test_oversized_bodies_and_code_get_413(api: Api) -> None:
    huge = api.call("POST", "/api/deploy", raw=b" " * (MAX_REQUEST_BYTES + 1))
    assert huge.status == 413 and huge.json()["error"] == "payload_too_large"
    files = {f"f{i}.tf": "#" * (MAX_CODE_BYTES // 4) for i in range(5)}
    too_much_code = api.post("/api/deploy", {"projectId": "x", "files": files})
    assert too_much_code.status == 413


def test_refused_constructs_are_refused_before_any_job(api: Api) -> None:
    response = api.post(
        "/api/deploy",
        {"projectId": "api-refused", "iacCode": 'data "external" "x" {\n  program = ["id"]\n}\n'},
    )
    assert response.status == 400
    body = response.json()
    assert body["error"] == "invalid_configuration"
    assert body["errors"][0]["code"] == "external_data_source" and body["errors"][0]["line"] == 1
    assert api.emulated.project("api-refused") == {}


def test_unknown_things_are_404_and_bad_ids_400(api: Api) -> None:
    assert api.get("/api/deploy/status/deploy-1700000000000-nosuchjob").json()["error"] == "job_not_found"
    assert api.get("/api/deploy/status/deploy-1700000000000-nosuchjob").status == 404
    bad = api.get("/api/deploy/status/not-a-job")
    assert bad.status == 400 and bad.json()["field"] == "jobId"
    assert api.get("/api/deploy/infrastructure/never-seen").json()["deploymentStatus"] == "not_deployed"
    for path in ("outputs", "state", "validate", "costs"):
        assert api.get(f"/api/deploy/{path}/never-seen").status == 404, path
    assert api.post("/api/deploy/destroy", {"projectId": "never-seen"}).status == 404
    assert api.get("/api/nothing/here").status == 404
    assert api.call("DELETE", "/api/deploy").status == 405


def test_concurrent_requests_never_see_each_others_body(api: Api) -> None:
    # Powertools keeps the current event process-wide: the gateway must not interleave invocations
    projects = [f"api-parallel-{index}" for index in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(
            pool.map(lambda p: api.post("/api/deploy", {"projectId": p, "iacCode": BUCKET}), projects)
        )
    assert [r.status for r in replies] == [202] * 20
    for project, reply in zip(projects, replies, strict=True):
        job_id = reply.json()["jobId"]
        assert api.emulated.job(job_id)["projectId"] == project
        cancel(api, job_id)


def test_a_deploy_keeps_its_projects_drift_schedule_without_reading_back_its_job(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    read = DynamoJobStore.get

    def counting(store: DynamoJobStore, job_id: str) -> JobItem | None:
        reads.append(job_id)
        return read(store, job_id)

    monkeypatch.setattr(DynamoJobStore, "get", counting)
    job_id = deploy(api, "api-drift-kept")["jobId"]
    # It knows its project and that it deploys: the record it just wrote is not read again.
    assert job_id not in reads
    found = aws.scheduler().get_schedule(
        GroupName=os.environ["DRIFT_SCHEDULE_GROUP"], Name=schedule_name("api-drift-kept")
    )
    assert found["ScheduleExpression"] == "rate(1 day)"
    cancel(api, str(job_id))
