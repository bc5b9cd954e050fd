"""The estimate's result and its JSON shape (the seed API's ``costs`` object plus the breakdown)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cost.catalog import Source
from cost.confidential import Confidential
from cost.model import CATEGORIES, Component, Recommendation, ResourceCost


def money(value: float) -> float:
    return round(value + 0.0, 2)


def unit_price(value: float) -> float:
    return float(f"{value:.10g}")


def quantity(value: float) -> float:
    return round(value, 4)


def total_text(total: float, lower_bound: bool, currency: str = "USD") -> str:
    """``$12.34``, or ``≥ $12.34`` when unpriced resources make the total a floor."""
    amount = f"${total:,.2f}" if currency == "USD" else f"{total:,.2f} {currency}"
    return f"≥ {amount}" if lower_bound else amount


def coverage_text(priced: int, total: int, free: int, unpriced: int) -> str:
    return f"{priced} of {total} resources priced, {free} free, {unpriced} unpriced"


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of the configuration has a price: every resource is exactly one of the three."""

    priced: int
    free: int
    unpriced: int

    @property
    def total(self) -> int:
        return self.priced + self.free + self.unpriced

    @property
    def lower_bound(self) -> bool:
        return self.unpriced > 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "resources": self.total,
            "priced": self.priced,
            "free": self.free,
            "unpriced": self.unpriced,
            "summary": coverage_text(self.priced, self.total, self.free, self.unpriced),
        }


def _component(component: Component) -> dict[str, Any]:
    return {
        "name": component.name,
        "unit": component.unit,
        "quantity": None if component.quantity is None else quantity(component.quantity),
        "unitPrice": unit_price(component.unit_price),
        "monthly": money(component.monthly),
        "usageBased": component.usage_based,
        "priceKey": component.price_key,
        "source": component.source,
    }


@dataclass
class CostReport:
    """Monthly cost of a configuration; ``to_dict()`` is what the API and ``--json`` print."""

    region: str
    price_date: str
    resources: list[ResourceCost] = field(default_factory=list)
    free: list[tuple[str, str]] = field(default_factory=list)
    unpriced_types: list[tuple[str, str]] = field(default_factory=list)
    resource_counts: Counter[str] = field(default_factory=Counter)
    sources: list[Source] = field(default_factory=list)
    prior_total: float | None = None
    currency: str = "USD"
    # What the answer must not show (secrets, raw variable values); set by ``estimate``.
    confidential: Confidential | None = None
    recommendations: list[Recommendation] = field(default_factory=list)

    def coverage(self) -> Coverage:
        # A priced type with a component nobody could price counts as unpriced: its cost is a floor.
        partial = sum(1 for r in self.resources if r.unpriced)
        return Coverage(
            priced=len(self.resources) - partial,
            free=len(self.free),
            unpriced=len(self.unpriced_types) + partial,
        )

    def warnings(self) -> list[str]:
        coverage = self.coverage()
        total = money(self.total)
        out: list[str] = []
        if coverage.total == 0:
            out.append("No resources were found, so there is nothing to price.")
        elif total == 0 and not any(r.components for r in self.resources):
            out.append(
                "Nothing was priced: the $0.00 total is not an estimate "
                f"({coverage_text(coverage.priced, coverage.total, coverage.free, coverage.unpriced)})."
            )
        elif total == 0 and any(
            c.usage_based and c.quantity is None for r in self.resources for c in r.components
        ):
            out.append(
                "$0.00 only because every priced component depends on usage; give a usage file "
                "(`python -m cost PATH --sync-usage FILE` writes one)."
            )
        if coverage.lower_bound:
            out.append(
                f"{coverage.unpriced} of {coverage.total} resources could not be priced (see unpriced), "
                "so the total is a floor."
            )
        return out

    def by_category(self) -> dict[str, float]:
        totals: dict[str, float] = dict.fromkeys(CATEGORIES, 0.0)
        for resource in self.resources:
            totals[resource.category] += resource.monthly
        return totals

    @property
    def total(self) -> float:
        return sum(r.monthly for r in self.resources)

    def to_dict(self) -> dict[str, Any]:
        totals = self.by_category()
        costs: dict[str, Any] = {name: money(value) for name, value in totals.items()}
        costs["total"] = money(self.total)
        coverage = self.coverage()
        costs["totalIsLowerBound"] = coverage.lower_bound
        costs["resourceCounts"] = dict(sorted(self.resource_counts.items()))
        costs["currency"] = self.currency
        costs["period"] = "monthly"
        unpriced: list[dict[str, Any]] = [
            {"address": address, "type": rtype, "component": None, "reason": reason}
            for address, rtype, reason in (
                (a, t, f"{t} is not in the price catalog") for a, t in self.unpriced_types
            )
        ]
        usage_based: list[dict[str, Any]] = []
        resources: list[dict[str, Any]] = []
        for resource in self.resources:
            for reason in resource.unpriced:
                name, _, why = reason.partition(": ")
                unpriced.append(
                    {
                        "address": resource.address,
                        "type": resource.type,
                        "component": name,
                        "reason": why or reason,
                    }
                )
            for component in resource.components:
                if component.usage_based and component.quantity is None:
                    usage_based.append(
                        {
                            "address": resource.address,
                            "type": resource.type,
                            "component": component.name,
                            "unit": component.unit,
                            "unitPrice": unit_price(component.unit_price),
                        }
                    )
            resources.append(
                {
                    "address": resource.address,
                    "type": resource.type,
                    "region": resource.region,
                    "category": resource.category,
                    "monthly": money(resource.monthly),
                    "components": [_component(c) for c in resource.components],
                }
            )
        document: dict[str, Any] = {
            "costs": costs,
            "resources": resources,
            "unpriced": unpriced,
            "usageBased": usage_based,
            "free": [{"address": a, "type": t} for a, t in self.free],
            "coverage": coverage.as_dict(),
            "totalText": total_text(self.total, coverage.lower_bound, self.currency),
            "warnings": self.warnings(),
            "recommendations": [r.as_dict() for r in self.recommendations],
            "region": self.region,
            "priceDate": self.price_date,
            "priceSources": [s.as_dict() for s in self.sources],
        }
        if self.prior_total is not None:
            document["prior"] = money(self.prior_total)
            document["proposed"] = money(self.total)
            document["delta"] = money(self.total - self.prior_total)
        return self.confidential.apply(document) if self.confidential is not None else document
