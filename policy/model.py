"""What a policy is, what a check of one finds, and what a check of a whole set decides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    """HCP Terraform's enforcement levels: advisory warns, soft-mandatory stops until a second
    identity overrides it, mandatory stops the job with no override."""

    OFF = "off"
    ADVISORY = "advisory"
    SOFT_MANDATORY = "soft-mandatory"
    MANDATORY = "mandatory"


class PolicyError(Exception):
    """A policy could not be evaluated (or compiled): the check fails closed."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Finding:
    """One thing a policy objects to, with the resource it is about when there is one."""

    message: str
    address: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, **({"address": self.address} if self.address else {})}


@dataclass(frozen=True)
class PolicyContext:
    """What a check knows besides the plan."""

    project_id: str
    caller: str
    action: str  # deploy | destroy | plan
    # functions.logic.review.plan_cost: prior, proposed, delta, currency, priced, free, unpriced,
    # total, lowerBound (prior and delta are None when the prior state could not be priced).
    cost: Mapping[str, Any] = field(default_factory=dict)
    default_region: str = "us-east-1"
    allow_destroy: bool = False
    speculative: bool = False
    # The plan records what a provider setting or module argument refers to, not the expression:
    # a variable's value stands for it only where the code writes the bare variable
    # (policy.expressions.bare_references); False: constants alone are trusted.
    bare_references: bool = True

    def rego_input(self, plan: Mapping[str, Any]) -> dict[str, Any]:
        """The input a Rego policy sees. Terraform's plan JSON at the top (conftest's shape),
        the same under ``tfplan`` with a ``tfrun`` beside it (Scalr's shape), and the flat keys
        ``project``, ``caller``, ``action`` and ``cost``."""
        cost = {key: self.cost.get(key) for key in ("prior", "proposed", "delta", "currency")}
        coverage = {key: self.cost.get(key) for key in ("priced", "free", "unpriced", "total", "lowerBound")}
        run = {
            "workspace": {"name": self.project_id},
            "created_by": {"username": self.caller},
            "is_destroy": self.action == "destroy",
            "is_dry": self.speculative,
            "cost_estimate": {
                "prior_monthly_cost": cost["prior"],
                "proposed_monthly_cost": cost["proposed"],
                "delta_monthly_cost": cost["delta"],
            },
        }
        return {
            **plan,
            "tfplan": plan,
            "tfrun": run,
            "project": self.project_id,
            "caller": self.caller,
            "action": self.action,
            "cost": {**cost, "coverage": coverage},
        }
