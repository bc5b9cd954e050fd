"""Job records in DynamoDB: one item per job, indexes by project and by creation time."""

from __future__ import annotations

import base64
import binascii
import json
from abc import ABC, abstractmethod
from decimal import Decimal
from functools import cache
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import BotoCoreError, ClientError

from core.records import JOBS_BY_CREATION_INDEX, JOBS_BY_PROJECT_INDEX, JobStatus, iso_now
from functions.dal import aws
from functions.models.exceptions import InvalidRequest

JobItem = dict[str, Any]
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
)


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
        self, project_id: str | None, limit: int, token: str | None
    ) -> tuple[list[JobItem], str | None]: ...

    @abstractmethod
    def active(self) -> list[JobItem]:
        """Every job still pending or processing."""

    @abstractmethod
    def fail_if_active(self, job_id: str, error: str) -> bool:
        """Mark a pending or processing job failed; False if it had already ended."""

    @abstractmethod
    def request_cancel(self, job_id: str, requested_by: str) -> None: ...


class DynamoJobStore(JobStore):
    def __init__(self, table_name: str) -> None:
        self.table = aws.dynamodb().Table(table_name)

    def get(self, job_id: str) -> JobItem | None:
        try:
            item = self.table.get_item(Key={"jobId": job_id}, ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the job table", exc) from exc
        return plain(item) if item else None

    def view(self, job_id: str) -> JobItem | None:
        names = {f"#{name}": name for name in VIEW_FIELDS}
        try:
            item = self.table.get_item(
                Key={"jobId": job_id},
                ConsistentRead=True,
                ProjectionExpression=", ".join(names),
                ExpressionAttributeNames=names,
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the job table", exc) from exc
        return plain(item) if item else None

    def create(self, item: JobItem) -> None:
        try:
            self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(jobId)")
        except ClientError as exc:
            existing = (
                self.get(str(item["jobId"]))
                if aws.error_code(exc) == "ConditionalCheckFailedException"
                else None
            )
            # A retried write whose first attempt went through: the record is there, as intended.
            if existing is None or existing.get("projectId") != item.get("projectId"):
                raise aws.unavailable("the job table", exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable("the job table", exc) from exc

    def page(self, project_id: str | None, limit: int, token: str | None) -> tuple[list[JobItem], str | None]:
        arguments: dict[str, Any] = {"Limit": limit, "ScanIndexForward": False}
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
            raise aws.unavailable("the job table", exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable("the job table", exc) from exc
        last = page.get("LastEvaluatedKey")
        return [plain(item) for item in page.get("Items", [])], encode_token(last) if last else None

    def active(self) -> list[JobItem]:
        items: list[JobItem] = []
        arguments: dict[str, Any] = {
            "FilterExpression": Attr("status").is_in([JobStatus.PENDING.value, JobStatus.PROCESSING.value]),
            "ConsistentRead": True,
        }
        try:
            while True:
                page = self.table.scan(**arguments)
                items += [plain(item) for item in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    return items
                arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the job table", exc) from exc

    def fail_if_active(self, job_id: str, error: str) -> bool:
        now = iso_now()
        try:
            self.table.update_item(
                Key={"jobId": job_id},
                UpdateExpression="SET #status = :failed, #error = :error, resultMessage = :error, "
                "endTime = :now, updatedAt = :now",
                ConditionExpression="#status IN (:pending, :processing)",
                ExpressionAttributeNames={"#status": "status", "#error": "error"},
                ExpressionAttributeValues={
                    ":failed": JobStatus.FAILED.value,
                    ":pending": JobStatus.PENDING.value,
                    ":processing": JobStatus.PROCESSING.value,
                    ":error": error,
                    ":now": now,
                },
            )
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise aws.unavailable("the job table", exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable("the job table", exc) from exc
        return True

    def request_cancel(self, job_id: str, requested_by: str) -> None:
        try:
            self.table.update_item(
                Key={"jobId": job_id},
                UpdateExpression="SET cancelRequestedAt = :now, cancelRequestedBy = :who, updatedAt = :now",
                ExpressionAttributeValues={":now": iso_now(), ":who": requested_by},
            )
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the job table", exc) from exc


def plain(item: Any) -> Any:
    """DynamoDB numbers come back as Decimal; give the rest of the code ints and floats."""
    if isinstance(item, dict):
        return {key: plain(value) for key, value in item.items()}
    if isinstance(item, list):
        return [plain(value) for value in item]
    if isinstance(item, Decimal):
        return int(item) if item == item.to_integral_value() else float(item)
    return item


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
