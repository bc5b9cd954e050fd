"""What a policy set decides of a plan: levels, destroy protection's second person, fail closed on
errors, and "no policies" for a set with nothing enabled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from policy.engine import Policy, check_plan
from policy.model import Level, PolicyContext, PolicyError
from policy.rego import RegoOutcome, RegoPolicy

DELETE_DB = {
    "resource_changes": [
        {
            "address": "module.data.aws_db_instance.main",
            "mode": "managed",
            "type": "aws_db_instance",
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {"actions": ["delete"], "before": {"instance_class": "db.t3.micro"}, "after": None},
        }
    ]
}
CONTEXT = PolicyContext(project_id="p", caller="alice", action="deploy", cost={"priced": 1, "total": 1})
PROTECT = Policy(
    "destroy-protection", "install", "builtin", Level.MANDATORY, settings={"types": ["aws_db_instance"]}
)


def rego_says(outcomes: Mapping[str, RegoOutcome | PolicyError]) -> Any:
    def evaluate(
        policies: Sequence[RegoPolicy], _input: Mapping[str, Any]
    ) -> Mapping[str, RegoOutcome | PolicyError]:
        return {policy.name: outcomes[policy.name] for policy in policies}

    return evaluate


def rego(name: str, level: Level) -> Policy:
    return Policy(name, "project", "rego", level, source="package x", project_id="p")


def test_nothing_enabled_is_no_policies_not_passed() -> None:
    check = check_plan([rego("off", Level.OFF)], DELETE_DB, CONTEXT, evaluate_rego=rego_says({}))
    assert (check.verdict, check.message, check.results) == ("no_policies", "no policies", ())


def test_a_protected_delete_stops_unless_asked_for_then_needs_a_second_person() -> None:
    stopped = check_plan([PROTECT], DELETE_DB, CONTEXT)
    assert stopped.verdict == "failed" and stopped.stopped_by == ("install/destroy-protection",)
    assert "allowDestroy" in stopped.message
    assert "module.data.aws_db_instance.main" in stopped.results[0].as_dict()["messages"][0]

    asked = check_plan([PROTECT], DELETE_DB, PolicyContext(**{**CONTEXT.__dict__, "allow_destroy": True}))
    assert asked.verdict == "needs_approval" and asked.requires == ("second_approval",)


@pytest.mark.parametrize(
    ("level", "verdict", "requires"),
    [
        (Level.ADVISORY, "warned", ()),
        (Level.SOFT_MANDATORY, "needs_override", ("override",)),
        (Level.MANDATORY, "failed", ()),
    ],
)
def test_a_failure_counts_at_its_level(level: Level, verdict: str, requires: tuple[str, ...]) -> None:
    policy = rego("types", level)
    check = check_plan(
        [policy], DELETE_DB, CONTEXT, evaluate_rego=rego_says({policy.key: RegoOutcome(["no m5"], [])})
    )
    assert (check.verdict, check.requires) == (verdict, requires)
    result = check.results[0].as_dict()
    assert result["outcome"] == "failed" and result["messages"] == ["no m5"]
    assert result["hash"].startswith("sha256:") and result["overridable"] is (level is Level.SOFT_MANDATORY)


def test_an_error_fails_closed_and_a_pass_is_counted() -> None:
    broken, fine = rego("broken", Level.MANDATORY), rego("fine", Level.MANDATORY)
    outcomes: dict[str, RegoOutcome | PolicyError] = {
        broken.key: PolicyError("timed out after 10 s"),
        fine.key: RegoOutcome([], ["just so you know"]),
    }
    check = check_plan([broken, fine], DELETE_DB, CONTEXT, evaluate_rego=rego_says(outcomes))
    assert check.verdict == "failed" and check.stopped_by == ("project/broken",)
    assert check.counts == {"passed": 1, "failed": 0, "errored": 1, "advisory": 0}
    assert "timed out" in check.results[0].as_dict()["messages"][0]
    assert check.results[1].as_dict()["warnings"] == ["just so you know"]


def test_a_worker_that_fails_whole_fails_every_rego_policy() -> None:
    def crash(_policies: Sequence[RegoPolicy], _input: Mapping[str, Any]) -> Mapping[str, RegoOutcome]:
        raise PolicyError("the worker crashed")

    check = check_plan(
        [rego("a", Level.ADVISORY), PROTECT], {"resource_changes": []}, CONTEXT, evaluate_rego=crash
    )
    assert [r.outcome for r in check.results] == ["errored", "passed"]
    assert check.verdict == "warned"


def test_a_passing_set_says_how_many_passed() -> None:
    check = check_plan([PROTECT], {"resource_changes": []}, CONTEXT)
    assert (check.verdict, check.message) == ("passed", "1 of 1 policies passed")
