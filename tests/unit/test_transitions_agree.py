"""The in-memory tables of tests/support/fakes.py execute core/transitions the way DynamoDB does:
the same sequence of changes, conditions included, leaves the same item in both (moto's DynamoDB
stands in for AWS)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from core.items import plain
from core.transitions import (
    Update,
    job_approved,
    job_awaiting_approval,
    job_discarded,
    project_enqueued,
    project_locked,
    project_queue_replaced,
    project_released,
)
from tests.support.fakes import apply_update

PROJECT = "agree-p"
JOB = "deploy-1796190000000-aaaaaaaaa"


def _changes() -> list[Update]:
    """A busy project's queue through arrivals, a refused overtaking, a turn and a departure."""
    fields = {
        "activeAction": "deploy",
        "deploymentStatus": "pending",
        "lastUpdated": "t1",
        "variablesRef": None,
    }
    return [
        project_locked(PROJECT, "job-a", "t0", fields),  # free: taken
        project_locked(PROJECT, "job-b", "t0", fields),  # held: refused
        project_enqueued(PROJECT, "job-b", "t1"),
        project_enqueued(PROJECT, "job-c", "t1"),
        project_enqueued(PROJECT, "job-d", "t1"),
        project_released(PROJECT, "job-a", "t2"),
        project_locked(PROJECT, "job-e", "t2", fields),  # free but jobs wait: refused
        project_locked(PROJECT, "job-c", "t3", fields, from_queue=True),  # not at the head: refused
        project_locked(PROJECT, "job-b", "t3", fields, from_queue=True),  # the head: taken, leaves the queue
        project_queue_replaced(PROJECT, ["job-x"], []),  # the queue was not that: refused
        project_queue_replaced(PROJECT, ["job-c", "job-d"], ["job-d"]),
    ]


def _job_changes() -> list[Update]:
    waiting = {"state": "waiting", "requestedAt": "t1", "expiresAt": "t9", "cost": 12.5}
    return [
        job_approved(JOB, "t0", {"state": "approved"}),  # not waiting yet: refused
        job_awaiting_approval(JOB, "t1", "token-1", waiting),
        job_approved(JOB, "t2", {**waiting, "state": "approved", "decidedBy": "ops"}),
        job_discarded(JOB, "t3", {"state": "discarded"}, "too late", while_waiting=True),  # refused
    ]


def _run(table: Any, key: dict[str, str], changes: list[Update]) -> tuple[list[bool], dict[str, Any]]:
    outcomes = []
    for change in changes:
        try:
            table.update_item(**change.arguments())
            outcomes.append(True)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException", exc
            outcomes.append(False)
    return outcomes, plain(table.get_item(Key=key)["Item"])


@mock_aws
def test_the_fake_and_dynamodb_agree_on_every_change() -> None:
    dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
    projects = dynamodb.create_table(
        TableName="projects",
        KeySchema=[{"AttributeName": "projectId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "projectId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    jobs = dynamodb.create_table(
        TableName="jobs",
        KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    jobs.put_item(Item={"jobId": JOB, "status": "processing", "phase": "plan"})

    real_outcomes, real_project = _run(projects, {"projectId": PROJECT}, _changes())
    fake_projects: dict[str, dict[str, Any]] = {}
    fake_outcomes = [apply_update(fake_projects, change) for change in _changes()]

    assert real_outcomes == [True, False, True, True, True, True, False, False, True, False, True]
    assert fake_outcomes == real_outcomes
    assert fake_projects[PROJECT] == real_project
    assert real_project["activeJobId"] == "job-b" and real_project["queue"] == ["job-d"]

    real_job_outcomes, real_job = _run(jobs, {"jobId": JOB}, _job_changes())
    fake_jobs = {JOB: {"jobId": JOB, "status": "processing", "phase": "plan"}}
    fake_job_outcomes = [apply_update(fake_jobs, change) for change in _job_changes()]
    assert real_job_outcomes == fake_job_outcomes == [False, True, True, False]
    assert fake_jobs[JOB] == real_job
    assert "approvalToken" not in real_job and real_job["approval"]["decidedBy"] == "ops"
