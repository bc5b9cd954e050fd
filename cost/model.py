"""The shapes every stage shares: a resource to price, its components, and the report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

HOURS_PER_MONTH = 730.0

Category = Literal["compute", "storage", "networking", "database", "other"]
CATEGORIES: tuple[Category, ...] = ("compute", "storage", "networking", "database", "other")

# The runner stores plans with sensitive values replaced by this string.
REDACTED = "(sensitive)"


@dataclass(frozen=True, slots=True)
class ResourceInput:
    """One resource instance, whatever it was read from (plan, state or HCL)."""

    address: str
    type: str
    attrs: Mapping[str, Any]
    region: str
    # Top-level attribute name -> addresses of the resources its expression refers to.
    refs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Set when the HCL's count or for_each is known only after apply: why. Such a resource is
    # listed, not priced (its attrs are those of any one instance).
    unknown_count: str | None = None


@dataclass(frozen=True, slots=True)
class Component:
    """One price component: a quantity (None when it depends on usage nobody gave) times a unit price."""

    name: str
    unit: str
    quantity: float | None
    unit_price: float
    price_key: str
    source: str
    usage_based: bool = False

    @property
    def monthly(self) -> float:
        return 0.0 if self.quantity is None else self.quantity * self.unit_price


@dataclass(slots=True)
class ResourceCost:
    address: str
    type: str
    category: Category
    region: str
    components: list[Component] = field(default_factory=list)
    # Components that exist for this resource but have no catalog price, with why.
    unpriced: list[str] = field(default_factory=list)

    @property
    def monthly(self) -> float:
        return sum(c.monthly for c in self.components)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A cheaper equivalent for one resource: the change to make and what it saves a month."""

    address: str
    rule: str
    change: str
    current_monthly: float
    recommended_monthly: float
    reason: str

    @property
    def monthly_saving(self) -> float:
        return self.current_monthly - self.recommended_monthly

    def as_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "rule": self.rule,
            "change": self.change,
            "currentMonthly": round(self.current_monthly + 0.0, 2),
            "recommendedMonthly": round(self.recommended_monthly + 0.0, 2),
            "monthlySaving": round(self.monthly_saving + 0.0, 2),
            "reason": self.reason,
        }
