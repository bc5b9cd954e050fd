"""Sensitive paths as terraform writes them: state steps, plan mark trees, schema nesting modes.

The shapes below are copied from real output of terraform 1.0.3 and 1.11.4 (both write the same
``sensitive_attributes`` steps; 1.11 also lists schema-sensitive attributes there, 1.0 does not).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.redaction import (
    SENSITIVE,
    SecretCollector,
    redact_plan,
    redact_state,
    secrets_in_state,
    sensitive_paths_from_schema,
    state_path_steps,
)


def _state(resource_type: str, attributes: dict[str, Any], sensitive: list[Any]) -> dict[str, Any]:
    return {
        "version": 4,
        "resources": [
            {
                "mode": "managed",
                "type": resource_type,
                "name": "r",
                "instances": [{"attributes": attributes, "sensitive_attributes": sensitive}],
            }
        ],
    }


def _attributes(redacted: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = redacted["resources"][0]["instances"][0]["attributes"]
    return attributes


def test_map_key_step_with_typed_index_value_is_followed() -> None:
    # Given null_resource triggers = { password = var.secret, visible = var.plain } (both versions)
    state = _state(
        "null_resource",
        {"id": "1", "triggers": {"password": "Null-Secret-1", "visible": "plain-visible"}},
        [
            [
                {"type": "get_attr", "value": "triggers"},
                {"type": "index", "value": {"value": "password", "type": "string"}},
            ]
        ],
    )
    collector = SecretCollector()

    redacted = redact_state(state, {}, collector)

    assert _attributes(redacted)["triggers"] == {"password": SENSITIVE, "visible": "plain-visible"}
    assert collector.values == {"Null-Secret-1"}


def test_lambda_environment_through_block_index_and_map_key() -> None:
    # Given aws_lambda_function environment { variables = { DB_PASSWORD = var.db_password } }
    state = _state(
        "aws_lambda_function",
        {
            "function_name": "fn",
            "environment": [{"variables": {"DB_PASSWORD": "Db-Pass-77", "LOG_LEVEL": "debug-visible"}}],
        },
        [
            [
                {"type": "get_attr", "value": "environment"},
                {"type": "index", "value": {"value": 0, "type": "number"}},
                {"type": "get_attr", "value": "variables"},
                {"type": "index", "value": {"value": "DB_PASSWORD", "type": "string"}},
            ]
        ],
    )

    redacted = redact_state(state, {}, None)

    variables = _attributes(redacted)["environment"][0]["variables"]
    assert variables == {"DB_PASSWORD": SENSITIVE, "LOG_LEVEL": "debug-visible"}


def test_dynamic_value_wrapper_is_looked_through_and_unmarked_copies_are_scrubbed() -> None:
    # Given terraform_data input with sensitive() inside; raw state wraps dynamic values as
    # {"value", "type"} and terraform does not mark the copy in `output`
    value = {
        "list": ["first-visible", "Data-List-3"],
        "map": {"a": "map-visible", "b": "Data-Map-4"},
        "nested": {"deep": "Data-Deep-2", "shown": "shown-visible"},
    }
    kind = [
        "object",
        {
            "list": ["tuple", ["string", "string"]],
            "map": ["map", "string"],
            "nested": ["object", {"deep": "string", "shown": "string"}],
        },
    ]
    state = _state(
        "terraform_data",
        {
            "id": "x",
            "input": {"value": json.loads(json.dumps(value)), "type": kind},
            "output": {"value": json.loads(json.dumps(value)), "type": kind},
        },
        [
            [
                {"type": "get_attr", "value": "input"},
                {"type": "get_attr", "value": "nested"},
                {"type": "get_attr", "value": "deep"},
            ],
            [
                {"type": "get_attr", "value": "input"},
                {"type": "get_attr", "value": "list"},
                {"type": "index", "value": {"value": 1, "type": "number"}},
            ],
            [
                {"type": "get_attr", "value": "input"},
                {"type": "get_attr", "value": "map"},
                {"type": "index", "value": {"value": "b", "type": "string"}},
            ],
        ],
    )

    redacted = redact_state(state, {}, None)

    text = json.dumps(redacted)
    for secret in ("Data-List-3", "Data-Map-4", "Data-Deep-2"):
        assert secret not in text
    for visible in ("first-visible", "map-visible", "shown-visible"):
        assert visible in text
    # the type stays a type: its "string" names are not mistaken for values
    assert _attributes(redacted)["input"]["type"] == kind
    assert _attributes(redacted)["input"]["value"]["nested"] == {"deep": SENSITIVE, "shown": "shown-visible"}


def test_whole_dynamic_value_marked() -> None:
    state = _state(
        "terraform_data",
        {"input": {"value": {"a": "Whole-Secret-5"}, "type": ["object", {"a": "string"}]}},
        [[{"type": "get_attr", "value": "input"}]],
    )
    assert _attributes(redact_state(state, {}, None))["input"] == SENSITIVE


def test_set_element_step_keyed_by_the_element_itself() -> None:
    # Given a set of blocks with a value marked in one element: terraform keys the index step by
    # the element itself, so sensitive_attributes holds the value too
    element = {"username": "admin", "code": "Set-Element-Code-1", "groups": []}
    other = {"username": "ops", "code": "other-code-visible", "groups": []}
    state = _state(
        "example_broker",
        {"user": [dict(element), dict(other)]},
        [
            [
                {"type": "get_attr", "value": "user"},
                {
                    "type": "index",
                    "value": {
                        "value": dict(element),
                        "type": [
                            "object",
                            {"username": "string", "code": "string", "groups": ["set", "string"]},
                        ],
                    },
                },
                {"type": "get_attr", "value": "code"},
            ]
        ],
    )

    redacted = redact_state(state, {}, None)

    users = _attributes(redacted)["user"]
    assert users[0]["code"] == SENSITIVE
    # only the element the step names
    assert users[1]["code"] == "other-code-visible"
    assert "Set-Element-Code-1" not in json.dumps(redacted)  # nor in the set key of the step


def test_set_element_that_matches_no_key_hides_the_path_in_every_element() -> None:
    state = _state(
        "example_broker",
        {"user": [{"code": "Code-A-1"}, {"code": "Code-B-2"}]},
        [
            [
                {"type": "get_attr", "value": "user"},
                {
                    "type": "index",
                    "value": {"value": {"code": "changed"}, "type": ["object", {"code": "string"}]},
                },
                {"type": "get_attr", "value": "code"},
            ]
        ],
    )
    assert _attributes(redact_state(state, {}, None))["user"] == [{"code": SENSITIVE}, {"code": SENSITIVE}]


@pytest.mark.parametrize(
    "raw",
    [
        # bare keys, as older tools and hand-written states have them
        [{"type": "get_attr", "value": "tags"}, {"type": "index", "value": "Owner"}],
        ["tags", "Owner"],
    ],
)
def test_bare_index_forms(raw: list[Any]) -> None:
    state = _state("aws_s3_bucket", {"tags": {"Owner": "Bare-Key-Secret", "Team": "team-visible"}}, [raw])
    assert _attributes(redact_state(state, {}, None))["tags"] == {"Owner": SENSITIVE, "Team": "team-visible"}


def test_steps_that_cannot_be_followed_hide_what_they_reach() -> None:
    # An unknown step type: hide the nearest value rather than leave a secret behind it.
    state = _state(
        "aws_s3_bucket",
        {"tags": {"Owner": "Odd-Step-Secret"}, "bucket": "b-visible"},
        [[{"type": "get_attr", "value": "tags"}, {"type": "slice", "value": [0, 1]}]],
    )
    redacted = _attributes(redact_state(state, {}, None))
    assert redacted["tags"] == SENSITIVE
    assert redacted["bucket"] == "b-visible"
    # a flat string path hides its top-level attribute
    assert state_path_steps("tags.Owner") == [("name", "tags")]


def test_index_out_of_range_or_missing_key_changes_nothing() -> None:
    state = _state(
        "aws_s3_bucket",
        {"tags": {"Owner": "kept-visible"}, "list": ["a-visible"]},
        [
            [
                {"type": "get_attr", "value": "tags"},
                {"type": "index", "value": {"value": "Nope", "type": "string"}},
            ],
            [
                {"type": "get_attr", "value": "list"},
                {"type": "index", "value": {"value": 5, "type": "number"}},
            ],
        ],
    )
    assert _attributes(redact_state(state, {}, None)) == {
        "tags": {"Owner": "kept-visible"},
        "list": ["a-visible"],
    }


NESTED_SCHEMA: dict[str, Any] = {
    "provider_schemas": {
        "example/p": {
            "resource_schemas": {
                "p_thing": {
                    "block": {
                        "attributes": {
                            "name": {"type": "string"},
                            "blob": {"type": "dynamic", "sensitive": True},
                            "conn": {
                                "nested_type": {
                                    "nesting_mode": "list",
                                    "attributes": {
                                        "host": {"type": "string"},
                                        "pw": {"type": "string", "sensitive": True},
                                    },
                                }
                            },
                        },
                        "block_types": {
                            "single": {
                                "nesting_mode": "single",
                                "block": {"attributes": {"s": {"type": "string", "sensitive": True}}},
                            },
                            "group": {
                                "nesting_mode": "group",
                                "block": {"attributes": {"g": {"type": "string", "sensitive": True}}},
                            },
                            "listed": {
                                "nesting_mode": "list",
                                "block": {
                                    "block_types": {
                                        "inner": {
                                            "nesting_mode": "set",
                                            "block": {
                                                "attributes": {"k": {"type": "string", "sensitive": True}}
                                            },
                                        }
                                    }
                                },
                            },
                            "mapped": {
                                "nesting_mode": "map",
                                "block": {"attributes": {"m": {"type": "string", "sensitive": True}}},
                            },
                        },
                    }
                }
            }
        }
    }
}


def test_schema_paths_through_every_nesting_mode() -> None:
    paths = sensitive_paths_from_schema(NESTED_SCHEMA)["p_thing"]
    assert sorted(paths) == sorted(
        [
            ["blob"],
            ["conn", "*", "pw"],
            ["single", "s"],
            ["group", "g"],
            ["listed", "*", "inner", "*", "k"],
            ["mapped", "*", "m"],
        ]
    )
    attributes = {
        "name": "thing-visible",
        "blob": {"value": {"x": "Blob-Secret"}, "type": ["object", {"x": "string"}]},
        "conn": [{"host": "host-visible", "pw": "Conn-Secret"}],
        "single": {"s": "Single-Secret"},
        "group": {"g": "Group-Secret"},
        "listed": [{"inner": [{"k": "Inner-Secret-1"}, {"k": "Inner-Secret-2"}]}],
        "mapped": {"one": {"m": "Mapped-Secret-1"}, "two": {"m": "Mapped-Secret-2"}},
    }
    collector = SecretCollector()

    redacted = redact_state(_state("p_thing", attributes, []), {"p_thing": paths}, collector)

    text = json.dumps(redacted)
    assert "Secret" not in text
    assert "thing-visible" in text and "host-visible" in text
    assert len(collector.values) == 8


def test_schema_paths_apply_to_plan_values_too() -> None:
    paths = sensitive_paths_from_schema(NESTED_SCHEMA)
    plan = {
        "resource_changes": [
            {
                "type": "p_thing",
                "mode": "managed",
                "change": {
                    "after": {"name": "n-visible", "mapped": {"one": {"m": "Plan-Mapped-Secret"}}},
                    "after_sensitive": {},
                },
            }
        ]
    }
    text = json.dumps(redact_plan(plan, paths))
    assert "Plan-Mapped-Secret" not in text
    assert "n-visible" in text


def test_plan_mark_trees_through_lists_maps_and_dynamic_objects() -> None:
    # The shape terraform 1.11.4 gives for terraform_data with sensitive() inside its input
    after = {
        "input": {
            "list": ["first-visible", "Plan-List-3"],
            "map": {"a": "map-visible", "b": "Plan-Map-4"},
            "name": "Plan-Name-1",
            "nested": {"deep": "Plan-Deep-2", "shown": "shown-visible"},
        },
        "triggers_replace": None,
    }
    plan = {
        "resource_changes": [
            {
                "address": "terraform_data.d",
                "type": "terraform_data",
                "mode": "managed",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": after,
                    "before_sensitive": False,
                    "after_sensitive": {
                        "input": {
                            "list": [False, True],
                            "map": {"b": True},
                            "name": True,
                            "nested": {"deep": True},
                        },
                        "output": {},
                    },
                },
            }
        ],
        "output_changes": {
            "nested": {"after": {"inner": "Plan-Name-1"}, "after_sensitive": True, "before_sensitive": True}
        },
    }
    collector = SecretCollector()

    redacted = redact_plan(plan, {}, collector)

    text = json.dumps(redacted)
    for secret in ("Plan-List-3", "Plan-Map-4", "Plan-Name-1", "Plan-Deep-2"):
        assert secret not in text
    for visible in ("first-visible", "map-visible", "shown-visible"):
        assert visible in text
    assert {"Plan-List-3", "Plan-Map-4", "Plan-Name-1", "Plan-Deep-2"} <= collector.values


def test_secrets_in_state_for_the_scrubber() -> None:
    state = _state(
        "null_resource",
        {"triggers": {"password": "Null-Secret-1", "Api_Token": "Named-Token-2", "v": "visible"}},
        [
            [
                {"type": "get_attr", "value": "triggers"},
                {"type": "index", "value": {"value": "password", "type": "string"}},
            ]
        ],
    )
    state["outputs"] = {
        "o": {"value": {"k": "Output-Secret-3"}, "type": ["object", {"k": "string"}], "sensitive": True}
    }
    assert secrets_in_state(state) == {"Null-Secret-1", "Named-Token-2", "Output-Secret-3"}
