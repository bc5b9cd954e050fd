"""The notifications table's port: DynamoDB (moto, with the same table local mode creates) and
the in-memory fake keep one contract: one delivery per event and subscription, claims and
settlements conditional on the attempt count, the pending index holding only what is left."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from functions.dal import aws
from functions.dal.notifications import (
    DynamoNotificationStore,
    NotificationStore,
    SecretsManagerSigningSecrets,
)
from localmode.emulator import create_notifications_table
from tests.support.fakes import FakeNotificationStore

TABLE = "notifications-test"


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture(params=["dynamodb", "fake"])
def store(request: pytest.FixtureRequest, credentials: None) -> Iterator[NotificationStore]:
    if request.param == "fake":
        yield FakeNotificationStore()
        return
    with mock_aws():
        aws.dynamodb.cache_clear()
        create_notifications_table(boto3.client("dynamodb"), TABLE)
        yield DynamoNotificationStore(TABLE)
        aws.dynamodb.cache_clear()


def delivery(event_id: str = "evt_1", at: int = 100) -> dict[str, object]:
    return {
        "subscriptionId": "sub_1",
        "eventId": event_id,
        "deliveryId": f"dlv_{event_id}",
        "type": "job_completed",
        "projectId": "p1",
        "body": "{}",
        "status": "pending",
        "pending": "pending",
        "attempts": 0,
        "nextAttemptAt": at,
        "createdAt": "2026-12-02T10:00:00Z",
    }


def test_subscriptions_are_stored_listed_and_deleted(store: NotificationStore) -> None:
    store.put_subscription({"subscriptionId": "sub_1", "url": "https://a", "events": ["job_failed"]})
    store.put_subscription({"subscriptionId": "sub_2", "url": "https://b", "events": ["job_failed"]})
    assert sorted(s["subscriptionId"] for s in store.subscriptions()) == ["sub_1", "sub_2"]
    sub = store.subscription("sub_1")
    assert sub is not None and sub["url"] == "https://a"
    assert store.delete_subscription("sub_1")
    assert not store.delete_subscription("sub_1")
    assert store.subscription("sub_1") is None


def test_a_delivery_is_created_once(store: NotificationStore) -> None:
    assert store.create_delivery(delivery())
    assert not store.create_delivery(delivery())
    assert [d["eventId"] for d in store.deliveries("sub_1")] == ["evt_1"]


def test_claims_and_settlements_are_conditional_and_the_pending_index_empties(
    store: NotificationStore,
) -> None:
    store.create_delivery(delivery("evt_1", at=100))
    store.create_delivery(delivery("evt_2", at=500))
    assert store.due(200) == [("sub_1", "evt_1")]
    assert store.claim("sub_1", "evt_1", 0, now=200, lease_until=230)
    assert not store.claim("sub_1", "evt_1", 0, now=210, lease_until=240)  # the lease holds
    assert not store.claim("sub_1", "evt_1", 1, now=300, lease_until=330)  # a count it has not had
    assert store.settle("sub_1", "evt_1", 0, {"status": "pending", "nextAttemptAt": 260}, done=False)
    assert not store.settle("sub_1", "evt_1", 0, {"status": "pending"}, done=False)  # settled already
    assert store.claim("sub_1", "evt_1", 1, now=260, lease_until=290)
    assert store.settle("sub_1", "evt_1", 1, {"status": "delivered", "lastStatusCode": 200}, done=True)
    item = store.delivery("sub_1", "evt_1")
    assert item is not None and item["attempts"] == 2 and item["status"] == "delivered"
    assert "pending" not in item and "leaseUntil" not in item
    assert store.due(10**9) == [("sub_1", "evt_2")]
    assert not store.claim("sub_1", "evt_1", 2, now=10**9, lease_until=10**9 + 30)  # not pending


def test_an_event_is_marked_once(store: NotificationStore) -> None:
    assert store.mark_event("evt_1", "now")
    assert not store.mark_event("evt_1", "now")
    store.unmark_event("evt_1")
    assert store.mark_event("evt_1", "now")


def test_signing_secrets_live_in_secrets_manager_under_their_own_prefix(credentials: None) -> None:
    with mock_aws():
        aws.secretsmanager.cache_clear()
        secrets = SecretsManagerSigningSecrets(None)
        reference = secrets.save("sub_1", "whsec_x")
        assert ":secret:provisioner-notify/sub_1" in reference
        # Outside the runner's grant (provisioner/*).
        assert ":secret:provisioner/" not in reference
        assert secrets.load(reference) == "whsec_x"
        secrets.delete(reference)
        secrets.delete(reference)  # already scheduled for deletion: fine
        aws.secretsmanager.cache_clear()


def test_moto_streams_carry_old_and_new_images_of_an_update(credentials: None) -> None:
    """What the notifier relies on from the emulator: a MODIFY with both images, in order."""
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName="jobs",
            KeySchema=[{"AttributeName": "jobId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "jobId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        client.put_item(TableName="jobs", Item={"jobId": {"S": "j1"}, "status": {"S": "processing"}})
        client.update_item(
            TableName="jobs",
            Key={"jobId": {"S": "j1"}},
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "completed"}},
        )
        arn = client.describe_table(TableName="jobs")["Table"]["LatestStreamArn"]
        # botocore routes an ARN-bearing call to an account endpoint moto does not serve: name the
        # streams endpoint, as the local poller does (it names the emulator's).
        streams = boto3.client(
            "dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com"
        )
        [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator)["Records"]
        assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
        modify = records[1]["dynamodb"]
        assert modify["OldImage"]["status"] == {"S": "processing"}
        assert modify["NewImage"]["status"] == {"S": "completed"}
