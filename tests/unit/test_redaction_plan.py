"""The stored plan: credentials out of ``configuration``, and every secret collected for the logs."""

from __future__ import annotations

import json
from typing import Any

from core.redaction import SENSITIVE, Scrubber, copy_json, redact_plan, secrets_in_plan


def _plan() -> dict[str, Any]:
    """A ``show -json`` plan trimmed to the parts that matter, in terraform 1.11's shapes."""
    return {
        "format_version": "1.2",
        "variables": {
            "db_password": {"value": "Var-Db-Pass-1"},
            "region": {"value": "eu-west-1"},
        },
        "configuration": {
            "provider_config": {
                "aws": {
                    "name": "aws",
                    "full_name": "registry.terraform.io/hashicorp/aws",
                    "expressions": {
                        "region": {"references": ["var.region"]},
                        "access_key": {"constant_value": "Sandbox-Access-Key-2"},
                        "secret_key": {"constant_value": "Sandbox-Secret-Key-3"},
                        "token": {"constant_value": "Session-Token-4"},
                        "http_proxy": {"constant_value": "http://proxyuser:Proxy-Pass-5@proxy:3128"},
                        "skip_credentials_validation": {"constant_value": True},
                        "endpoints": [{"s3": {"constant_value": "http://127.0.0.1:4566"}}],
                        "assume_role": [
                            {
                                "role_arn": {"constant_value": "arn:aws:iam::1:role/Assumed-Role-6"},
                                "external_id": {"constant_value": "External-Id-7"},
                            }
                        ],
                        "default_tags": [{"tags": {"constant_value": {"Team": "team-visible"}}}],
                    },
                },
                "module.db:aws": {
                    "name": "aws",
                    "module_address": "module.db",
                    "expressions": {"secret_key": {"constant_value": "Module-Secret-Key-8"}},
                },
                "postgresql": {
                    "name": "postgresql",
                    "expressions": {
                        "host": {"constant_value": "db-host-visible"},
                        "password": {"constant_value": "Pg-Provider-Pass-9"},
                    },
                },
            },
            "root_module": {
                "variables": {
                    "db_password": {"default": "Default-Db-Pass-10", "sensitive": True},
                    "region": {"default": "eu-west-1"},
                },
                "outputs": {
                    "pw": {"sensitive": True, "expression": {"constant_value": "Output-Literal-11"}},
                    "name": {"expression": {"constant_value": "output-visible"}},
                },
                "resources": [
                    {
                        "address": "aws_db_instance.db",
                        "type": "aws_db_instance",
                        "expressions": {
                            "password": {"constant_value": "Literal-Db-Pass-12"},
                            "instance_class": {"constant_value": "db.t3.micro"},
                        },
                    },
                    {
                        "address": "aws_lambda_function.f",
                        "type": "aws_lambda_function",
                        "expressions": {
                            "environment": [
                                {
                                    "variables": {
                                        "constant_value": {
                                            "DB_PASSWORD": "Env-Literal-13",
                                            "MODE": "mode-visible",
                                        }
                                    }
                                }
                            ]
                        },
                    },
                ],
                "module_calls": {
                    "db": {
                        "source": "./db",
                        "expressions": {
                            "admin_secret": {"constant_value": "Module-Arg-14"},
                            "pin": {"constant_value": "Module-Sensitive-Arg-15"},
                            "size": {"constant_value": "size-visible"},
                        },
                        "module": {
                            "variables": {
                                "pin": {"sensitive": True},
                                "admin_secret": {},
                                "size": {},
                                "seed": {"default": "Child-Default-16", "sensitive": True},
                            }
                        },
                    }
                },
            },
        },
        "resource_changes": [
            {
                "address": "data.aws_secretsmanager_secret_version.read",
                "mode": "data",
                "type": "aws_secretsmanager_secret_version",
                "change": {
                    "actions": ["read"],
                    "after": {"secret_string": "Data-Secret-17", "version_stages": ["AWSCURRENT"]},
                    "after_sensitive": {"secret_binary": True, "secret_string": True, "version_stages": []},
                },
            },
            {
                "address": "aws_db_instance.db",
                "mode": "managed",
                "type": "aws_db_instance",
                "change": {
                    "actions": ["create"],
                    "after": {"password": "Literal-Db-Pass-12", "instance_class": "db.t3.micro"},
                    "after_sensitive": {"password": True},
                },
            },
        ],
        "resource_drift": [
            {
                "address": "null_resource.r",
                "mode": "managed",
                "type": "null_resource",
                "change": {
                    "actions": ["update"],
                    "before": {"triggers": {"x": "Drift-Before-18"}},
                    "after": {"triggers": {"x": "Drift-After-19"}},
                    "before_sensitive": {"triggers": {"x": True}},
                    "after_sensitive": {"triggers": {"x": True}},
                },
            }
        ],
    }


