"""Terraform's state locks: the items its S3 backend writes in the lock table."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cache

from core.items import StateLock, state_lock
from core.transitions import state_lock_removed
from functions.dal import aws

WHAT = "the lock table"
__all__ = ["DynamoLockStore", "LockStore", "StateLock", "lock_store"]


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
        item = aws.get_item(self.table, {"LockID": lock_id}, WHAT)
        return state_lock(item)

    def held(self) -> list[str]:
        items = aws.scan_all(self.table, WHAT, ProjectionExpression="LockID, Info")
        return [str(item["LockID"]) for item in items if "Info" in item]

    def delete(self, lock: StateLock) -> bool:
        return aws.apply(self.table, state_lock_removed(lock.lock_id, lock.raw_info), WHAT)


@cache
def lock_store(table_name: str) -> LockStore:
    return DynamoLockStore(table_name)
