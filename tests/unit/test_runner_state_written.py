"""The runner records on its job the state version its apply or destroy wrote (against moto):
how the state history names the job behind each version."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from core.records import state_key
from runner.settings import RunnerSettings
from runner.store import RunStore

JOB = "deploy-1700000000000-abc123"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunStore]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="state")
        s3.put_bucket_versioning(Bucket="state", VersioningConfiguration={"Status": "Enabled"})
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName="jobs",
            KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        boto3.resource("dynamodb", region_name="us-east-1").Table("jobs").put_item(
            Item={"jobId": JOB, "projectId": "shop", "status": "failed"}
        )
        settings = RunnerSettings.from_environment(
            {
                "JOB_ID": JOB,
                "PROJECT_ID": "shop",
                "JOB_ACTION": "deploy",
                "JOBS_TABLE": "jobs",
                "PROJECTS_TABLE": "projects",
                "LOCK_TABLE": "locks",
                "WORKSPACES_BUCKET": "workspaces",
                "STATE_BUCKET": "state",
                "LOGS_BUCKET": "logs",
            }
        )
        yield RunStore(settings, boto3.session.Session(region_name="us-east-1"))


def _terraform_writes(serial: int) -> str:
    body = json.dumps({"version": 4, "serial": serial, "lineage": "l"}).encode()
    put = boto3.client("s3", region_name="us-east-1").put_object(
        Bucket="state", Key=state_key("shop"), Body=body
    )
    return str(put["VersionId"])


def _job() -> dict[str, object]:
    return dict(
        boto3.resource("dynamodb", region_name="us-east-1").Table("jobs").get_item(Key={"jobId": JOB})["Item"]
    )


def test_a_version_written_by_the_job_is_recorded_even_on_an_ended_job(store: RunStore) -> None:
    # Given: no state yet, then the job's (failed) apply writes one
    assert store.state_version_id() is None
    version = _terraform_writes(1)
    # When
    recorded = store.record_state_written(None)
    # Then
    assert recorded == version
    job = _job()
    assert job["stateVersionId"] == version and job["stateSerial"] == 1 and job["status"] == "failed"


def test_an_apply_that_wrote_nothing_records_nothing(store: RunStore) -> None:
    before = _terraform_writes(3)
    assert store.state_version_id() == before
    assert store.record_state_written(before) is None
    assert "stateVersionId" not in _job()
