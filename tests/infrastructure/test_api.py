"""The REST API: routes, authorization on every method in every auth mode, limits, logs."""

from __future__ import annotations

from typing import Any

import fastjsonschema
import pytest
from pydantic import BaseModel

from core.records import PROJECT_ID_PATTERN
from core.requests import (
    MAX_CODE_BYTES,
    MAX_POLICY_BYTES,
    DeployRequest,
    DestroyRequest,
    OverrideRequest,
    PlanRequest,
    PolicyDryRunRequest,
    PolicyRequest,
    ProjectSettingsRequest,
    RemediateRequest,
)
from functions.handlers.routing import ROUTES
from tests.infrastructure.conftest import Synth


def _methods(synth: Synth) -> list[dict[str, Any]]:
    return [m["Properties"] for m in synth.resources("AWS::ApiGateway::Method").values()]


def _paths(synth: Synth) -> set[tuple[str, str]]:
    """(method, full path) of every method, rebuilt from the resource tree."""
    resources = synth.resources("AWS::ApiGateway::Resource")

    def path_of(ref: Any) -> str:
        if not isinstance(ref, dict) or "Ref" not in ref:
            return ""
        resource = resources[ref["Ref"]]["Properties"]
        return f"{path_of(resource['ParentId'])}/{resource['PathPart']}"

    return {(m["HttpMethod"], path_of(m["ResourceId"])) for m in _methods(synth)}


def test_every_route_and_nothing_else(synth: Synth) -> None:
    assert _paths(synth) == {(route.method, route.path) for route in ROUTES}


def test_iam_auth_on_every_method_by_default(synth: Synth) -> None:
    methods = _methods(synth)
    assert len(methods) == len(ROUTES)
    assert {m["AuthorizationType"] for m in methods} == {"AWS_IAM"}
    assert not any(m.get("ApiKeyRequired") for m in methods)


def test_cognito_mode_puts_a_user_pool_authorizer_on_every_method(cognito_synth: Synth) -> None:
    methods = _methods(cognito_synth)
    assert {m["AuthorizationType"] for m in methods} == {"COGNITO_USER_POOLS"}
    [authorizer_id] = cognito_synth.resources("AWS::ApiGateway::Authorizer")
    assert all(m["AuthorizerId"] == {"Ref": authorizer_id} for m in methods)
    cognito_synth.template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {"MfaConfiguration": "ON", "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True}},
    )
    cognito_synth.template.has_output("UserPoolId", {})


def test_apikey_mode_requires_a_key_on_every_method(apikey_synth: Synth) -> None:
    methods = _methods(apikey_synth)
    assert {m["AuthorizationType"] for m in methods} == {"NONE"}
    assert all(m["ApiKeyRequired"] is True for m in methods)
    apikey_synth.template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    apikey_synth.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan", {"Throttle": {"RateLimit": 20, "BurstLimit": 40}}
    )
    apikey_synth.template.has_output("ApiKeyId", {})


