"""cdk-nag's AwsSolutions pack: no unsuppressed finding, and every suppression explained."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match

from tests.infrastructure.conftest import Synth

# Every rule the stack suppresses somewhere; a new suppression must be added here on purpose.
SUPPRESSED_RULES = {
    "AwsSolutions-APIG3",  # no WAF: authenticated, throttled, validated
    "AwsSolutions-COG4",  # IAM (or API key) authorization instead of a user pool
    "AwsSolutions-IAM4",  # API Gateway's CloudWatch role; the deploy role's chosen policy
    "AwsSolutions-IAM5",  # per-finding: X-Ray '*', job-shaped prefixes, the boundary
    "AwsSolutions-L1",  # Python 3.12 pinned
    "AwsSolutions-S1",  # the access-log bucket itself
}


def _suppressions(synth: Synth) -> list[dict[str, Any]]:
    found = []
    for resource in synth.document["Resources"].values():
        found += resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    return found


@pytest.mark.parametrize("variant", ["synth", "cognito_synth", "apikey_synth", "existing_role_synth"])
def test_no_unsuppressed_errors_or_warnings(variant: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(variant)
    findings = [
        f"{path}: {entry['data']}"
        for path, entries in synth.metadata().items()
        for entry in entries
        if entry["type"] in ("aws:cdk:error", "aws:cdk:warning")
    ]
    assert findings == []
    annotations = Annotations.from_stack(synth.stack)
    annotations.has_no_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    annotations.has_no_warning("*", Match.string_like_regexp("AwsSolutions-.*"))


def test_every_suppression_has_a_reason(synth: Synth, apikey_synth: Synth) -> None:
    suppressions = _suppressions(synth) + _suppressions(apikey_synth)
    assert suppressions
    for suppression in suppressions:
        assert len(suppression.get("reason", "").split()) >= 6, suppression


def test_only_the_known_rules_are_suppressed(synth: Synth, cognito_synth: Synth, apikey_synth: Synth) -> None:
    rules = {
        s["id"] for s in _suppressions(synth) + _suppressions(cognito_synth) + _suppressions(apikey_synth)
    }
    assert rules == SUPPRESSED_RULES | {"AwsSolutions-APIG4", "AwsSolutions-COG3", "AwsSolutions-COG8"}
    assert "AwsSolutions-APIG4" not in {s["id"] for s in _suppressions(synth)}  # only API-key installs


def test_iam5_suppressions_name_their_findings(synth: Synth) -> None:
    """Bulk IAM5 suppressions would hide a new wildcard: each one lists the findings it covers."""
    for suppression in _suppressions(synth):
        if suppression["id"] == "AwsSolutions-IAM5" and "applies_to" not in suppression:
            assert "boundary" in suppression["reason"], suppression
