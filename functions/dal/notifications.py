"""Webhook subscriptions and their delivery log in one DynamoDB table (NOTIFICATIONS_TABLE).

Keys (``pk``, ``sk``):
- a subscription: ("subscription", <subscriptionId>); the few there are list with one Query;
- a delivery: ("delivery#<subscriptionId>", <eventId>): one per event per subscription, created
  with a conditional Put, so a stream record handled twice never makes a second one;
- an event published to SNS: ("event", <eventId>), the same guard for the topic.
A delivery still to be tried carries ``pending`` (the sparse index's partition) and
``nextAttemptAt``; settling it removes ``pending``, so the index holds only the work left.

Signing secrets are not in the table: each is a Secrets Manager secret under
``provisioner-notify/`` encrypted with the service key, a prefix outside the runner's
``provisioner/*`` grant and inside the deploy role boundary's deny.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cache
from typing import Any, Final

from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError

from core.items import plain
from core.transitions import Update, equals
from functions.dal import aws

Item = dict[str, Any]
WHAT = "the notifications table"
SUBSCRIPTION_PARTITION: Final = "subscription"
EVENT_PARTITION: Final = "event"
PENDING_INDEX: Final = "pending-deliveries"
PENDING: Final = "pending"
NOTIFY_SECRET_PREFIX: Final = "provisioner-notify/"  # noqa: S105 - a name prefix, not a secret


def delivery_partition(subscription_id: str) -> str:
    return f"delivery#{subscription_id}"


class NotificationStore(ABC):
    @abstractmethod
    def put_subscription(self, item: Item) -> None: ...

    @abstractmethod
    def subscription(self, subscription_id: str) -> Item | None: ...

    @abstractmethod
    def subscriptions(self) -> list[Item]: ...

    @abstractmethod
    def delete_subscription(self, subscription_id: str) -> bool: ...

    @abstractmethod
    def create_delivery(self, item: Item) -> bool:
        """False when this event's delivery to this subscription already exists."""

    @abstractmethod
    def delivery(self, subscription_id: str, event_id: str) -> Item | None: ...

    @abstractmethod
    def deliveries(self, subscription_id: str) -> list[Item]: ...

    @abstractmethod
    def claim(self, subscription_id: str, event_id: str, attempts: int, now: int, lease_until: int) -> bool:
        """Take the next attempt: only if the delivery is pending, has had exactly ``attempts``
        attempts and nobody else holds an unexpired lease on it."""

    @abstractmethod
    def settle(self, subscription_id: str, event_id: str, attempts: int, fields: Item, *, done: bool) -> bool:
        """Record an attempt's outcome (``attempts`` is the count before it); ``done``: no more tries."""

    @abstractmethod
    def due(self, now: int, limit: int = 100) -> list[tuple[str, str]]:
        """(subscriptionId, eventId) of pending deliveries whose next attempt is due."""

    @abstractmethod
    def mark_event(self, event_id: str, now: str) -> bool:
        """False when the event was marked (published) before."""

    @abstractmethod
    def unmark_event(self, event_id: str) -> None: ...


