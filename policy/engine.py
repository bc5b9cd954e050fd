"""A policy set checked against one plan: each policy's result, and what the set decides.

The decision follows HCP Terraform's levels. An advisory failure warns. A soft-mandatory failure
waits for an override by an identity other than the submitter. A mandatory failure stops the
job. Destroy protection is the exception: its deletes go ahead only when the request says
``allowDestroy`` and a second identity approves. A policy that cannot be evaluated counts as
failed at its level (fail closed), and a set with nothing enabled is "no policies", never
"passed".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from policy.builtins import BUILTINS, parse_settings
from policy.model import Finding, Level, PolicyContext, PolicyError
from policy.rego import RegoOutcome, RegoPolicy, evaluate_policies

DESTROY_PROTECTION = "destroy-protection"
Kind = Literal["builtin", "rego"]
Outcome = Literal["passed", "failed", "errored"]
Verdict = Literal["no_policies", "passed", "warned", "needs_override", "needs_approval", "failed"]
Requirement = Literal["override", "second_approval"]
RegoEvaluator = Callable[[Sequence[RegoPolicy], Mapping[str, Any]], Mapping[str, RegoOutcome | PolicyError]]


@dataclass(frozen=True)
class Policy:
    """One stored version of a policy, as the check evaluates it."""

    name: str
    scope: str  # "install" or "project"
    kind: Kind
    level: Level
    version: int = 1
    settings: Mapping[str, Any] | None = None
    source: str | None = None
    syntax: Literal["v1", "v0"] = "v1"
    project_id: str | None = None

    @property
    def key(self) -> str:
        """Unique within a set: an install's and a project's policy may share a name."""
        return f"{self.scope}/{self.name}"

    @property
    def digest(self) -> str:
        return policy_digest(self.kind, self.level, self.settings, self.source, self.syntax)


def policy_digest(
    kind: str, level: str, settings: Mapping[str, Any] | None, source: str | None, syntax: str
) -> str:
    """The identity of what a version enforces, reported with every result."""
    body = json.dumps(
        {"kind": kind, "level": str(level), "settings": settings, "source": source, "syntax": syntax},
        sort_keys=True,
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class PolicyResult:
    policy: Policy
    outcome: Outcome
    findings: tuple[Finding, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome != "passed"

    def as_dict(self) -> dict[str, Any]:
        policy = self.policy
        messages = [f.message for f in self.findings] + ([self.error] if self.error else [])
        return {
            "policy": policy.name,
            "scope": policy.scope,
            **({"projectId": policy.project_id} if policy.project_id else {}),
            "kind": policy.kind,
            "level": policy.level.value,
            "version": policy.version,
            "hash": policy.digest,
            "outcome": self.outcome,
            "messages": messages,
            "findings": [f.as_dict() for f in self.findings],
            "warnings": list(self.warnings),
            "overridable": policy.level is Level.SOFT_MANDATORY and policy.name != DESTROY_PROTECTION,
        }


@dataclass(frozen=True)
class PolicyCheck:
    verdict: Verdict
    results: tuple[PolicyResult, ...]
    requires: tuple[Requirement, ...] = ()
    stopped_by: tuple[str, ...] = ()
    message: str = ""
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def stops(self) -> bool:
        return self.verdict == "failed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.verdict,
            "message": self.message,
            "results": [result.as_dict() for result in self.results],
            "requires": list(self.requires),
            "stoppedBy": list(self.stopped_by),
            "counts": dict(self.counts),
        }


def _builtin(policy: Policy, plan: Mapping[str, Any], context: PolicyContext) -> PolicyResult:
    builtin = BUILTINS.get(policy.name)
    if builtin is None:
        return PolicyResult(policy, "errored", error=f"no built-in policy is named {policy.name!r}")
    try:
        settings = parse_settings(policy.name, policy.settings)
        findings = builtin.check(plan, settings, context)
    except PolicyError as exc:
        return PolicyResult(policy, "errored", error=f"the check could not decide: {exc.message}")
    return PolicyResult(policy, "failed" if findings else "passed", tuple(findings))


def _rego(policy: Policy, outcome: RegoOutcome | PolicyError | None) -> PolicyResult:
    if outcome is None:
        return PolicyResult(policy, "errored", error="the policy was not evaluated")
    if isinstance(outcome, PolicyError):
        return PolicyResult(policy, "errored", error=f"the policy could not be evaluated: {outcome.message}")
    findings = tuple(Finding(message) for message in outcome.denies)
    return PolicyResult(policy, "failed" if findings else "passed", findings, tuple(outcome.warnings))


def check_plan(
    policies: Sequence[Policy],
    plan: Mapping[str, Any],
    context: PolicyContext,
    *,
    evaluate_rego: RegoEvaluator = evaluate_policies,
) -> PolicyCheck:
    enabled = [policy for policy in policies if policy.level is not Level.OFF]
    if not enabled:
        return PolicyCheck("no_policies", (), message="no policies")
    rego = [policy for policy in enabled if policy.kind == "rego"]
    outcomes: Mapping[str, RegoOutcome | PolicyError] = {}
    if rego:
        try:
            outcomes = evaluate_rego(
                [RegoPolicy(policy.key, policy.source or "", policy.syntax) for policy in rego],
                context.rego_input(plan),
            )
        except PolicyError as exc:
            outcomes = {policy.key: exc for policy in rego}
    results = tuple(
        _builtin(policy, plan, context)
        if policy.kind == "builtin"
        else _rego(policy, outcomes.get(policy.key))
        for policy in enabled
    )
    return decide(results, allow_destroy=context.allow_destroy)


def _consequence(result: PolicyResult, *, allow_destroy: bool) -> Literal["warn", "stop"] | Requirement:
    policy = result.policy
    if policy.level is Level.ADVISORY:
        return "warn"
    if policy.name == DESTROY_PROTECTION and policy.kind == "builtin":
        # Deletes of protected resources: asked for on purpose, and seen by a second person.
        return "second_approval" if allow_destroy and result.outcome == "failed" else "stop"
    return "override" if policy.level is Level.SOFT_MANDATORY else "stop"


def decide(results: Sequence[PolicyResult], *, allow_destroy: bool) -> PolicyCheck:
    requires: list[Requirement] = []
    stopped: list[str] = []
    warned: list[str] = []
    for result in results:
        if not result.failed:
            continue
        consequence = _consequence(result, allow_destroy=allow_destroy)
        if consequence == "warn":
            warned.append(result.policy.key)
        elif consequence == "stop":
            stopped.append(result.policy.key)
        else:
            requires.append(consequence)
    counts = {
        "passed": sum(not r.failed for r in results),
        "failed": sum(r.outcome == "failed" for r in results),
        "errored": sum(r.outcome == "errored" for r in results),
        "advisory": len(warned),
    }
    unique = tuple(dict.fromkeys(requires))
    verdict: Verdict
    if stopped:
        verdict, message = "failed", f"stopped by {', '.join(stopped)}"
        if not allow_destroy and any(key.endswith("/" + DESTROY_PROTECTION) for key in stopped):
            message += (
                " (to destroy protected resources, ask with allowDestroy and have a second person approve)"
            )
    elif "second_approval" in unique:
        verdict = "needs_approval"
        message = "protected resources would be destroyed: a second person must approve"
    elif unique:
        verdict, message = "needs_override", "a soft-mandatory policy failed: another person may override it"
    elif warned:
        verdict, message = "warned", f"passed with advisory failures: {', '.join(warned)}"
    else:
        verdict, message = "passed", f"{len(results)} of {len(results)} policies passed"
    if verdict == "needs_approval" and "override" in unique:
        message += "; a soft-mandatory policy failed too: another person must override it"
    return PolicyCheck(verdict, tuple(results), unique, tuple(stopped), message, counts)
