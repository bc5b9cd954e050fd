"""Job records in DynamoDB: one item per job, indexes by project and by creation time."""

from __future__ import annotations

import base64
import binascii
import json
from abc import ABC, abstractmethod
from functools import cache
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import BotoCoreError, ClientError

from core.items import JobRecord, plain
from core.records import JOBS_BY_CREATION_INDEX, JOBS_BY_PROJECT_INDEX, iso_now
from core.transitions import ACTIVE, Update, cancel_requested, job_failed
from functions.dal import aws
from functions.models.exceptions import InvalidRequest

JobItem = dict[str, Any]
WHAT = "the job table"
VIEW_FIELDS = (
    "jobId",
    "projectId",
    "action",
    "status",
    "progress",
    "phase",
    "resultMessage",
    "logTail",
    "outputsJson",
    "error",
    "startTime",
    "endTime",
    "updatedAt",
    "planSummary",
    "mode",
    "approvalRequired",
    "approval",
    "queued",
    "planCost",
    "reviewKey",
    "cancelRequestedAt",
    "policyCheck",
    "pendingDecisions",
    "createdAt",
    "timeline",
    "pendingReason",
)


MAX_FILTERED_READS = 10


class JobStore(ABC):
    @abstractmethod
    def get(self, job_id: str) -> JobItem | None: ...

    @abstractmethod
    def view(self, job_id: str) -> JobItem | None:
        """Only what the status answer shows: the polled read, kept small."""

    @abstractmethod
    def create(self, item: JobItem) -> None: ...

    @abstractmethod
    def page(
        self, project_id: str | None, limit: int, token: str | None, action: str | None = None
    ) -> tuple[list[JobItem], str | None]:
        """Newest first; ``action`` keeps only jobs of that action (a project's drift checks)."""

    @abstractmethod
    def active(self) -> list[JobItem]:
        """Every job still pending or processing."""

    @abstractmethod
    def fail_if_active(self, job_id: str, error: str) -> bool:
        """Mark a pending or processing job failed; False if it had already ended."""

    @abstractmethod
    def request_cancel(self, job_id: str, requested_by: str) -> None: ...

    @abstractmethod
    def apply(self, change: Update) -> bool:
        """Execute a transition of core.transitions; False when its condition did not hold."""


class DynamoJobStore(JobStore):
    def __init__(self, table_name: str) -> None:
        self.table = aws.dynamodb().Table(table_name)

    def get(self, job_id: str) -> JobItem | None:
        return aws.get_item(self.table, {"jobId": job_id}, WHAT)

    def view(self, job_id: str) -> JobItem | None:
        names = {f"#{name}": name for name in VIEW_FIELDS}
        return aws.get_item(
            self.table,
            {"jobId": job_id},
            WHAT,
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
        )

    def create(self, item: JobItem) -> None:
        record = JobRecord.from_item(item)  # what the table may hold, checked before it does
        try:
            self.table.put_item(Item=record.to_item(), ConditionExpression="attribute_not_exists(jobId)")
        except ClientError as exc:
            existing = self.get(record.jobId) if aws.error_code(exc) == aws.CONDITION_FAILED else None
            # A retried write whose first attempt went through: the record is there, as intended.
            if existing is None or existing.get("projectId") != record.projectId:
                raise aws.unavailable(WHAT, exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable(WHAT, exc) from exc

    def page(
        self, project_id: str | None, limit: int, token: str | None, action: str | None = None
    ) -> tuple[list[JobItem], str | None]:
        if action is None:
            return self._page(project_id, limit, token, {})
        # A filter applies after the limit: read on until the page is full or the jobs end.
        found: list[JobItem] = []
        for _ in range(MAX_FILTERED_READS):
            items, token = self._page(
                project_id, limit - len(found), token, {"FilterExpression": Attr("action").eq(action)}
            )
            found += items
            if len(found) >= limit or token is None:
                break
        return found, token

    def _page(
        self, project_id: str | None, limit: int, token: str | None, extra: dict[str, Any]
    ) -> tuple[list[JobItem], str | None]:
        arguments: dict[str, Any] = {"Limit": limit, "ScanIndexForward": False, **extra}
        if project_id is not None:
            arguments |= {
                "IndexName": JOBS_BY_PROJECT_INDEX,
                "KeyConditionExpression": Key("projectId").eq(project_id),
            }
        else:
            arguments |= {
                "IndexName": JOBS_BY_CREATION_INDEX,
                "KeyConditionExpression": Key("kind").eq("job"),
            }
        if token:
            arguments["ExclusiveStartKey"] = decode_token(token)
        try:
            page = self.table.query(**arguments)
        except ClientError as exc:
            if aws.error_code(exc) == "ValidationException" and token:
                raise InvalidRequest("the next token does not belong to this listing", "next") from exc
            raise aws.unavailable(WHAT, exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable(WHAT, exc) from exc
        last = page.get("LastEvaluatedKey")
        return [plain(item) for item in page.get("Items", [])], encode_token(last) if last else None

    def active(self) -> list[JobItem]:
        return aws.scan_all(
            self.table, WHAT, FilterExpression=Attr("status").is_in(list(ACTIVE)), ConsistentRead=True
        )

    def fail_if_active(self, job_id: str, error: str) -> bool:
        return aws.apply(self.table, job_failed(job_id, iso_now(), error), WHAT)

    def request_cancel(self, job_id: str, requested_by: str) -> None:
        aws.apply(self.table, cancel_requested(job_id, iso_now(), requested_by), WHAT)

    def apply(self, change: Update) -> bool:
        return aws.apply(self.table, change, WHAT)


def encode_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(plain(key), sort_keys=True).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error) as exc:
        raise InvalidRequest("the next token is not one this API issued", "next") from exc
    allowed = {"jobId", "projectId", "createdAt", "kind"}
    if not isinstance(key, dict) or not key or not set(key) <= allowed:
        raise InvalidRequest("the next token is not one this API issued", "next")
    if not all(isinstance(v, (str, int)) for v in key.values()):
        raise InvalidRequest("the next token is not one this API issued", "next")
    return key


@cache
def job_store(table_name: str) -> JobStore:
    return DynamoJobStore(table_name)