class DynamoNotificationStore(NotificationStore):
    def __init__(self, table_name: str) -> None:
        self.table = aws.dynamodb().Table(table_name)

    def _put_new(self, item: Item) -> bool:
        return aws.put_if(self.table, item, WHAT, ConditionExpression="attribute_not_exists(pk)")

    def _query(self, partition: str) -> list[Item]:
        items: list[Item] = []
        arguments: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(partition),
            "ConsistentRead": True,
        }
        with aws.translated(WHAT):
            while True:
                page = self.table.query(**arguments)
                items += [plain(item) for item in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    return items
                arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put_subscription(self, item: Item) -> None:
        with aws.translated(WHAT):
            self.table.put_item(Item={**item, "pk": SUBSCRIPTION_PARTITION, "sk": item["subscriptionId"]})

    def subscription(self, subscription_id: str) -> Item | None:
        return aws.get_item(self.table, {"pk": SUBSCRIPTION_PARTITION, "sk": subscription_id}, WHAT)

    def subscriptions(self) -> list[Item]:
        return self._query(SUBSCRIPTION_PARTITION)

    def delete_subscription(self, subscription_id: str) -> bool:
        key = {"pk": SUBSCRIPTION_PARTITION, "sk": subscription_id}
        try:
            self.table.delete_item(Key=key, ConditionExpression="attribute_exists(pk)")
        except ClientError as exc:
            if aws.error_code(exc) == aws.CONDITION_FAILED:
                return False
            raise aws.unavailable(WHAT, exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable(WHAT, exc) from exc
        return True

    def create_delivery(self, item: Item) -> bool:
        key = {"pk": delivery_partition(item["subscriptionId"]), "sk": item["eventId"]}
        return self._put_new({**item, **key})

    def delivery(self, subscription_id: str, event_id: str) -> Item | None:
        return aws.get_item(self.table, {"pk": delivery_partition(subscription_id), "sk": event_id}, WHAT)

    def deliveries(self, subscription_id: str) -> list[Item]:
        return self._query(delivery_partition(subscription_id))

    def _key(self, subscription_id: str, event_id: str) -> dict[str, str]:
        return {"pk": delivery_partition(subscription_id), "sk": event_id}

    def claim(self, subscription_id: str, event_id: str, attempts: int, now: int, lease_until: int) -> bool:
        try:
            self.table.update_item(
                Key=self._key(subscription_id, event_id),
                UpdateExpression="SET leaseUntil = :lease",
                ConditionExpression="attempts = :attempts AND #status = :pending "
                "AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":lease": lease_until,
                    ":attempts": attempts,
                    ":pending": PENDING,
                    ":now": now,
                },
            )
        except ClientError as exc:
            if aws.error_code(exc) == aws.CONDITION_FAILED:
                return False
            raise aws.unavailable(WHAT, exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable(WHAT, exc) from exc
        return True

    def settle(self, subscription_id: str, event_id: str, attempts: int, fields: Item, *, done: bool) -> bool:
        change = Update(
            self._key(subscription_id, event_id),
            {**fields, "attempts": attempts + 1},
            remove=("leaseUntil", *((PENDING, "nextAttemptAt") if done else ())),
            conditions=(equals("attempts", attempts),),
        )
        arguments = change.arguments()
        arguments.pop("TableName", None)
        try:
            self.table.update_item(**arguments)
        except ClientError as exc:
            if aws.error_code(exc) == aws.CONDITION_FAILED:
                return False
            raise aws.unavailable(WHAT, exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable(WHAT, exc) from exc
        return True

    def due(self, now: int, limit: int = 100) -> list[tuple[str, str]]:
        with aws.translated(WHAT):
            page = self.table.query(
                IndexName=PENDING_INDEX,
                KeyConditionExpression=Key(PENDING).eq(PENDING) & Key("nextAttemptAt").lte(now),
                Limit=limit,
            )
        # Keys only (the index projects no more): the delivery's partition names its subscription.
        return [
            (str(item["pk"]).removeprefix("delivery#"), str(item["sk"])) for item in page.get("Items", [])
        ]

    def mark_event(self, event_id: str, now: str) -> bool:
        return self._put_new({"pk": EVENT_PARTITION, "sk": event_id, "publishedAt": now})

    def unmark_event(self, event_id: str) -> None:
        with aws.translated(WHAT):
            self.table.delete_item(Key={"pk": EVENT_PARTITION, "sk": event_id})


class SigningSecrets(ABC):
    @abstractmethod
    def save(self, subscription_id: str, secret: str) -> str:
        """Store a new subscription's secret; returns its reference (the secret's ARN)."""

    @abstractmethod
    def load(self, reference: str) -> str: ...

    @abstractmethod
    def delete(self, reference: str) -> None: ...


class SecretsManagerSigningSecrets(SigningSecrets):
    def __init__(self, kms_key_id: str | None) -> None:
        self.kms_key_id = kms_key_id
        self.client = aws.secretsmanager()
        self._cache: dict[str, str] = {}

    def save(self, subscription_id: str, secret: str) -> str:
        arguments: dict[str, Any] = {
            "Name": f"{NOTIFY_SECRET_PREFIX}{subscription_id}",
            "SecretString": secret,
            "Description": f"Webhook signing secret of notification subscription {subscription_id}",
            "Tags": [{"Key": "ManagedBy", "Value": "terraform-provisioner"}],
        }
        if self.kms_key_id:
            arguments["KmsKeyId"] = self.kms_key_id
        try:
            return self.client.create_secret(**arguments)["ARN"]
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the secrets store", exc) from exc

    def load(self, reference: str) -> str:
        # A subscription's secret never changes: a warm container reads it once.
        if reference not in self._cache:
            try:
                value = self.client.get_secret_value(SecretId=reference).get("SecretString") or ""
            except (ClientError, BotoCoreError) as exc:
                raise aws.unavailable("the secrets store", exc) from exc
            self._cache[reference] = value
        return self._cache[reference]

    def delete(self, reference: str) -> None:
        self._cache.pop(reference, None)
        try:
            self.client.delete_secret(SecretId=reference, RecoveryWindowInDays=7)
        except ClientError as exc:
            # Gone, or already scheduled for deletion: either way it is going.
            if aws.error_code(exc) not in ("ResourceNotFoundException", "InvalidRequestException"):
                raise aws.unavailable("the secrets store", exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable("the secrets store", exc) from exc


@cache
def notification_store(table_name: str) -> NotificationStore:
    return DynamoNotificationStore(table_name)


@cache
def signing_secrets(kms_key_id: str | None) -> SigningSecrets:
    return SecretsManagerSigningSecrets(kms_key_id)
