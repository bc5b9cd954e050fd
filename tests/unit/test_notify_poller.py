"""Local mode's stand-in for the notifier's event source mappings, against the real emulator:
each job and project update reaches the handler once, with both images and its table's stream
ARN; a batch the handler reports failed is read again from the failed record."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from functions.logic.notify_events import events_from_record, image
from localmode.emulator import EmulatorServer, ServiceResources, create_service_resources, emulator_session
from localmode.notify_poller import StreamPoller

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    server = EmulatorServer()
    endpoint = server.start()
    create_service_resources(endpoint, ServiceResources())
    yield endpoint
    server.stop()


def test_updates_reach_the_handler_once_and_failed_batches_again(emulator: str) -> None:
    resources = ServiceResources()
    batches: list[list[dict[str, Any]]] = []
    fail_next = [False]

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        batches.append(event["Records"])
        if fail_next[0]:
            fail_next[0] = False
            return {
                "batchItemFailures": [{"itemIdentifier": event["Records"][0]["dynamodb"]["SequenceNumber"]}]
            }
        return {"batchItemFailures": []}

    poller = StreamPoller(emulator, resources, handler=handler)
    # moto's backends are the process's: the streams hold whatever earlier tests wrote. Read past it.
    while poller.poll_once():
        pass
    batches.clear()
    table = (
        emulator_session(resources.region)
        .resource("dynamodb", endpoint_url=emulator)
        .Table(resources.jobs_table)
    )
    table.put_item(
        Item={
            "jobId": "poller-j1",
            "projectId": "poller-p1",
            "status": "processing",
            "createdAt": 1,
            "kind": "job",
        }
    )
    table.update_item(
        Key={"jobId": "poller-j1"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "completed"},
    )
    assert poller.poll_once() == 2
    [records] = batches
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    assert f":table/{resources.jobs_table}/stream/" in records[1]["eventSourceARN"]
    old, new = image(records[1]["dynamodb"]["OldImage"]), image(records[1]["dynamodb"]["NewImage"])
    assert (
        old is not None and new is not None and (old["status"], new["status"]) == ("processing", "completed")
    )
    assert [e.type for e in events_from_record(records[1], "jobs")] == ["job_completed"]
    # Nothing new: nothing handed over.
    assert poller.poll_once() == 0
    # A failed batch is read again from its failed record on.
    projects = (
        emulator_session(resources.region)
        .resource("dynamodb", endpoint_url=emulator)
        .Table(resources.projects_table)
    )
    projects.put_item(Item={"projectId": "poller-p9"})
    fail_next[0] = True
    assert poller.poll_once() == 1
    assert poller.poll_once() == 1
    assert batches[-1][0]["dynamodb"]["Keys"] == batches[-2][0]["dynamodb"]["Keys"]
    assert poller.poll_once() == 0


def test_the_runners_environment_never_names_the_notifications_table() -> None:
    # The runner's build gets ServiceResources.environment() (localmode/services.py); the
    # handlers get the table on top of it, in api_environment().
    environment = ServiceResources().environment()
    assert "NOTIFICATIONS_TABLE" not in environment
    assert ServiceResources().notifications_table not in environment.values()
