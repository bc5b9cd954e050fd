"""Terraform's state locks: the items its S3 backend writes in the lock table."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from core.records import stored_json
from functions.dal import aws


@dataclass(frozen=True)
class StateLock:
    lock_id: str
    raw_info: str  # as terraform wrote it: a delete is conditional on this exact text
    info: dict[str, Any]  # parsed: ID, Operation, Who, Version, Created, Path

    @property
    def id(self) -> str:
        return str(self.info.get("ID", ""))

    @property
    def created(self) -> str:
        return str(self.info.get("Created", ""))


class LockStore(ABC):
    @abstractmethod
    def get(self, lock_id: str) -> StateLock | None: ...

    @abstractmethod
    def held(self) -> list[str]:
        """Every lock ID currently held (digest items, ``...-md5``, are not locks)."""

    @abstractmethod
    def delete(self, lock: StateLock) -> bool:
        """Delete this very lock (not one taken since); False if it was already gone or replaced."""


class DynamoLockStore(LockStore):
    def __init__(self, table_name: str) -> None:
        self.table = aws.dynamodb().Table(table_name)

    def get(self, lock_id: str) -> StateLock | None:
        try:
            item = self.table.get_item(Key={"LockID": lock_id}, ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the lock table", exc) from exc
        if not item or "Info" not in item:
            return None
        raw = str(item["Info"])
        return StateLock(lock_id, raw, stored_json(raw, {}))

    def held(self) -> list[str]:
        ids: list[str] = []
        arguments: dict[str, Any] = {"ProjectionExpression": "LockID, Info"}
        try:
            while True:
                page = self.table.scan(**arguments)
                ids += [str(item["LockID"]) for item in page.get("Items", []) if "Info" in item]
                if "LastEvaluatedKey" not in page:
                    return ids
                arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the lock table", exc) from exc

    def delete(self, lock: StateLock) -> bool:
        try:
            self.table.delete_item(
                Key={"LockID": lock.lock_id},
                ConditionExpression="Info = :info",
                ExpressionAttributeValues={":info": lock.raw_info},
            )
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise aws.unavailable("the lock table", exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable("the lock table", exc) from exc
        return True


@cache
def lock_store(table_name: str) -> LockStore:
    return DynamoLockStore(table_name)
