"""The one entry point: inputs in, a CostReport out. No network, no AWS calls."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from core.redaction import SecretCollector, SensitivePaths, redact_plan, redact_state
from cost.bill import Bill, ResourceIndex
from cost.catalog import PriceCatalog, load_catalog
from cost.confidential import Confidential
from cost.hcl_input import resources_from_hcl
from cost.model import ResourceCost, ResourceInput
from cost.plan_input import PlanReader, resources_from_state
from cost.recommend import recommend
from cost.registry import FREE_TYPES, PRICERS
from cost.report import CostReport
from cost.usage import EMPTY, Usage, parse_usage


def estimate(
    *,
    plan: Mapping[str, Any] | None = None,
    files: Mapping[str, str] | None = None,
    variables: Mapping[str, Any] | None = None,
    state: Mapping[str, Any] | None = None,
    usage: Mapping[str, Any] | Usage | None = None,
    default_region: str = "us-east-1",
    catalog: PriceCatalog | None = None,
    sensitive_paths: SensitivePaths | None = None,
) -> CostReport:
    """Price a plan (preferred), else the HCL ``files``, else just the ``state``.

    With a ``state`` (or a plan that carries ``prior_state``) the report also has the prior
    monthly total and the delta. ``sensitive_paths`` (from the provider schema) let raw state
    be redacted before it is read; the report never shows a secret or a raw variable value
    (see ``confidential``).
    """
    prices = catalog or load_catalog()
    usage_index = usage if isinstance(usage, Usage) else parse_usage(usage)
    confidential = Confidential(vocabulary=prices.vocabulary)
    found = SecretCollector()
    paths = sensitive_paths or {}
    if state is not None:
        state = redact_state(state, paths, found)
    prior: list[ResourceInput] | None = None
    if plan is not None:
        # Stored plans are redacted already; a plan from the command line may not be.
        plan = redact_plan(plan, paths, found)
        confidential.add_variables(
            {n: v.get("value") for n, v in (plan.get("variables") or {}).items() if isinstance(v, Mapping)}
        )
        reader = PlanReader(plan, default_region)
        proposed = reader.proposed()
        prior = reader.prior()
    elif files is not None:
        proposed = resources_from_hcl(files, variables, default_region, confidential)
    elif state is not None:
        proposed = resources_from_state(state, default_region)
    else:
        raise ValueError("give a plan, HCL files or a state to estimate")
    if state is not None and (plan is not None or files is not None):
        prior = resources_from_state(state, default_region)
    confidential.secrets |= found.values
    report = price_resources(confidential.sanitize(proposed), prices, usage_index, default_region)
    if prior is not None:
        report.prior_total = price_resources(
            confidential.sanitize(prior), prices, usage_index, default_region
        ).total
    report.confidential = confidential
    return report


def resources_of(
    *,
    plan: Mapping[str, Any] | None = None,
    files: Mapping[str, str] | None = None,
    variables: Mapping[str, Any] | None = None,
    default_region: str = "us-east-1",
    catalog: PriceCatalog | None = None,
) -> list[ResourceInput]:
    """The resources an estimate would price (for the usage template), sanitized the same way."""
    prices = catalog or load_catalog()
    confidential = Confidential(vocabulary=prices.vocabulary)
    if plan is not None:
        found = SecretCollector()
        plan = redact_plan(plan, {}, found)
        confidential.add_variables(
            {n: v.get("value") for n, v in (plan.get("variables") or {}).items() if isinstance(v, Mapping)}
        )
        confidential.secrets |= found.values
        proposed = PlanReader(plan, default_region).proposed()
    elif files is not None:
        proposed = resources_from_hcl(files, variables, default_region, confidential)
    else:
        raise ValueError("give a plan or HCL files")
    return confidential.sanitize(proposed)


def price_resources(
    resources: Iterable[ResourceInput], catalog: PriceCatalog, usage: Usage = EMPTY, region: str = "us-east-1"
) -> CostReport:
    items = list(resources)
    index = ResourceIndex(items)
    report = CostReport(region=region, price_date=catalog.as_of, currency=catalog.currency)
    counts: Counter[str] = Counter()
    used_sources: set[str] = set()
    for resource in items:
        if resource.unknown_count is None:  # an unknown number of instances is not counted as one
            counts[resource.type] += 1
        entry = PRICERS.get(resource.type)
        if entry is None:
            if resource.type in FREE_TYPES:
                report.free.append((resource.address, resource.type))
            else:
                report.unpriced_types.append((resource.address, resource.type))
            continue
        category, pricer = entry
        bill = Bill(resource, category, catalog, usage.for_resource(resource.address, resource.type), index)
        pricer(bill)
        cost: ResourceCost = bill.cost
        if resource.unknown_count is not None:
            cost = _unknown_count(cost, resource.unknown_count, catalog.currency)
        used_sources.update(c.source for c in cost.components)
        report.resources.append(cost)
    report.resource_counts = counts
    report.recommendations = recommend(items, report.resources, catalog)
    regions = Counter(r.region for r in items if r.type in PRICERS)
    if regions:
        report.region = regions.most_common(1)[0][0]
    report.sources = [catalog.sources[s] for s in sorted(used_sources) if s in catalog.sources]
    return report


def _unknown_count(one: ResourceCost, why: str, currency: str) -> ResourceCost:
    """A resource with an unknown number of instances: listed with why and what one instance
    would cost, and left out of the total (the total is then a lower bound)."""
    listed = ResourceCost(one.address, one.type, one.category, one.region)
    each = f"; one instance would cost {one.monthly:.2f} {currency} a month" if one.components else ""
    listed.unpriced.append(f"instances: {why}{each}, not in the total")
    return listed
