"""Terraform variables live in Secrets Manager, one secret per project: they are often secrets."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from core.records import SECRET_NAME_PREFIX
from functions.dal import aws


def secret_name(project_id: str) -> str:
    return f"{SECRET_NAME_PREFIX}{project_id}/variables"


class VariableStore(ABC):
    @abstractmethod
    def save(self, project_id: str, variables: dict[str, Any]) -> dict[str, str]:
        """Store a new version; returns the reference a job keeps ({secretId, versionId})."""

    @abstractmethod
    def load(self, reference: dict[str, str]) -> dict[str, Any]: ...


class SecretsManagerVariableStore(VariableStore):
    def __init__(self, kms_key_id: str | None) -> None:
        self.kms_key_id = kms_key_id
        self.client = aws.secretsmanager()

    def save(self, project_id: str, variables: dict[str, Any]) -> dict[str, str]:
        name = secret_name(project_id)
        payload = json.dumps(variables)
        try:
            try:
                response = self.client.put_secret_value(SecretId=name, SecretString=payload)
            except ClientError as exc:
                if aws.error_code(exc) != "ResourceNotFoundException":
                    raise
                arguments: dict[str, Any] = {
                    "Name": name,
                    "SecretString": payload,
                    "Description": f"Terraform variables of project {project_id}",
                    "Tags": [{"Key": "ManagedBy", "Value": "terraform-provisioner"}],
                }
                if self.kms_key_id:
                    arguments["KmsKeyId"] = self.kms_key_id
                created = self.client.create_secret(**arguments)
                return {"secretId": created["ARN"], "versionId": created["VersionId"]}
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the variables store", exc) from exc
        return {"secretId": response["ARN"], "versionId": response["VersionId"]}

    def load(self, reference: dict[str, str]) -> dict[str, Any]:
        try:
            secret = self.client.get_secret_value(
                SecretId=reference["secretId"], VersionId=reference["versionId"]
            )
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("the variables store", exc) from exc
        values = json.loads(secret.get("SecretString") or "{}")
        return values if isinstance(values, dict) else {}


@cache
def variable_store(kms_key_id: str | None) -> VariableStore:
    return SecretsManagerVariableStore(kms_key_id)
