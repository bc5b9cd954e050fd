"""IAM across the whole template: no '*' action, and a '*' resource only where an AWS API demands one.

A new wildcard fails here until it is added to the allow-list below, with its reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.infrastructure.conftest import Synth, as_list, statements

# Allow statements whose Resource is "*": (the exact actions) -> why no narrower resource exists.
WILDCARD_RESOURCE_ALLOWED: dict[frozenset[str], str] = {
    frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"}): (
        "Lambda active tracing: X-Ray's write APIs have no resource-level permissions."
    ),
    frozenset(
        {
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
        }
    ): "State machine tracing: X-Ray's APIs have no resource-level permissions.",
    frozenset(
        {
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups",
        }
    ): "State machine logging: CloudWatch Logs' vended-delivery APIs accept only Resource '*'.",
    frozenset({"states:SendTaskSuccess", "states:SendTaskFailure"}): (
        "Approve and discard answer a task token: these actions have no resource type in IAM."
    ),
    frozenset({"dynamodb:ListStreams"}): (
        "The notifier's stream event sources: ListStreams has no resource type in IAM."
    ),
}
# Allow statements with Resource "*" identified by where they are, not by their actions.
WILDCARD_RESOURCE_PLACES = {
    "AWS::KMS::Key": "In a key policy, Resource '*' means the key itself.",
    "CeilingIsEverythingButLongLivedIdentities": (
        "The deploy role's permissions boundary: a ceiling that grants nothing, narrowed by its Denies."
    ),
}
# Service-wide actions ("svc:*") allowed in an Allow statement.
SERVICE_WILDCARD_ALLOWED = {
    ("AWS::KMS::Key", "kms:*"): "The key policy's account-root statement, which delegates the key to IAM.",
}


def _documents(synth: Synth) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(logical id, resource type, policy document) for every policy in the template."""
    for logical_id, resource in synth.document["Resources"].items():
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        if kind in (
            "AWS::IAM::Policy",
            "AWS::IAM::ManagedPolicy",
            "AWS::S3::BucketPolicy",
            "AWS::SNS::TopicPolicy",
        ):
            yield logical_id, kind, properties["PolicyDocument"]
        elif kind == "AWS::IAM::Role":
            yield logical_id, kind, properties["AssumeRolePolicyDocument"]
            for inline in properties.get("Policies", []):
                yield logical_id, kind, inline["PolicyDocument"]
        elif kind == "AWS::KMS::Key":
            yield logical_id, kind, properties["KeyPolicy"]


def _all_statements(synth: Synth) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for logical_id, kind, document in _documents(synth):
        for statement in statements(document):
            yield logical_id, kind, statement


def test_no_statement_has_a_star_action(synth: Synth) -> None:
    for logical_id, _, statement in _all_statements(synth):
        for key in ("Action", "NotAction"):
            assert "*" not in as_list(statement.get(key, [])), (logical_id, statement)


def test_no_allow_grants_a_whole_service_unless_listed(synth: Synth) -> None:
    for logical_id, kind, statement in _all_statements(synth):
        if statement["Effect"] != "Allow":
            continue
        for action in as_list(statement.get("Action", [])):
            if action.endswith(":*"):
                assert (kind, action) in SERVICE_WILDCARD_ALLOWED, (logical_id, action)


def test_star_resources_only_where_an_api_demands_it(synth: Synth) -> None:
    used: set[object] = set()
    for logical_id, kind, statement in _all_statements(synth):
        if statement["Effect"] != "Allow" or "*" not in as_list(statement.get("Resource", [])):
            continue
        actions = frozenset(as_list(statement.get("Action", [])))
        if kind in WILDCARD_RESOURCE_PLACES:
            used.add(kind)
        elif statement.get("Sid") in WILDCARD_RESOURCE_PLACES:
            used.add(statement["Sid"])
        else:
            assert actions in WILDCARD_RESOURCE_ALLOWED, (logical_id, sorted(actions))
            used.add(actions)
    # A stale entry would silently allow a future wildcard: every entry must still be needed.
    assert used == set(WILDCARD_RESOURCE_ALLOWED) | set(WILDCARD_RESOURCE_PLACES)


def test_no_principal_is_anyone(synth: Synth) -> None:
    for logical_id, _, statement in _all_statements(synth):
        principal = statement.get("Principal")
        if statement["Effect"] == "Allow" and principal is not None:
            assert principal not in ("*", {"AWS": "*"}), logical_id


def test_not_action_only_in_the_boundary_and_in_denies(synth: Synth) -> None:
    for logical_id, _, statement in _all_statements(synth):
        if "NotAction" in statement and statement["Effect"] == "Allow":
            assert statement.get("Sid") == "CeilingIsEverythingButLongLivedIdentities", logical_id
