"""Policies in DynamoDB, versioned: every upload is a new immutable version item beside the
policy's head (its current version). Both are written in one transaction, on the condition that
the head is still the version the writer read, so two uploads racing cannot both win.

Keys: ``scope`` is "install" or "project#<projectId>"; ``policyKey`` is "head#<name>" or
"version#<name>#<000042>" (zero-padded, so a query returns versions in order).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cache
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError

from core.items import plain
from functions.dal import aws

PolicyItem = dict[str, Any]
WHAT = "the policy table"
INSTALL_SCOPE = "install"


def project_scope(project_id: str) -> str:
    return f"project#{project_id}"


def head_key(name: str) -> str:
    return f"head#{name}"


def version_key(name: str, version: int) -> str:
    return f"version#{name}#{version:06d}"


class PolicyStore(ABC):
    @abstractmethod
    def heads(self, scope: str) -> list[PolicyItem]:
        """The current version of every policy of a scope (deleted ones included, marked)."""

    @abstractmethod
    def head(self, scope: str, name: str) -> PolicyItem | None: ...

    @abstractmethod
    def version(self, scope: str, name: str, version: int) -> PolicyItem | None: ...

    @abstractmethod
    def versions(self, scope: str, name: str) -> list[PolicyItem]:
        """Every version of a policy, oldest first."""

    @abstractmethod
    def put(self, item: PolicyItem) -> bool:
        """Store ``item`` (with its ``version``) as the policy's new head and a version of its
        own; False when the head is no longer ``version - 1`` (another upload won)."""


class DynamoPolicyStore(PolicyStore):
    def __init__(self, table_name: str) -> None:
        self.table = aws.dynamodb().Table(table_name)

    def _query(self, scope: str, prefix: str) -> list[PolicyItem]:
        items: list[PolicyItem] = []
        arguments: dict[str, Any] = {
            "KeyConditionExpression": Key("scope").eq(scope) & Key("policyKey").begins_with(prefix),
            "ConsistentRead": True,
        }
        with aws.translated(WHAT):
            while True:
                page = self.table.query(**arguments)
                items += [plain(item) for item in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    return items
                arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def heads(self, scope: str) -> list[PolicyItem]:
        return self._query(scope, "head#")

    def head(self, scope: str, name: str) -> PolicyItem | None:
        return aws.get_item(self.table, {"scope": scope, "policyKey": head_key(name)}, WHAT)

    def version(self, scope: str, name: str, version: int) -> PolicyItem | None:
        return aws.get_item(self.table, {"scope": scope, "policyKey": version_key(name, version)}, WHAT)

    def versions(self, scope: str, name: str) -> list[PolicyItem]:
        return self._query(scope, f"version#{name}#")

    def put(self, item: PolicyItem) -> bool:
        scope, name, version = str(item["scope"]), str(item["name"]), int(item["version"])
        head_condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(policyKey)"}
            if version == 1
            else {
                "ConditionExpression": "version = :previous",
                "ExpressionAttributeValues": {":previous": version - 1},
            }
        )
        # The resource's client serializes plain values as the table does (no AttributeValues).
        client: Any = self.table.meta.client
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table.name,
                            "Item": {**item, "policyKey": version_key(name, version)},
                            "ConditionExpression": "attribute_not_exists(policyKey)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table.name,
                            "Item": {**item, "policyKey": head_key(name), "scope": scope},
                            **head_condition,
                        }
                    },
                ]
            )
        except ClientError as exc:
            if aws.error_code(exc) == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons") or []
                if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons) or not reasons:
                    return False
            raise aws.unavailable(WHAT, exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable(WHAT, exc) from exc
        return True


@cache
def policy_store(table_name: str) -> PolicyStore:
    return DynamoPolicyStore(table_name)
