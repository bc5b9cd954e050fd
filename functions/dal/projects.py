"""Project records in DynamoDB. ``activeJobId`` is the project's lock: one active job at a time."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cache
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import BotoCoreError, ClientError

from core.records import iso_now
from functions.dal import aws
from functions.dal.jobs import plain
from functions.models.exceptions import ProjectBusy

ProjectItem = dict[str, Any]
# What judging a project lock needs (functions/logic/locks.py), not the outputs or findings.
LOCK_VIEW_FIELDS = (
    "projectId",
    "activeJobId",
    "activeAction",
    "deploymentStatus",
    "deploymentJobId",
    "lastUpdated",
)


class ProjectStore(ABC):
    @abstractmethod
    def get(self, project_id: str) -> ProjectItem | None: ...

    @abstractmethod
    def acquire(self, project_id: str, job_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Take the project's lock for a job and set fields; returns their previous values."""

    @abstractmethod
    def release(self, project_id: str, job_id: str, restore: dict[str, Any] | None = None) -> bool:
        """Free the lock if the job holds it, putting back the given fields; False if it did not."""

    @abstractmethod
    def update(self, project_id: str, fields: dict[str, Any]) -> None: ...

    @abstractmethod
    def locked(self) -> list[ProjectItem]:
        """Every project a job holds: its id, ``activeJobId`` and the fields the reaper judges by."""


class DynamoProjectStore(ProjectStore):
    def __init__(self, table_name: str) -> None:
        self.table = aws.dynamodb().Table(table_name)

    def get(self, project_id: str) -> ProjectItem | None:
        try:
            item = self.table.get_item(Key={"projectId": project_id}, ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the project table", exc) from exc
        return plain(item) if item else None

    def acquire(self, project_id: str, job_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        names, values, assignments = _assignments({"activeJobId": job_id, **fields})
        assignments.append("#createdAt = if_not_exists(#createdAt, :createdAt)")
        names["#createdAt"] = "createdAt"
        values[":createdAt"] = fields.get("lastUpdated", "")
        try:
            response = self.table.update_item(
                Key={"projectId": project_id},
                UpdateExpression="SET " + ", ".join(assignments),
                # The lock: taken only where no job holds it, atomically, so of N racing requests one wins.
                ConditionExpression="attribute_not_exists(activeJobId)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_OLD",
            )
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                holder = self.get(project_id) or {}
                active = holder.get("activeJobId")
                if active == job_id:
                    # An earlier attempt of this very write took the lock and its answer was lost;
                    # the SDK's retry then met it. The lock is ours; what it replaced is not known.
                    return {}
                raise ProjectBusy(
                    f"project {project_id} has a job in progress ({active}); wait for it or cancel it",
                    str(active) if active else None,
                ) from exc
            raise aws.unavailable("the project table", exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable("the project table", exc) from exc
        previous = plain(response.get("Attributes") or {})
        return {key: previous.get(key) for key in fields}

    def release(self, project_id: str, job_id: str, restore: dict[str, Any] | None = None) -> bool:
        lock_fields = ("activeJobId", "activeAction")
        restored = {k: v for k, v in (restore or {}).items() if k not in lock_fields and k != "lastUpdated"}
        names, values, assignments = _assignments(
            {**{k: v for k, v in restored.items() if v is not None}, "lastUpdated": iso_now()}
        )
        removals = [*lock_fields, *(k for k, v in restored.items() if v is None)]
        names |= {f"#r{index}": name for index, name in enumerate(removals)}
        expression = (
            "SET " + ", ".join(assignments) + " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removals)))
        )
        values[":job"] = job_id
        try:
            self.table.update_item(
                Key={"projectId": project_id},
                UpdateExpression=expression,
                ConditionExpression="activeJobId = :job",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise aws.unavailable("the project table", exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable("the project table", exc) from exc
        return True

    def update(self, project_id: str, fields: dict[str, Any]) -> None:
        names, values, assignments = _assignments(fields)
        try:
            self.table.update_item(
                Key={"projectId": project_id},
                UpdateExpression="SET " + ", ".join(assignments),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the project table", exc) from exc

    def locked(self) -> list[ProjectItem]:
        # A scan: the reaper runs every few minutes and the table has one item per project.
        arguments: dict[str, Any] = {
            "FilterExpression": Attr("activeJobId").exists(),
            "ProjectionExpression": ", ".join(f"#{name}" for name in LOCK_VIEW_FIELDS),
            "ExpressionAttributeNames": {f"#{name}": name for name in LOCK_VIEW_FIELDS},
            "ConsistentRead": True,
        }
        items: list[ProjectItem] = []
        try:
            while True:
                page = self.table.scan(**arguments)
                items += [plain(item) for item in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    return items
                arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the project table", exc) from exc


def _assignments(fields: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any], list[str]]:
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    assignments: list[str] = []
    for index, (name, value) in enumerate(fields.items()):
        names[f"#f{index}"] = name
        values[f":v{index}"] = value
        assignments.append(f"#f{index} = :v{index}")
    return names, values, assignments


@cache
def project_store(table_name: str) -> ProjectStore:
    return DynamoProjectStore(table_name)
