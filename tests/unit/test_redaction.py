"""Redaction: schema-marked, terraform-marked and declared-sensitive values never leave."""

from __future__ import annotations

import json
from typing import Any

from core.redaction import (
    SENSITIVE,
    Scrubber,
    SecretCollector,
    mask_outputs,
    redact_plan,
    redact_state,
    sensitive_paths_from_schema,
)

SCHEMA: dict[str, Any] = {
    "provider_schemas": {
        "registry.terraform.io/hashicorp/aws": {
            "resource_schemas": {
                "aws_db_instance": {
                    "block": {
                        "attributes": {
                            "password": {"type": "string", "sensitive": True},
                            "name": {"type": "string"},
                        }
                    }
                },
                "aws_instance": {
                    "block": {
                        "attributes": {"ami": {"type": "string"}},
                        "block_types": {
                            "ebs_block_device": {
                                "nesting_mode": "set",
                                "block": {
                                    "attributes": {"kms_key_id": {"type": "string", "sensitive": True}}
                                },
                            }
                        },
                    }
                },
                "aws_s3_bucket": {"block": {"attributes": {"bucket": {"type": "string"}}}},
            },
            "data_source_schemas": {
                "aws_secretsmanager_secret_version": {
                    "block": {"attributes": {"secret_string": {"type": "string", "sensitive": True}}}
                }
            },
        }
    }
}


def test_sensitive_paths_come_from_the_schema() -> None:
    paths = sensitive_paths_from_schema(SCHEMA)
    assert paths == {
        "aws_db_instance": [["password"]],
        "aws_instance": [["ebs_block_device", "*", "kms_key_id"]],
        "data.aws_secretsmanager_secret_version": [["secret_string"]],
    }


def test_state_redaction_covers_schema_marks_outputs_and_sensitive_attributes() -> None:
    # Given a state with a DB password, a nested sensitive attribute, a sensitive output
    # and a value terraform itself marked sensitive (from a sensitive variable)
    state: dict[str, Any] = {
        "version": 4,
        "serial": 3,
        "outputs": {"db_password": {"value": "hunter2-db", "type": "string", "sensitive": True}},
        "resources": [
            {
                "mode": "managed",
                "type": "aws_db_instance",
                "name": "db",
                "instances": [
                    {"attributes": {"password": "hunter2-db", "name": "app"}, "private": "b64secret"}
                ],
            },
            {
                "mode": "managed",
                "type": "aws_instance",
                "name": "vm",
                "instances": [
                    {"attributes": {"ami": "ami-1", "ebs_block_device": [{"kms_key_id": "kms-secret-1"}]}}
                ],
            },
            {
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "b",
                "instances": [
                    {
                        "attributes": {"bucket": "b", "tags": {"token": "tag-secret-9"}},
                        "sensitive_attributes": [[{"type": "get_attr", "value": "tags"}]],
                    }
                ],
            },
            {
                "mode": "data",
                "type": "aws_secretsmanager_secret_version",
                "name": "s",
                "instances": [{"attributes": {"secret_string": "sm-secret-5"}}],
            },
        ],
    }
    collector = SecretCollector()

    # When it is redacted
    redacted = redact_state(state, sensitive_paths_from_schema(SCHEMA), collector)

    # Then no secret remains, ordinary values do, and the input is untouched
    text = json.dumps(redacted)
    for secret in ("hunter2-db", "kms-secret-1", "tag-secret-9", "sm-secret-5", "b64secret"):
        assert secret not in text
    assert redacted["resources"][0]["instances"][0]["attributes"]["name"] == "app"
    assert redacted["resources"][1]["instances"][0]["attributes"]["ami"] == "ami-1"
    assert redacted["outputs"]["db_password"]["value"] == SENSITIVE
    assert state["resources"][0]["instances"][0]["attributes"]["password"] == "hunter2-db"
    assert {"hunter2-db", "kms-secret-1", "tag-secret-9", "sm-secret-5"} <= collector.values


def test_plan_redaction_scrubs_every_copy_of_a_secret() -> None:
    # Given a plan where the password also appears as a literal in the configuration section
    plan = {
        "variables": {"db_password": {"value": "var-secret-77"}, "size": {"value": "db.t3.micro"}},
        "configuration": {
            "root_module": {
                "variables": {"db_password": {"sensitive": True}, "size": {}},
                "resources": [{"expressions": {"password": {"constant_value": "literal-secret-3"}}}],
            }
        },
        "resource_changes": [
            {
                "address": "aws_db_instance.db",
                "mode": "managed",
                "type": "aws_db_instance",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": {
                        "password": "literal-secret-3",
                        "instance_class": "db.t3.micro",
                        "name": "var-secret-77",
                    },
                    "after_sensitive": {"name": True},
                },
            }
        ],
        "planned_values": {
            "root_module": {
                "resources": [
                    {
                        "type": "aws_db_instance",
                        "mode": "managed",
                        "values": {"password": "literal-secret-3", "instance_class": "db.t3.micro"},
                        "sensitive_values": {},
                    }
                ]
            }
        },
        "output_changes": {"pw": {"after": "literal-secret-3", "after_sensitive": True}},
    }

    redacted = redact_plan(plan, sensitive_paths_from_schema(SCHEMA))

    text = json.dumps(redacted)
    assert "literal-secret-3" not in text
    assert "var-secret-77" not in text
    # values the cost estimate needs stay
    assert redacted["resource_changes"][0]["change"]["after"]["instance_class"] == "db.t3.micro"
    assert redacted["variables"]["size"]["value"] == "db.t3.micro"


def test_outputs_are_masked_and_scrubber_removes_secrets_from_text() -> None:
    collector = SecretCollector()
    masked = mask_outputs(
        {
            "url": {"value": "https://x", "sensitive": False},
            "pw": {"value": "p@ss-word-1", "sensitive": True},
        },
        collector,
    )
    assert masked == {"url": "https://x", "pw": SENSITIVE}
    scrubber = Scrubber(collector.values)
    assert scrubber.scrub("connect with p@ss-word-1 now") == f"connect with {SENSITIVE} now"
    # short values are not scrubbed: they would eat ordinary words
    assert Scrubber(["on"]).scrub("turned on") == "turned on"
