"""Explicit IAM statements: every action named, every resource as narrow as the API allows.

CDK's ``grant*`` helpers add wildcard actions (``s3:GetObject*``, ``kms:ReEncrypt*``); these
helpers write exactly what the code calls, so the policy reads as a list of what each role does.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

ITEM_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
ITEM_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
KMS_READ = ("kms:Decrypt", "kms:DescribeKey")
KMS_WRITE = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")


def allow(
    principal: iam.IGrantable,
    actions: Sequence[str],
    resources: Sequence[str],
    conditions: dict[str, dict[str, object]] | None = None,
) -> None:
    principal.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=list(actions), resources=list(resources), conditions=conditions)
    )


def allow_items(
    principal: iam.IGrantable,
    table: dynamodb.ITable,
    actions: Sequence[str],
    indexes: Sequence[str] = (),
) -> None:
    """Item-level access to a table; ``indexes`` adds Query on each named index."""
    resources = [table.table_arn]
    if indexes:
        resources += [f"{table.table_arn}/index/{name}" for name in indexes]
    allow(principal, actions, resources)


def allow_objects(
    principal: iam.IGrantable,
    bucket: s3.IBucket,
    actions: Sequence[str],
    prefixes: Sequence[str],
    *,
    list_prefixes: bool = False,
) -> None:
    """Object access under key prefixes; ``list_prefixes`` lets the principal list those prefixes only.

    Listing also turns a missing key into NoSuchKey instead of AccessDenied.
    """
    allow(principal, actions, [bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes])
    if list_prefixes:
        allow(
            principal,
            ["s3:ListBucket"],
            [bucket.bucket_arn],
            {"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in prefixes]}},
        )


def allow_key(principal: iam.IGrantable, key: kms.IKey, actions: Sequence[str], via: Sequence[str]) -> None:
    """Use of the service key, only through the named services (s3, dynamodb, secretsmanager)."""
    region = Stack.of(key).region
    allow(
        principal,
        actions,
        [key.key_arn],
        {"StringEquals": {"kms:ViaService": [f"{service}.{region}.amazonaws.com" for service in via]}},
    )


def secret_arn(stack: Stack, prefix: str) -> str:
    """Secrets named ``<prefix>...``; Secrets Manager appends a random suffix to every ARN."""
    return stack.format_arn(
        service="secretsmanager",
        resource="secret",
        resource_name=f"{prefix}*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
