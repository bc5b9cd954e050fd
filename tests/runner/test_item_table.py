"""The runner's ItemTable against the emulator: the same calls as boto3's ``Table`` give the same
items, the same answers and the same conditional failures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from core.records import JobAction, Phase, new_job_id
from core.transitions import job_progressed, job_started
from runner.item_table import ItemTable
from tests.support.jobs import Emulated

ITEM: dict[str, Any] = {
    "status": "pending",
    "progress": Decimal(0),
    "ratio": Decimal("0.25"),
    "nested": {"list": ["a", Decimal(2), {"deep": True}], "empty": {}},
    "tags": {"x", "y"},
    "blob": b"\x00\xff",
    "nothing": None,
}


def _job_id() -> str:
    return new_job_id(JobAction.DEPLOY)


def _tables(emulated: Emulated) -> tuple[ItemTable, Any]:
    name = emulated.resources.jobs_table
    return ItemTable(emulated.client("dynamodb"), name), emulated.table(name)


def test_an_item_written_by_one_reads_the_same_through_the_other(emulated: Emulated) -> None:
    ours, theirs = _tables(emulated)
    first, second = _job_id(), _job_id()
    ours.put_item(Item={"jobId": first, **ITEM})
    theirs.put_item(Item={"jobId": second, **ITEM})
    for job_id in (first, second):
        read = ours.get_item(Key={"jobId": job_id}, ConsistentRead=True)
        assert read["Item"] == theirs.get_item(Key={"jobId": job_id}, ConsistentRead=True)["Item"]
        assert read == {"Item": {"jobId": job_id, **ITEM}}
    assert ours.get_item(Key={"jobId": _job_id()}) == {}


def test_transitions_apply_alike_and_conditions_hold(emulated: Emulated) -> None:
    ours, theirs = _tables(emulated)
    ids = _job_id(), _job_id()
    for table, job_id in zip((ours, theirs), ids, strict=True):
        table.put_item(Item={"jobId": job_id, "status": "pending", "progress": 0, "kind": "job"})
        table.update_item(**job_started(job_id, "2026-12-03T10:00:00.000Z", "build-1", []).arguments())
        table.update_item(
            **job_progressed(job_id, "2026-12-03T10:00:01.000Z", Phase.PLAN, 40, "tail").arguments()
        )
    written = [ours.get_item(Key={"jobId": job_id}, ConsistentRead=True)["Item"] for job_id in ids]
    assert written[0] == {**written[1], "jobId": ids[0]}
    assert written[0]["status"] == "processing" and written[0]["progress"] == 40

    # Closed jobs refuse progress: the condition's failure is the client's own error, as Table's.
    for table, job_id in zip((ours, theirs), ids, strict=True):
        table.update_item(
            Key={"jobId": job_id},
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": "completed"},
        )
        with pytest.raises(ClientError) as refused:
            table.update_item(
                **job_progressed(job_id, "2026-12-03T10:00:02.000Z", Phase.APPLY, 90, "").arguments()
            )
        assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert ours.get_item(Key={"jobId": ids[0]}, ConsistentRead=True)["Item"]["progress"] == 40


def test_update_answers_and_conditional_delete(emulated: Emulated) -> None:
    ours, _ = _tables(emulated)
    job_id = _job_id()
    ours.put_item(Item={"jobId": job_id, "owner": "a"})
    answer = ours.update_item(
        Key={"jobId": job_id},
        UpdateExpression="SET #o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": "b"},
        ReturnValues="ALL_OLD",
    )
    assert answer == {"Attributes": {"jobId": job_id, "owner": "a"}}
    condition = {
        "ConditionExpression": "#o = :o",
        "ExpressionAttributeNames": {"#o": "owner"},
    }
    with pytest.raises(ClientError):
        ours.delete_item(Key={"jobId": job_id}, ExpressionAttributeValues={":o": "a"}, **condition)
    assert ours.delete_item(Key={"jobId": job_id}, ExpressionAttributeValues={":o": "b"}, **condition) == {}
    assert ours.get_item(Key={"jobId": job_id}, ConsistentRead=True) == {}