SECRETS = [
    "Var-Db-Pass-1",
    "Sandbox-Access-Key-2",
    "Sandbox-Secret-Key-3",
    "Session-Token-4",
    "Proxy-Pass-5",
    "Assumed-Role-6",
    "External-Id-7",
    "Module-Secret-Key-8",
    "Pg-Provider-Pass-9",
    "Default-Db-Pass-10",
    "Output-Literal-11",
    "Literal-Db-Pass-12",
    "Env-Literal-13",
    "Module-Arg-14",
    "Module-Sensitive-Arg-15",
    "Child-Default-16",
    "Data-Secret-17",
    "Drift-Before-18",
    "Drift-After-19",
]
VISIBLE = [
    "eu-west-1",
    "http://127.0.0.1:4566",
    "team-visible",
    "db-host-visible",
    "output-visible",
    "db.t3.micro",
    "mode-visible",
    "size-visible",
    "AWSCURRENT",
    "var.region",
]


def test_configuration_credentials_and_sensitive_literals_are_replaced() -> None:
    plan = _plan()

    redacted = redact_plan(plan, {})

    text = json.dumps(redacted)
    assert [s for s in SECRETS if s in text] == []
    assert [v for v in VISIBLE if v not in text] == []
    aws = redacted["configuration"]["provider_config"]["aws"]["expressions"]
    assert aws["access_key"] == {"constant_value": SENSITIVE}
    assert aws["region"] == {"references": ["var.region"]}  # references are names, not values
    assert aws["skip_credentials_validation"] == {"constant_value": True}
    assert redacted["configuration"]["root_module"]["variables"]["db_password"]["default"] == SENSITIVE
    # and the input is untouched
    assert plan["configuration"]["provider_config"]["aws"]["expressions"]["access_key"]["constant_value"] == (
        "Sandbox-Access-Key-2"
    )


def test_secrets_in_plan_gives_the_scrubber_every_secret_before_apply_streams() -> None:
    found = secrets_in_plan(_plan())

    # (the proxy URL and the role ARN are collected whole)
    assert [s for s in SECRETS if not any(s in value for value in found)] == []
    assert [v for v in VISIBLE if any(v in value for value in found)] == []
    scrubber = Scrubber(found)
    line = 'aws_db_instance.db: error: password "Literal-Db-Pass-12" rejected; read Data-Secret-17'
    assert "Literal-Db-Pass-12" not in scrubber.scrub(line)
    assert "Data-Secret-17" not in scrubber.scrub(line)
    assert "aws_db_instance.db" in scrubber.scrub(line)


def test_schema_paths_add_to_secrets_in_plan() -> None:
    plan: dict[str, Any] = {
        "resource_changes": [
            {
                "address": "aws_ssm_parameter.p",
                "mode": "managed",
                "type": "aws_ssm_parameter",
                "change": {"actions": ["create"], "after": {"value": "Schema-Only-20", "name": "/p"}},
            }
        ]
    }
    # terraform 1.0 marks schema-sensitive values nowhere in the plan: only the schema knows
    assert secrets_in_plan(plan) == set()
    assert secrets_in_plan(plan, {"aws_ssm_parameter": [["value"]]}) == {"Schema-Only-20"}


def test_the_copy_redaction_works_on_shares_nothing_with_the_original() -> None:
    inner = {"password": "p", "tags": ["a"]}
    original: dict[str, Any] = {"one": inner, "two": inner, "n": 1.5, "odd": ("t", {"x": 1}), "none": None}
    copied = copy_json(original)
    assert copied == original
    assert copied["one"] is not inner and copied["two"] is not inner
    assert copied["one"]["tags"] is not inner["tags"]
    assert copied["odd"][1] is not original["odd"][1]  # not JSON: deep-copied all the same
