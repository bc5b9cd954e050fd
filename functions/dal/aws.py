"""boto3 clients, created once per container and shared by the stores (warm invocations reuse them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.items import plain
from core.transitions import Delete, Update
from functions.models.exceptions import StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource, Table
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_secretsmanager.client import SecretsManagerClient
    from mypy_boto3_stepfunctions.client import SFNClient

# Standard mode retries throttling with backoff; a handler answers within API Gateway's 29 s.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=50,
    user_agent_extra="provisioner-api",
)


@cache
def dynamodb() -> DynamoDBServiceResource:
    return boto3.resource("dynamodb", config=CLIENT_CONFIG)


@cache
def s3() -> S3Client:
    return boto3.client("s3", config=CLIENT_CONFIG)


@cache
def secretsmanager() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=CLIENT_CONFIG)


@cache
def stepfunctions() -> SFNClient:
    return boto3.client("stepfunctions", config=CLIENT_CONFIG)


@cache
def lambda_client() -> Any:
    """Lambda (untyped: its stubs are not among the dependencies)."""
    return boto3.client("lambda", config=CLIENT_CONFIG)


@cache
def scheduler() -> Any:
    """EventBridge Scheduler (untyped: its stubs are not among the dependencies)."""
    return boto3.client("scheduler", config=CLIENT_CONFIG)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def unavailable(what: str, exc: ClientError | BotoCoreError) -> StoreUnavailable:
    """An SDK failure the retries did not cure, as the domain error clients see as 503."""
    detail = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    return StoreUnavailable(f"{what} is unavailable right now ({detail}); try again")


CONDITION_FAILED = "ConditionalCheckFailedException"


@contextmanager
def translated(what: str) -> Iterator[None]:
    """The one place an SDK failure of a data layer becomes the domain's 503."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise unavailable(what, exc) from exc


def apply(table: Table, change: Update | Delete, what: str) -> bool:
    """Execute a transition; False when its condition did not hold (nothing was written)."""
    if isinstance(change, Update):
        return _written(what, lambda: table.update_item(**change.arguments()))
    return _written(what, lambda: table.delete_item(**change.arguments()))


def put_if(table: Table, item: dict[str, Any], what: str, **condition: Any) -> bool:
    """Put an item on a condition; False when the condition did not hold (nothing was written)."""
    return _written(what, lambda: table.put_item(Item=item, **condition))


def _written(what: str, write: Callable[[], object]) -> bool:
    try:
        write()
    except ClientError as exc:
        if error_code(exc) == CONDITION_FAILED:
            return False
        raise unavailable(what, exc) from exc
    except BotoCoreError as exc:
        raise unavailable(what, exc) from exc
    return True


def scan_all(table: Table, what: str, **arguments: Any) -> list[dict[str, Any]]:
    """Every item a scan finds, page after page, numbers made plain."""
    items: list[dict[str, Any]] = []
    with translated(what):
        while True:
            page = table.scan(**arguments)
            items += [plain(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def get_item(table: Table, key: dict[str, str], what: str, **arguments: Any) -> dict[str, Any] | None:
    with translated(what):
        item = table.get_item(Key=key, ConsistentRead=True, **arguments).get("Item")
    return plain(item) if item else None
