"""Cheaper equivalents for priced resources, with the monthly saving worked out from the catalog.

Each rule looks at one resource (or, for NAT gateways, the set) and its priced components, and
prices the alternative with the same catalog and region. A rule says nothing when the catalog
lacks a price it needs or when the alternative is not cheaper: no saving is ever guessed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from cost.attrs import flag, known, number, text
from cost.catalog import PriceCatalog
from cost.model import HOURS_PER_MONTH, Component, Recommendation, ResourceCost, ResourceInput

# gp2 gives 3 IOPS a GB (100 at least, 16,000 at most); gp3 includes 3,000 IOPS and 125 MiB/s.
GP2_IOPS_PER_GB = 3.0
GP2_MIN_IOPS = 100.0
GP2_MAX_IOPS = 16000.0
GP2_FAST_THROUGHPUT_GB = 170.0  # gp2 above 170 GB reaches 250 MiB/s; gp3 needs 125 MiB/s more
GP3_FREE_IOPS = 3000.0
GP3_MAX_IOPS = 16000.0
GP3_EXTRA_THROUGHPUT = 125.0
IO2_TIERS = ((32000.0, "ebs:io2:iops"), (64000.0, "ebs:io2:iops_tier2"), (math.inf, "ebs:io2:iops_tier3"))

# Previous generation -> current generation families of the same shape (x86).
CURRENT_GENERATION: dict[str, tuple[str, ...]] = {
    "t1": ("t3", "t3a"),
    "t2": ("t3", "t3a"),
    "m1": ("m5", "m6i", "m5a", "m6a"),
    "m3": ("m5", "m6i", "m5a", "m6a"),
    "m4": ("m5", "m6i", "m5a", "m6a"),
    "c1": ("c5", "c6i", "c5a", "c6a"),
    "c3": ("c5", "c6i", "c5a", "c6a"),
    "c4": ("c5", "c6i", "c5a", "c6a"),
    "r3": ("r5", "r6i", "r5a", "r6a"),
    "r4": ("r5", "r6i", "r5a", "r6a"),
    "i2": ("i3", "i4i"),
    "d2": ("d3",),
    "g3": ("g4dn",),
    "p2": ("p3",),
}
# x86 families -> the Graviton (arm64) family of the same shape.
GRAVITON: dict[str, str] = {
    "t3": "t4g",
    "t3a": "t4g",
    "m5": "m6g",
    "m5a": "m6g",
    "m6i": "m6g",
    "m6a": "m6g",
    "m7i": "m7g",
    "m7a": "m7g",
    "m5d": "m6gd",
    "m6id": "m6gd",
    "c5": "c6g",
    "c5a": "c6g",
    "c6i": "c6g",
    "c6a": "c6g",
    "c7i": "c7g",
    "c7a": "c7g",
    "c5d": "c6gd",
    "c6id": "c6gd",
    "c5n": "c6gn",
    "r5": "r6g",
    "r5a": "r6g",
    "r6i": "r6g",
    "r6a": "r6g",
    "r7i": "r7g",
    "r7a": "r7g",
    "r5d": "r6gd",
    "r6id": "r6gd",
}
# DynamoDB auto scaling's default target: provisioned capacity runs at 70% of what is bought.
DYNAMODB_TARGET_UTILIZATION = 0.7
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600.0
DAYS_PER_MONTH = 365.0 / 12.0
LOG_RETENTION_DAYS = {"non-production": 30.0, "production": 90.0}

NON_PRODUCTION = frozenset(
    {"dev", "develop", "development", "test", "testing", "tst", "staging", "stage", "stg", "qa", "uat"}
    | {"sandbox", "sbx", "preview", "demo", "tmp", "temp", "scratch", "experiment", "poc"}
)
PRODUCTION = frozenset({"prod", "production", "prd", "live"})
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Context:
    catalog: PriceCatalog
    resources: Mapping[str, ResourceInput]
    referenced: frozenset[str]

    def price(self, key: str, region: str) -> float | None:
        found = self.catalog.lookup(key, region)
        return None if found is None else found.amount


Rule = Callable[[Context, ResourceInput, ResourceCost], Iterable[Recommendation]]


def recommend(
    resources: Iterable[ResourceInput], costs: Iterable[ResourceCost], catalog: PriceCatalog
) -> list[Recommendation]:
    """Every recommendation for ``costs`` (priced resources), largest saving first."""
    inputs = {r.address: r for r in resources}
    priced = list(costs)
    referenced = frozenset(ref for r in inputs.values() for refs in r.refs.values() for ref in refs)
    context = Context(catalog, inputs, referenced)
    found: list[Recommendation] = []
    for cost in priced:
        resource = inputs.get(cost.address)
        if resource is None:
            continue
        for rule in _rules_for(cost):
            found.extend(rule(context, resource, cost))
    found.extend(shared_nat_gateway(context, priced))
    kept = [r for r in found if round(r.monthly_saving, 2) > 0]
    return sorted(kept, key=lambda r: (-r.monthly_saving, r.address, r.rule))


def environment(resource: ResourceInput) -> str:
    """``production``, ``non-production`` or ``unknown``, from the address, names and tags."""
    words: set[str] = set(_WORD.findall(resource.address.lower()))
    for name in ("name", "identifier", "name_prefix", "cluster_identifier"):
        value = text(resource.attrs, name)
        if value:
            words |= set(_WORD.findall(value.lower()))
    for tags in ("tags", "tags_all"):
        value = resource.attrs.get(tags)
        if isinstance(value, Mapping):
            for tag in value.values():
                if isinstance(tag, str) and known(tag):
                    words |= set(_WORD.findall(tag.lower()))
    if words & PRODUCTION:
        return "production"
    return "non-production" if words & NON_PRODUCTION else "unknown"


def _components(cost: ResourceCost, prefix: str) -> Iterator[Component]:
    return (c for c in cost.components if c.price_key.startswith(prefix) and c.quantity is not None)


# --- EBS ----------------------------------------------------------------------------------------


def gp2_to_gp3(context: Context, resource: ResourceInput, cost: ResourceCost) -> Iterator[Recommendation]:
    gp3 = context.price("ebs:gp3:storage", cost.region)
    iops_price = context.price("ebs:gp3:iops", cost.region)
    mbps_price = context.price("ebs:gp3:throughput", cost.region)
    if gp3 is None or iops_price is None or mbps_price is None:
        return
    for component in _components(cost, "ebs:gp2:storage"):
        total_gb = component.quantity or 0.0
        # A standalone volume knows its size; a block of several instances is priced as one volume,
        # which can only overstate the IOPS top-up (the saving shown is then a floor).
        size = number(resource.attrs, "size", total_gb) if resource.type == "aws_ebs_volume" else total_gb
        size = size or total_gb
        volumes = total_gb / size if size else 1.0
        gp2_iops = min(GP2_MAX_IOPS, max(GP2_MIN_IOPS, GP2_IOPS_PER_GB * size))
        extra_iops = max(0.0, gp2_iops - GP3_FREE_IOPS)
        extra_mbps = GP3_EXTRA_THROUGHPUT if size > GP2_FAST_THROUGHPUT_GB else 0.0
        recommended = total_gb * gp3 + volumes * (extra_iops * iops_price + extra_mbps * mbps_price)
        top_up = f", {extra_iops:,.0f} IOPS" if extra_iops else ""
        top_up += f", +{extra_mbps:g} MiB/s" if extra_mbps else ""
        yield Recommendation(
            cost.address,
            "ebs-gp2-to-gp3",
            f"{component.name}: volume type gp2 → gp3{top_up}",
            component.monthly,
            recommended,
            f"gp3 costs less per GB and includes 3,000 IOPS and 125 MiB/s; provisioned to match "
            f"gp2's {gp2_iops:,.0f} IOPS at {size:g} GB.",
        )


def io1_to_cheaper(context: Context, resource: ResourceInput, cost: ResourceCost) -> Iterator[Recommendation]:
    if resource.type != "aws_ebs_volume" or (text(resource.attrs, "type") or "").lower() != "io1":
        return
    size, iops = number(resource.attrs, "size"), number(resource.attrs, "iops")
    if size is None or iops is None:
        return
    current = sum(c.monthly for c in cost.components)
    options: list[tuple[float, str, str]] = []
    io2 = context.price("ebs:io2:storage", cost.region)
    tier_prices = [context.price(key, cost.region) for _, key in IO2_TIERS]
    if io2 is not None and all(p is not None for p in tier_prices):
        floor, io2_cost = 0.0, size * io2
        for (ceiling, _), price in zip(IO2_TIERS, tier_prices, strict=True):
            if iops > floor:
                io2_cost += (min(iops, ceiling) - floor) * (price or 0.0)
            floor = ceiling
        options.append(
            (io2_cost, "type io1 → io2 (same IOPS)", "io2 has the durability of io1 and tiered IOPS")
        )
    gp3 = context.price("ebs:gp3:storage", cost.region)
    gp3_iops = context.price("ebs:gp3:iops", cost.region)
    if gp3 is not None and gp3_iops is not None and iops <= GP3_MAX_IOPS:
        gp3_cost = size * gp3 + max(0.0, iops - GP3_FREE_IOPS) * gp3_iops
        options.append(
            (
                gp3_cost,
                f"type io1 → gp3 with iops = {iops:,.0f}",
                "gp3 reaches 16,000 IOPS at a fraction of io1's price",
            )
        )
    if not options:
        return
    best, change, why = min(options)
    yield Recommendation(
        cost.address, "ebs-io1", change, current, best, f"{why}; {iops:,.0f} IOPS at {size:g} GB."
    )


# --- EC2 and Lambda -----------------------------------------------------------------------------


# Services whose price key ends in an instance class: ec2:m5.large, rds:postgres:db.m5.large,
# elasticache:redis:cache.m5.large, opensearch:m5.large.search, aurora/docdb like rds.
CLASS_SERVICES = ("ec2:", "rds:", "aurora:", "docdb:", "elasticache:", "opensearch:")


@dataclass(frozen=True, slots=True)
class Swap:
    component: Component
    service: str
    current: str
    cheaper: str
    monthly: float


def _swap_class(price_key: str, family: str) -> tuple[str, str]:
    """The price key and class with the family replaced (``db.m5.large`` -> ``db.m6g.large``)."""
    head, _, last = price_key.rpartition(":")
    tokens = last.split(".")
    at = 1 if tokens[0] in ("db", "cache") else 0
    tokens[at] = family
    cheaper = ".".join(tokens)
    return f"{head}:{cheaper}", cheaper


def _family(price_key: str) -> str | None:
    tokens = price_key.rpartition(":")[2].split(".")
    at = 1 if tokens[0] in ("db", "cache") else 0
    return tokens[at] if len(tokens) > at + 1 else None


def _instance_swap(
    context: Context, cost: ResourceCost, families: Callable[[str], Iterable[str]]
) -> Iterator[Swap]:
    """The cheapest other class for each instance-hours component, where the catalog prices one."""
    for component in cost.components:
        if component.unit != "hours" or component.quantity is None:
            continue
        if not component.price_key.startswith(CLASS_SERVICES):
            continue
        family = _family(component.price_key)
        if family is None:
            continue
        best: tuple[float, str] | None = None
        for candidate in families(family):
            key, cheaper = _swap_class(component.price_key, candidate)
            price = context.price(key, cost.region)
            if price is not None and (best is None or price < best[0]):
                best = (price, cheaper)
        if best is not None:
            current = component.price_key.rpartition(":")[2]
            service = component.price_key.split(":", 1)[0]
            yield Swap(component, service, current, best[1], component.quantity * best[0])


def _noun(service: str) -> str:
    return (
        "instance type" if service == "ec2" else "node type" if service == "elasticache" else "instance class"
    )


def previous_generation(
    context: Context, resource: ResourceInput, cost: ResourceCost
) -> Iterator[Recommendation]:
    for swap in _instance_swap(context, cost, lambda f: CURRENT_GENERATION.get(f, ())):
        yield Recommendation(
            cost.address,
            f"{swap.service}-previous-generation",
            f"{_noun(swap.service)} {swap.current} → {swap.cheaper}",
            swap.component.monthly,
            swap.monthly,
            f"{_family(swap.component.price_key)} is a previous generation; {swap.cheaper} is current, "
            "same vCPUs and memory.",
        )


def graviton(context: Context, resource: ResourceInput, cost: ResourceCost) -> Iterator[Recommendation]:
    for swap in _instance_swap(context, cost, lambda f: (GRAVITON[f],) if f in GRAVITON else ()):
        needs = (
            "an arm64 AMI and arm64 builds of your software" if swap.service == "ec2" else "no code change"
        )
        yield Recommendation(
            cost.address,
            f"{swap.service}-graviton",
            f"{_noun(swap.service)} {swap.current} → {swap.cheaper} (arm64)",
            swap.component.monthly,
            swap.monthly,
            f"Graviton (arm64) of the same size; needs {needs}.",
        )
    arm = context.price("lambda:arm:gbs", cost.region)
    for component in _components(cost, "lambda:x86:gbs"):
        if arm is None:
            break
        yield Recommendation(
            cost.address,
            "lambda-arm64",
            'architectures = ["arm64"]',
            component.monthly,
            (component.quantity or 0.0) * arm,
            "arm64 Lambda duration costs 20% less per GB-second; needs arm64 builds of native dependencies.",
        )


# --- networking ---------------------------------------------------------------------------------


def unattached_eip(context: Context, resource: ResourceInput, cost: ResourceCost) -> Iterator[Recommendation]:
    if resource.type != "aws_eip":
        return
    attrs = resource.attrs
    attached = any(
        known(attrs.get(n)) and attrs.get(n) not in ("", []) for n in ("instance", "network_interface")
    )
    attached = attached or any(name in resource.refs for name in ("instance", "network_interface"))
    attached = attached or bool(text(attrs, "association_id"))
    base = re.sub(r"\[[^\[\]]*\]$", "", resource.address)
    if attached or resource.address in context.referenced or base in context.referenced:
        return
    yield Recommendation(
        cost.address,
        "eip-unattached",
        "release the Elastic IP (or attach it)",
        cost.monthly,
        0.0,
        "Nothing in this configuration uses the address; an idle public IPv4 bills $0.005 an hour.",
    )


def shared_nat_gateway(context: Context, costs: Iterable[ResourceCost]) -> Iterator[Recommendation]:
    by_region: dict[str, list[ResourceCost]] = {}
    for cost in costs:
        resource = context.resources.get(cost.address)
        if cost.type != "aws_nat_gateway" or resource is None or environment(resource) == "production":
            continue
        if any(c.price_key == "nat:hour" for c in cost.components):
            by_region.setdefault(cost.region, []).append(cost)
    for gateways in by_region.values():
        if len(gateways) < 2:
            continue
        keep, *others = sorted(gateways, key=lambda c: c.address)
        for cost in others:
            hours = sum(c.monthly for c in cost.components if c.price_key == "nat:hour")
            yield Recommendation(
                cost.address,
                "nat-gateway-shared",
                f"route this AZ's private subnets through {keep.address} and remove this gateway",
                hours,
                0.0,
                f"{len(gateways)} NAT gateways, one per AZ: outside production one shared gateway does; "
                "data processing is unchanged, cross-AZ traffic bills $0.01/GB each way, and an AZ "
                "outage then cuts egress for every AZ.",
            )


# --- databases ----------------------------------------------------------------------------------


def dynamodb_provisioned(
    context: Context, resource: ResourceInput, cost: ResourceCost
) -> Iterator[Recommendation]:
    wru = [c for c in cost.components if c.price_key == "dynamodb:wru"]
    rru = [c for c in cost.components if c.price_key == "dynamodb:rru"]
    if not wru or not rru or all(c.quantity is None for c in (*wru, *rru)):
        return
    wcu_price = context.price("dynamodb:wcu", cost.region)
    rcu_price = context.price("dynamodb:rcu", cost.region)
    if wcu_price is None or rcu_price is None:
        return
    # Request units are priced per million; at a steady rate one unit a second is one capacity unit.
    writes = (wru[0].quantity or 0.0) * 1e6 / SECONDS_PER_MONTH
    reads = (rru[0].quantity or 0.0) * 1e6 / SECONDS_PER_MONTH
    wcu = max(1, math.ceil(writes / DYNAMODB_TARGET_UTILIZATION))
    rcu = max(1, math.ceil(reads / DYNAMODB_TARGET_UTILIZATION))
    provisioned = (wcu * wcu_price + rcu * rcu_price) * HOURS_PER_MONTH
    yield Recommendation(
        cost.address,
        "dynamodb-provisioned",
        f'billing_mode = "PROVISIONED", write_capacity = {wcu}, read_capacity = {rcu}',
        wru[0].monthly + rru[0].monthly,
        provisioned,
        f"at a steady {writes:,.2f} writes/s and {reads:,.2f} reads/s, capacity at auto scaling's 70% "
        "target costs less than on-demand requests; spiky traffic may still favour on-demand.",
    )


# RDS gp3 (MySQL, MariaDB, PostgreSQL) includes 3,000 IOPS under 400 GB and 12,000 from 400 GB,
# and provisions up to 64,000 (AWS RDS User Guide, "Amazon RDS DB instance storage").
RDS_GP3_ENGINES = ("mysql", "mariadb", "postgres")
RDS_GP3_LARGE_GB = 400.0
RDS_GP3_MAX_IOPS = 64000.0


def rds_io1_to_gp3(context: Context, resource: ResourceInput, cost: ResourceCost) -> Iterator[Recommendation]:
    if resource.type != "aws_db_instance":
        return
    engine = (text(resource.attrs, "engine") or "").lower()
    size, iops = number(resource.attrs, "allocated_storage"), number(resource.attrs, "iops")
    kind = (text(resource.attrs, "storage_type") or ("io1" if iops else "gp2")).lower()
    if kind != "io1" or size is None or iops is None or not engine.startswith(RDS_GP3_ENGINES):
        return
    storage = context.price("rds:storage:gp3", cost.region)
    per_iops = context.price("rds:iops:gp3", cost.region)
    baseline = 12000.0 if size >= RDS_GP3_LARGE_GB else 3000.0
    if (
        storage is None
        or per_iops is None
        or iops > RDS_GP3_MAX_IOPS
        or (size < RDS_GP3_LARGE_GB and iops > baseline)
    ):
        return  # under 400 GB gp3 cannot provision beyond its 3,000 IOPS
    copies = 2.0 if flag(resource.attrs, "multi_az") else 1.0
    current = sum(c.monthly for c in cost.components if c.price_key in ("rds:storage:io1", "rds:iops:io1"))
    recommended = copies * (size * storage + max(0.0, iops - baseline) * per_iops)
    yield Recommendation(
        cost.address,
        "rds-io1-to-gp3",
        f'storage_type = "gp3", iops = {iops:,.0f}'
        if iops > baseline
        else 'storage_type = "gp3" (drop iops)',
        current,
        recommended,
        f"gp3 at {size:g} GB includes {baseline:,.0f} IOPS; io1 bills every provisioned IOPS.",
    )


def multi_az_non_production(
    context: Context, resource: ResourceInput, cost: ResourceCost
) -> Iterator[Recommendation]:
    if resource.type != "aws_db_instance" or not flag(resource.attrs, "multi_az"):
        return
    if environment(resource) != "non-production":
        return
    doubled = sum(c.monthly for c in cost.components if not c.usage_based)
    yield Recommendation(
        cost.address,
        "rds-multi-az-non-production",
        "multi_az = false",
        doubled,
        doubled / 2.0,
        "a non-production database (by its name or tags) rarely needs a standby; Multi-AZ bills "
        "the instance and its storage twice.",
    )


# --- logs ---------------------------------------------------------------------------------------


def log_retention(context: Context, resource: ResourceInput, cost: ResourceCost) -> Iterator[Recommendation]:
    if resource.type != "aws_cloudwatch_log_group":
        return
    stored = next(_components(cost, "logs:storage"), None)
    if stored is None:
        return
    retention = number(resource.attrs, "retention_in_days", 0.0) or 0.0  # 0: never expire
    kind = "production" if environment(resource) != "non-production" else "non-production"
    target = LOG_RETENTION_DAYS[kind]
    if 0 < retention <= target:
        return
    ingested = next(_components(cost, "logs:ingest"), None)
    stored_gb = stored.quantity or 0.0
    if ingested is not None:
        # At steady state a group keeps what it ingests over its retention period.
        kept_gb = min(stored_gb, (ingested.quantity or 0.0) * target / DAYS_PER_MONTH)
    elif retention > 0:
        kept_gb = stored_gb * target / retention
    else:
        return  # never expires and no ingestion rate: what would be kept is unknown
    yield Recommendation(
        cost.address,
        "log-retention",
        f"retention_in_days = {target:g}",
        stored.monthly,
        kept_gb * stored.unit_price,
        f"logs kept {'forever' if retention == 0 else f'{retention:g} days'}; {target:g} days is the "
        f"usual ceiling for {kind} logs unless compliance requires more (archive to S3 otherwise).",
    )


# Rules by what they look at, so a 10,000-resource plan runs only the rules that can apply.
BY_TYPE: dict[str, tuple[Rule, ...]] = {
    "aws_ebs_volume": (io1_to_cheaper,),
    "aws_eip": (unattached_eip,),
    "aws_dynamodb_table": (dynamodb_provisioned,),
    "aws_db_instance": (multi_az_non_production, rds_io1_to_gp3),
    "aws_cloudwatch_log_group": (log_retention,),
}
BY_PRICE_PREFIX: tuple[tuple[str, tuple[Rule, ...]], ...] = (
    ("ebs:gp2:storage", (gp2_to_gp3,)),
    *((service, (previous_generation, graviton)) for service in CLASS_SERVICES),
    ("lambda:x86:gbs", (graviton,)),
)
RULES: tuple[Rule, ...] = tuple(
    dict.fromkeys(
        [
            *(r for rules in BY_TYPE.values() for r in rules),
            *(r for _, rules in BY_PRICE_PREFIX for r in rules),
        ]
    )
)


def _rules_for(cost: ResourceCost) -> list[Rule]:
    rules: list[Rule] = list(BY_TYPE.get(cost.type, ()))
    for prefix, wanted in BY_PRICE_PREFIX:
        if any(c.price_key.startswith(prefix) for c in cost.components):
            rules.extend(r for r in wanted if r not in rules)
    return rules


__all__ = ["RULES", "environment", "recommend"]