def test_stage_throttles_traces_and_writes_access_logs(synth: Synth) -> None:
    [stage] = synth.resources("AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    assert properties["StageName"] == "v1"
    assert properties["TracingEnabled"] is True
    [settings] = properties["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == 20
    assert settings["ThrottlingBurstLimit"] == 40
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["DataTraceEnabled"] is False  # bodies carry code and variables
    group_id = properties["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    group = synth.resources("AWS::Logs::LogGroup")[group_id]["Properties"]
    assert group["RetentionInDays"] == 90
    assert "KmsKeyId" in group
    assert '"status":"$context.status"' in properties["AccessLogSetting"]["Format"]


def test_request_bodies_are_validated_and_code_is_capped(synth: Synth) -> None:
    models = {
        m["Properties"]["Name"]: m["Properties"] for m in synth.resources("AWS::ApiGateway::Model").values()
    }
    deploy = models["DeployRequest"]["Schema"]
    # iacCode or files: the handler decides which; the gateway only caps and types them
    assert deploy["required"] == ["projectId"]
    assert deploy["additionalProperties"] is False
    assert set(deploy["properties"]) == {
        "projectId",
        "iacCode",
        "files",
        "variables",
        "approval",
        "whenBusy",
        "supersede",
        "allowDestroy",
    }
    assert deploy["properties"]["iacCode"]["maxLength"] == MAX_CODE_BYTES
    assert deploy["properties"]["projectId"]["pattern"] == PROJECT_ID_PATTERN
    assert models["DestroyRequest"]["Schema"]["required"] == ["projectId"]
    plan = models["PlanRequest"]["Schema"]
    assert plan["additionalProperties"] is False
    assert plan["properties"]["iacCode"]["maxLength"] == MAX_CODE_BYTES
    [validator] = synth.resources("AWS::ApiGateway::RequestValidator").values()
    assert validator["Properties"]["ValidateRequestBody"] is True
    posts_with_bodies = [m for m in _methods(synth) if "RequestModels" in m]
    assert len(posts_with_bodies) == len([route for route in ROUTES if route.body_model])
    assert all("RequestValidatorId" in m for m in posts_with_bodies)


@pytest.mark.parametrize(
    "model",
    [
        DeployRequest,
        DestroyRequest,
        PlanRequest,
        ProjectSettingsRequest,
        RemediateRequest,
        OverrideRequest,
        PolicyRequest,
        PolicyDryRunRequest,
    ],
)
def test_gateway_models_take_every_field_the_request_models_take(
    synth: Synth, model: type[BaseModel]
) -> None:
    # Given the handler's request model / Then the gateway refuses no field it accepts, with its choices
    schemas = {
        m["Properties"]["Name"]: m["Properties"]["Schema"]
        for m in synth.resources("AWS::ApiGateway::Model").values()
    }
    gateway = schemas[model.__name__]
    expected = model.model_json_schema()
    assert set(gateway["properties"]) == set(expected["properties"])
    assert gateway.get("required", []) == expected.get("required", [])
    for name, declared in expected["properties"].items():
        # An optional field that takes null is anyOf(the field, null): the gateway checks the field.
        field = next((v for v in declared.get("anyOf", [declared]) if v.get("type") != "null"), declared)
        assert gateway["properties"][name]["type"] == field["type"], name
        if "enum" in field:
            assert gateway["properties"][name]["enum"] == field["enum"], name
        # No stricter a limit than the handler's
        for limit in ("maxLength", "minLength", "pattern"):
            if limit in gateway["properties"][name]:
                assert gateway["properties"][name][limit] == field.get(limit), (name, limit)
    assert gateway["additionalProperties"] is False


def test_every_body_model_a_route_names_is_declared(synth: Synth) -> None:
    declared = {m["Properties"]["Name"] for m in synth.resources("AWS::ApiGateway::Model").values()}
    named = {route.body_model for route in ROUTES if route.body_model}
    assert named <= declared
    assert {"OverrideRequest", "PolicyRequest", "PolicyDryRunRequest"} <= named


def test_the_gateway_lets_allow_destroy_through(synth: Synth) -> None:
    # Given bodies that forbid unknown fields / Then allowDestroy is a known one, a boolean
    schemas = _schemas(synth)
    for name in ("DeployRequest", "DestroyRequest"):
        assert schemas[name]["additionalProperties"] is False
        assert schemas[name]["properties"]["allowDestroy"] == {"type": "boolean"}, name
        body = {"projectId": "p-1", "iacCode": "resource x y {}", "allowDestroy": True}
        if name == "DestroyRequest":
            del body["iacCode"]
        assert _accepts(schemas[name], body), name
        assert not _accepts(schemas[name], {**body, "allowDestroy": "yes"}), name
    # The apply's body has no gateway model: the handler alone checks it
    apply = [r for r in ROUTES if r.path == "/api/deploy/apply/{planJobId}"]
    assert [r.body_model for r in apply] == [None]


def test_a_policy_body_takes_free_form_settings_and_a_full_size_rego_module(synth: Synth) -> None:
    schemas = _schemas(synth)
    policy = schemas["PolicyRequest"]
    assert policy["required"] == ["level"]
    assert policy["properties"]["settings"] == {"type": "object"}
    assert MAX_POLICY_BYTES == 262144
    assert policy["properties"]["rego"] == {"type": "string", "maxLength": MAX_POLICY_BYTES}
    nested = {"limits": {"monthly": 100, "tags": ["a", {"b": None}]}, "on": True}
    assert _accepts(policy, {"level": "mandatory", "settings": nested, "projectId": "p-1"})
    assert _accepts(policy, {"level": "advisory", "rego": "x" * MAX_POLICY_BYTES})
    assert not _accepts(policy, {"level": "advisory", "rego": "x" * (MAX_POLICY_BYTES + 1)})
    assert not _accepts(policy, {"level": "strict"})
    assert not _accepts(policy, {"level": "off", "other": 1})
    dry_run = schemas["PolicyDryRunRequest"]
    assert dry_run["required"] == ["planJobId"]
    assert _accepts(
        dry_run,
        {"planJobId": "plan-1700000000000-abc123", "rego": "package x", "settings": nested, "version": 2},
    )
    assert not _accepts(dry_run, {"planJobId": "nope"})
    override = schemas["OverrideRequest"]
    assert _accepts(override, {"reason": "the change is reviewed"})
    assert not _accepts(override, {})
    assert not _accepts(override, {"reason": ""})


def _schemas(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        m["Properties"]["Name"]: m["Properties"]["Schema"]
        for m in synth.resources("AWS::ApiGateway::Model").values()
    }


def _accepts(schema: dict[str, Any], body: dict[str, Any]) -> bool:
    """JSON Schema draft 4 (the model's $schema), as API Gateway checks a body."""
    try:
        fastjsonschema.compile(schema)(body)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


def test_run_options_are_checked_at_the_gateway(synth: Synth) -> None:
    schemas = {
        m["Properties"]["Name"]: m["Properties"]["Schema"]
        for m in synth.resources("AWS::ApiGateway::Model").values()
    }
    for name in ("DeployRequest", "DestroyRequest"):
        properties = schemas[name]["properties"]
        assert properties["approval"] == {"type": "string", "enum": ["required", "auto"]}, name
        assert properties["whenBusy"] == {"type": "string", "enum": ["queue", "reject"]}, name
        assert properties["supersede"] == {"type": "boolean"}, name
    assert not {"approval", "whenBusy", "supersede"} & set(schemas["PlanRequest"]["properties"])


def test_gateway_errors_use_the_handlers_shape(synth: Synth) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(responses) >= {"BAD_REQUEST_BODY", "REQUEST_TOO_LARGE", "DEFAULT_4XX", "DEFAULT_5XX"}
    assert responses["REQUEST_TOO_LARGE"]["StatusCode"] == "413"
    assert all('"error"' in r["ResponseTemplates"]["application/json"] for r in responses.values())
