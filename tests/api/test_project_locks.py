"""Project locks through the real handlers on the emulator: the admin unlock of a project lock,
a deploy that meets a stale holder, and the scheduled reaper."""

from __future__ import annotations

from typing import Any

from functions.handlers.reaper_handler import lambda_handler as reaper
from localmode.gateway import LocalContext, local_user
from tests.support.api import Api

CODE = 'resource "aws_s3_bucket" "b" {\n  bucket = "locks-bucket"\n}\n'
CALLER = f"arn:aws:iam::000000000000:user/{local_user()}"  # who the local gateway says is asking
LONG_AGO = "2023-11-14T22:13:20.000Z"  # the time in the job ids below (1700000000000)


def deploy(api: Api, project: str) -> str:
    response = api.post("/api/deploy", {"projectId": project, "iacCode": CODE})
    assert response.status == 202, response.body
    return str(response.json()["jobId"])


def execution_status(api: Api, job_id: str) -> str:
    arn = api.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{job_id}"
    return str(api.emulated.client("stepfunctions").describe_execution(executionArn=arn)["status"])


def put_project(api: Api, project: str, **fields: Any) -> None:
    table = api.emulated.table(api.emulated.resources.projects_table)
    table.put_item(Item={"projectId": project, **fields})


def test_an_operator_clears_a_running_jobs_project_lock_only_when_forced(api: Api) -> None:
    # Given a project whose job was just submitted (its execution is running)
    project = "api-unlock-project"
    job_id = deploy(api, project)
    assert execution_status(api, job_id) == "RUNNING"

    # When an operator asks for its project lock without force
    refused = api.post(f"/api/admin/unlock/{project}", {"lock": "project"})

    # Then it is refused, naming the job, and nothing changed
    assert refused.status == 409, refused.body
    assert refused.json()["activeJobId"] == job_id
    assert api.emulated.project(project)["activeJobId"] == job_id

    # When forced, with a reason
    forced = api.post(
        f"/api/admin/unlock/{project}", {"lock": "project", "force": True, "reason": "runner host lost"}
    )

    # Then the project is free and the answer says what was held
    assert forced.status == 200, forced.body
    body = forced.json()
    assert (body["lock"], body["cleared"], body["lockId"], body["clearedBy"]) == (
        "project",
        True,
        None,
        CALLER,
    )
    assert body["projectLock"] == {
        "jobId": job_id,
        "jobStatus": "pending",
        "stale": False,
        "cleared": True,
        "jobFailed": True,
    }
    record = api.emulated.project(project)
    assert "activeJobId" not in record and record["deploymentStatus"] == "failed"
    assert record["lastProjectUnlock"]["clearedBy"] == CALLER
    assert record["lastProjectUnlock"]["reason"] == "runner host lost"
    assert record["lastProjectUnlock"]["forced"] is True
    # and the job is failed, naming who cleared it, its execution stopped
    status = api.get(f"/api/deploy/status/{job_id}").json()
    assert status["status"] == "failed"
    assert status["error"] == f"the project lock was cleared by {CALLER}: runner host lost"
    assert execution_status(api, job_id) == "ABORTED"
    # and the next deploy is accepted
    again = deploy(api, project)
    assert api.post(f"/api/deploy/cancel/{again}").status == 202


def test_the_unlock_body_still_defaults_to_the_state_lock_and_checks_the_kind(api: Api) -> None:
    project = "api-unlock-default"
    job_id = deploy(api, project)
    # the project is locked, its state is not: the default asks for the state lock only
    default = api.post(f"/api/admin/unlock/{project}", {})
    assert default.status == 404 and "state is not locked" in default.json()["message"]
    bad = api.post(f"/api/admin/unlock/{project}", {"lock": "everything"})
    assert bad.status == 400 and bad.json()["field"] == "lock"
    assert api.emulated.project(project)["activeJobId"] == job_id
    assert api.post(f"/api/deploy/cancel/{job_id}").status == 202


def test_a_deploy_that_meets_a_stale_holder_is_accepted(api: Api) -> None:
    # Given a project held by a job that has no record, taken long ago (its submit crashed)
    project = "api-stale-holder"
    ghost = "deploy-1700000000000-ghostjob1"
    put_project(
        api,
        project,
        activeJobId=ghost,
        activeAction="deploy",
        deploymentStatus="pending",
        deploymentJobId=ghost,
        lastUpdated=LONG_AGO,
    )

    # When a deploy arrives
    job_id = deploy(api, project)

    # Then it holds the project, and the release of the ghost is on record
    record = api.emulated.project(project)
    assert record["activeJobId"] == job_id
    assert record["lastProjectUnlock"]["jobId"] == ghost
    assert record["lastProjectUnlock"]["clearedBy"] == "reaper"
    assert "has no record" in record["lastProjectUnlock"]["reason"]
    assert api.post(f"/api/deploy/cancel/{job_id}").status == 202


def test_the_reaper_frees_a_project_whose_job_has_long_ended(api: Api) -> None:
    # Given a project still held by a job that completed long ago (its release was lost)
    project = "api-reaper-ended"
    job_id = "deploy-1700000000000-endedjob1"
    api.emulated.table(api.emulated.resources.jobs_table).put_item(
        Item={
            "jobId": job_id,
            "projectId": project,
            "action": "deploy",
            "status": "completed",
            "progress": 100,
            "phase": "done",
            "kind": "job",
            "createdAt": 1700000000000,
            "startTime": LONG_AGO,
            "endTime": LONG_AGO,
        }
    )
    put_project(
        api,
        project,
        activeJobId=job_id,
        activeAction="deploy",
        deploymentStatus="deployed",
        deploymentJobId=job_id,
        lastUpdated=LONG_AGO,
    )

    # When the scheduled reaper runs
    report = reaper({}, LocalContext(function_name="reaper_handler"))

    # Then the project is free and keeps its deployment
    assert project in report["releasedProjects"], report
    record = api.emulated.project(project)
    assert "activeJobId" not in record and record["deploymentStatus"] == "deployed"
    assert record["lastProjectUnlock"]["jobId"] == job_id
    assert api.emulated.job(job_id)["status"] == "completed"
