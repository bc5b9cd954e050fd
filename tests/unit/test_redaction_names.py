"""Secret names, in any case and spelling, hide their values; names about a secret do not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.redaction import (
    SENSITIVE,
    Scrubber,
    SecretCollector,
    is_secret_name,
    mask_outputs,
    redact_plan,
    redact_state,
    secrets_in_variables,
)

SECRET_NAMES = [
    "password",
    "DB_PASSWORD",
    "Password",
    "PGPASSWORD",
    "DBPassword",
    "db_pass",
    "db-pwd",
    "apiToken",
    "GITHUB_TOKEN",
    "refresh_token",
    "client-secret",
    "client.secret",
    "secrets",
    "secret_string",
    "secret_key",
    "AWS_SECRET_ACCESS_KEY",
    "access_key",
    "api_key",
    "x-api-key",
    "APIKEY",
    "private_key",
    "private_key_pem",
    "passphrase",
    "credentials",
    "ses_smtp_password_v4",
    "password_wo",
    "Password_Hash",
    "connection_string",
]
NOT_SECRET_NAMES = [
    "password_length",
    "min_password_length",
    "password_reset_required",
    "password_last_used",
    "password_wo_version",
    "token_type",
    "token_url",
    "tokenization",
    "secret_id",
    "secret_arn",
    "secret_name",
    "secret_version_id",
    "AWS_ACCESS_KEY_ID",
    "kms_key_id",
    "public_key",
    "hash_key",
    "key",
    "LOG_LEVEL",
    "shared_credentials_file",
    "bypass",
    "compass",
    "description",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", NOT_SECRET_NAMES)
def test_names_about_a_secret_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_state_map_keys_anywhere_are_redacted_by_name_in_any_case() -> None:
    # Given values no schema or terraform mark covers, keyed by secret names at every depth
    state: dict[str, Any] = {
        "version": 4,
        "outputs": {
            "api_token": {"value": "Named-Output-1", "type": "string"},
            "config": {"value": {"Password": "Output-Map-2", "host": "host-visible"}, "type": "dynamic"},
        },
        "resources": [
            {
                "mode": "managed",
                "type": "aws_ecs_task_definition",
                "name": "t",
                "instances": [
                    {
                        "attributes": {
                            "family": "family-visible",
                            "tags": {"DB_PASSWORD": "Tag-Secret-3", "Team": "team-visible"},
                            "environment": [
                                {"name": "API_TOKEN", "value": "Pair-Secret-4"},
                                {"name": "LOG_LEVEL", "value": "debug-visible"},
                            ],
                            "nested": {"deeper": {"clientSecret": "Deep-Secret-5"}},
                            "tokens": ["List-Secret-6", "List-Secret-7"],
                            "password_length": 24,
                            "token_type": "Bearer-visible",
                            "secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:x-visible",
                            "master_user_secret": [
                                {"secret_arn": "arn-inner-visible", "kms_key_id": "kms-visible"}
                            ],
                            "password_reset_required": True,
                        }
                    }
                ],
            }
        ],
    }
    collector = SecretCollector()

    redacted = redact_state(state, {}, collector)

    text = json.dumps(redacted)
    secrets = ["Named-Output-1", "Output-Map-2", "Tag-Secret-3", "Pair-Secret-4", "Deep-Secret-5"]
    secrets += ["List-Secret-6", "List-Secret-7"]
    assert [s for s in secrets if s in text] == []
    assert set(secrets) <= collector.values
    for visible in (
        "host-visible",
        "family-visible",
        "team-visible",
        "debug-visible",
        "Bearer-visible",
        "x-visible",
        "arn-inner-visible",
        "kms-visible",
    ):
        assert visible in text
    attributes = redacted["resources"][0]["instances"][0]["attributes"]
    assert attributes["password_length"] == 24
    assert attributes["password_reset_required"] is True


def test_plan_secret_named_variable_is_hidden_with_every_copy() -> None:
    # Given a variable named as a secret but not declared sensitive: terraform marks nothing
    plan: dict[str, Any] = {
        "variables": {
            "api_token": {"value": "Unmarked-Token-9"},
            "token_type": {"value": "bearer-visible"},
            "settings": {"value": {"db": {"Password": "Nested-Var-Pw-8"}, "tier": "tier-visible"}},
        },
        "configuration": {"root_module": {"variables": {"api_token": {}, "token_type": {}, "settings": {}}}},
        "resource_changes": [
            {
                "address": "null_resource.r",
                "mode": "managed",
                "type": "null_resource",
                "change": {
                    "actions": ["create"],
                    "after": {"triggers": {"header": "Unmarked-Token-9", "kind": "bearer-visible"}},
                    "after_sensitive": {"triggers": {}},
                },
            }
        ],
    }
    collector = SecretCollector()

    redacted = redact_plan(plan, {}, collector)

    assert "Unmarked-Token-9" not in json.dumps(redacted)
    assert "Nested-Var-Pw-8" not in json.dumps(redacted)
    assert redacted["variables"]["settings"]["value"]["tier"] == "tier-visible"
    assert redacted["variables"]["token_type"]["value"] == "bearer-visible"
    assert redacted["resource_changes"][0]["change"]["after"]["triggers"]["kind"] == "bearer-visible"
    assert "Unmarked-Token-9" in collector.values


def test_outputs_by_name_and_nested_keys() -> None:
    collector = SecretCollector()
    masked = mask_outputs(
        {
            "db_password": {"value": "Named-Output-Pw", "sensitive": False},
            "settings": {"value": {"apiKey": "Nested-Key-1", "region": "us-east-1"}, "sensitive": False},
            "password_length": {"value": 20, "sensitive": False},
        },
        collector,
    )
    assert masked == {
        "db_password": SENSITIVE,
        "settings": {"apiKey": SENSITIVE, "region": "us-east-1"},
        "password_length": 20,
    }
    assert {"Named-Output-Pw", "Nested-Key-1"} <= collector.values


def test_variables_for_the_scrubber() -> None:
    found = secrets_in_variables(
        {
            "db_password": "Var-Pass-1",
            "size": "db.t3.micro",
            "settings": {"Token": "Var-Token-2", "tier": "gold"},
            "declared": "Declared-Secret-3",
        },
        sensitive=["declared"],
    )
    assert found == {"Var-Pass-1", "Var-Token-2", "Declared-Secret-3"}
    scrubber = Scrubber(found)
    assert scrubber.scrub("auth Var-Token-2 on db.t3.micro") == f"auth {SENSITIVE} on db.t3.micro"


def test_json_secret_fields_are_collected_for_logs() -> None:
    # secret_string is often JSON; a log line may quote one field of it
    collector = SecretCollector()
    collector.add('{"username": "app", "password": "Json-Field-Pw-1"}')
    assert "Json-Field-Pw-1" in collector.values
    assert "app" not in collector.values
