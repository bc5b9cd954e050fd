"""budget: the plan's monthly cost (context.cost) against limits."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from policy.model import Finding, PolicyContext, PolicyError


class BudgetSettings(BaseModel):
    """Monthly cost limits, each optional (none set: nothing to check).

    - ``maxMonthlyTotal``: the proposed monthly cost;
    - ``maxMonthlyDelta``: the change from the prior state's cost (fails when the prior could
      not be priced);
    - ``maxMonthlyDeltaPercent``: that change as a percentage of the prior cost, checked only
      when the prior cost is above zero: a first deploy (from $0) is checked by the absolute
      limits only.

    A resource that could not be priced never counts as $0: when a limit is not exceeded by the
    priced amount but some resources are unpriced, the check fails (it cannot show the limit holds).
    """

    model_config = ConfigDict(extra="forbid")

    maxMonthlyTotal: float | None = Field(default=None, ge=0)
    maxMonthlyDelta: float | None = None
    maxMonthlyDeltaPercent: float | None = None


def _number(cost: Mapping[str, Any], key: str, *, optional: bool = False) -> float | None:
    value = cost.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PolicyError(f"the cost estimate has no readable {key!r}")
    return float(value)


def _count(cost: Mapping[str, Any], key: str) -> int:
    value = cost.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError(f"the cost estimate has no readable {key!r} count")
    return value


def _money(amount: float, currency: str) -> str:
    sign = "-" if amount < 0 else ""
    if currency == "USD":
        return f"{sign}${abs(amount):,.2f}"
    return f"{sign}{abs(amount):,.2f} {currency}"


def check(  # noqa: PLR0912 - a branch per limit and outcome
    plan: Mapping[str, Any], settings: BudgetSettings, context: PolicyContext
) -> list[Finding]:
    limits = (settings.maxMonthlyTotal, settings.maxMonthlyDelta, settings.maxMonthlyDeltaPercent)
    if all(limit is None for limit in limits):
        return []
    cost = context.cost
    if not cost:
        raise PolicyError("there is no cost estimate for this plan")
    proposed = _number(cost, "proposed")
    assert proposed is not None
    prior = _number(cost, "prior", optional=True)
    delta = _number(cost, "delta", optional=True)
    currency = str(cost.get("currency") or "USD")
    priced, free, unpriced = _count(cost, "priced"), _count(cost, "free"), _count(cost, "unpriced")
    total = _count(cost, "total") or priced + free + unpriced
    coverage = f"{priced} of {total} resources priced"
    if free:
        coverage += f", {free} free"
    if unpriced:
        coverage += f", {unpriced} unpriced: a lower bound"

    findings: list[Finding] = []
    checked = False
    if settings.maxMonthlyTotal is not None:
        checked = True
        if proposed > settings.maxMonthlyTotal:
            findings.append(
                Finding(
                    f"proposed monthly cost {_money(proposed, currency)} is over the limit "
                    f"{_money(settings.maxMonthlyTotal, currency)} ({coverage})"
                )
            )
    if settings.maxMonthlyDelta is not None:
        checked = True
        if delta is None:
            findings.append(
                Finding(
                    f"cannot check the monthly cost change against the limit "
                    f"{_money(settings.maxMonthlyDelta, currency)}: the prior cost could not be priced "
                    f"({coverage})"
                )
            )
        elif delta > settings.maxMonthlyDelta:
            findings.append(
                Finding(
                    f"monthly cost change {'+' if delta >= 0 else ''}{_money(delta, currency)} is over the "
                    f"limit {_money(settings.maxMonthlyDelta, currency)} ({coverage})"
                )
            )
    if settings.maxMonthlyDeltaPercent is not None:
        if prior is None or delta is None:
            checked = True
            findings.append(
                Finding(
                    f"cannot check the monthly cost change against the limit "
                    f"{settings.maxMonthlyDeltaPercent:g}%: the prior cost could not be priced ({coverage})"
                )
            )
        elif prior > 0:
            checked = True
            percent = delta / prior * 100
            if percent > settings.maxMonthlyDeltaPercent:
                findings.append(
                    Finding(
                        f"monthly cost change {percent:+.1f}% ({_money(prior, currency)} to "
                        f"{_money(proposed, currency)}) is over the limit "
                        f"{settings.maxMonthlyDeltaPercent:g}% ({coverage})"
                    )
                )
    if checked and not findings and unpriced > 0:
        resources = "resource is" if unpriced == 1 else "resources are"
        findings.append(
            Finding(f"cannot show the budget holds: {unpriced} {resources} unpriced ({coverage})")
        )
    return findings
