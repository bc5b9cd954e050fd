"""Project records in DynamoDB. ``activeJobId`` is the project's lock: one active job at a time."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cache
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import BotoCoreError, ClientError

from core.items import plain
from core.records import iso_now
from core.transitions import Update, project_locked, project_released, project_updated
from functions.dal import aws
from functions.models.exceptions import ProjectBusy

ProjectItem = dict[str, Any]
WHAT = "the project table"
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
    def acquire(
        self, project_id: str, job_id: str, fields: dict[str, Any], *, from_queue: bool = False
    ) -> dict[str, Any]:
        """Take the project's lock for a job and set fields; returns their previous values.

        A job arriving takes it only if no job is queued; ``from_queue``: only at the queue's head.
        """

    @abstractmethod
    def release(self, project_id: str, job_id: str, restore: dict[str, Any] | None = None) -> bool:
        """Free the lock if the job holds it, putting back the given fields; False if it did not."""

    @abstractmethod
    def update(self, project_id: str, fields: dict[str, Any]) -> None: ...

    @abstractmethod
    def apply(self, change: Update) -> bool:
        """Execute a transition of core.transitions; False when its condition did not hold."""

    @abstractmethod
    def drift_summaries(self) -> list[ProjectItem]:
        """Every project's id, deployment status, drift schedule and latest drift summary."""

    @abstractmethod
    def locked(self) -> list[ProjectItem]:
        """Every project a job holds: its id, ``activeJobId`` and the fields the reaper judges by."""


class DynamoProjectStore(ProjectStore):
    def __init__(self, table_name: str) -> None:
        self.table = aws.dynamodb().Table(table_name)

    def get(self, project_id: str) -> ProjectItem | None:
        return aws.get_item(self.table, {"projectId": project_id}, WHAT)

    def acquire(
        self, project_id: str, job_id: str, fields: dict[str, Any], *, from_queue: bool = False
    ) -> dict[str, Any]:
        now = str(fields.get("lastUpdated", ""))
        change = project_locked(project_id, job_id, now, fields, from_queue=from_queue)
        try:
            response = self.table.update_item(**change.arguments(), ReturnValues="UPDATED_OLD")
        except ClientError as exc:
            if aws.error_code(exc) == aws.CONDITION_FAILED:
                holder = self.get(project_id) or {}
                active = holder.get("activeJobId")
                if active == job_id:
                    # An earlier attempt of this very write took the lock and its answer was lost;
                    # the SDK's retry then met it. The lock is ours; what it replaced is not known.
                    return {}
                queue = holder.get("queue") or []
                if not active and queue:
                    active = queue[-1]  # no holder: the queue's jobs are ahead
                raise ProjectBusy(
                    f"project {project_id} has a job in progress ({active}); wait for it or cancel it",
                    str(active) if active else None,
                ) from exc
            raise aws.unavailable(WHAT, exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable(WHAT, exc) from exc
        previous = plain(response.get("Attributes") or {})
        return {key: previous.get(key) for key in fields}

    def release(self, project_id: str, job_id: str, restore: dict[str, Any] | None = None) -> bool:
        return aws.apply(self.table, project_released(project_id, job_id, iso_now(), restore), WHAT)

    def update(self, project_id: str, fields: dict[str, Any]) -> None:
        aws.apply(self.table, project_updated(project_id, fields), WHAT)

    def apply(self, change: Update) -> bool:
        return aws.apply(self.table, change, WHAT)

    def locked(self) -> list[ProjectItem]:
        # A scan: the reaper runs every few minutes and the table has one item per project.
        return aws.scan_all(
            self.table,
            WHAT,
            FilterExpression=Attr("activeJobId").exists(),
            ProjectionExpression=", ".join(f"#{name}" for name in LOCK_VIEW_FIELDS),
            ExpressionAttributeNames={f"#{name}": name for name in LOCK_VIEW_FIELDS},
            ConsistentRead=True,
        )

    def drift_summaries(self) -> list[ProjectItem]:
        return aws.scan_all(
            self.table,
            WHAT,
            ProjectionExpression="projectId, deploymentStatus, driftSchedule, #drift",
            ExpressionAttributeNames={"#drift": "drift"},
        )


@cache
def project_store(table_name: str) -> ProjectStore:
    return DynamoProjectStore(table_name)
