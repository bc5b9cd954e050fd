"""A state bucket and a lock table in moto, in the test's process, for the stores that read both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest
from moto import mock_aws

from functions.dal import aws


@contextmanager
def state_bucket_and_lock_table(monkeypatch: pytest.MonkeyPatch, bucket: str, table: str) -> Iterator[None]:
    """A versioned bucket (as the install's state bucket is) and a ``LockID``-keyed table.

    Only for modules that never touch the session's emulator: leaving mock_aws empties moto's
    backends, the emulator's too (tests/conftest.py runs such modules first)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        aws.s3.cache_clear()
        aws.dynamodb.cache_clear()
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        boto3.client("dynamodb").create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield
        aws.s3.cache_clear()
        aws.dynamodb.cache_clear()
