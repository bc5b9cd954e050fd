"""boto3 clients, created once per container and shared by the stores (warm invocations reuse them)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from functions.models.exceptions import StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource
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


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def unavailable(what: str, exc: ClientError | BotoCoreError) -> StoreUnavailable:
    """An SDK failure the retries did not cure, as the domain error clients see as 503."""
    detail = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    return StoreUnavailable(f"{what} is unavailable right now ({detail}); try again")
