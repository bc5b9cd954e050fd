"""The account's build slots: one item in the lock table, its holders and waiters, replaced whole.

One item, not one per slot: a grant must see every holder (the cap) and every waiter (who is
first) at once, and DynamoDB makes a single item's conditional write atomic. Each write is
conditional on the version it read, so two acquires racing for the last slot cannot both win: the
second finds the version moved, reads again and sees the pool full. Nothing is ever lost either:
a release is a write like any other, retried until it lands.

The item lives in the lock table (the service's table of locks, no stream, no index) under a key
no terraform state lock can have: those are "<state bucket>/projects/<id>/terraform.tfstate".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from functions.dal import aws

WHAT = "the build slots"
POOL_KEY = "provisioner/build-slots"


@dataclass(frozen=True)
class SlotPool:
    """What the item holds: ``holders`` (job id -> when granted, the job's creation in ms),
    ``waiting`` (job id -> the job's creation in ms: the order slots are given in) and
    ``version`` (0: no item yet)."""

    holders: dict[str, dict[str, Any]] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)
    version: int = 0


class BuildSlotStore(ABC):
    @abstractmethod
    def read(self) -> SlotPool:
        """The pool as it is now (a consistent read)."""

    @abstractmethod
    def replace(self, before: SlotPool, holders: dict[str, dict[str, Any]], waiting: dict[str, int]) -> bool:
        """Write the pool's new holders and waiters if it is still as ``before`` was read; False if
        another write came first (nothing was written)."""


class DynamoBuildSlotStore(BuildSlotStore):
    def __init__(self, table_name: str) -> None:
        self.table = aws.dynamodb().Table(table_name)

    def read(self) -> SlotPool:
        item = aws.get_item(self.table, {"LockID": POOL_KEY}, WHAT)
        if not item:
            return SlotPool()
        return SlotPool(
            holders={str(k): dict(v) for k, v in (item.get("holders") or {}).items()},
            waiting={str(k): int(v) for k, v in (item.get("waiting") or {}).items()},
            version=int(item.get("version", 0)),
        )

    def replace(self, before: SlotPool, holders: dict[str, dict[str, Any]], waiting: dict[str, int]) -> bool:
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(LockID)"}
            if before.version == 0
            else {
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": {":read": before.version},
            }
        )
        version = before.version + 1
        item: dict[str, Any] = {"LockID": POOL_KEY, "holders": holders, "waiting": waiting}
        item["version"] = version
        return aws.put_if(self.table, item, WHAT, **condition)


@cache
def build_slot_store(table_name: str) -> BuildSlotStore:
    return DynamoBuildSlotStore(table_name)


__all__ = ["POOL_KEY", "BuildSlotStore", "DynamoBuildSlotStore", "SlotPool", "build_slot_store"]
