"""Rebuild the catalog from the AWS Price List bulk files (needs internet; not used at run time).

    python -m tooling.catalog.build_catalog --region us-east-1 --region eu-west-1 [--cache DIR]

Each service's offer for each region comes from
https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<service>/current/<region>/index.json
(``products`` by SKU with their attributes, ``terms.OnDemand`` with price dimensions). Rules below
map a product (its usage type, minus the region prefix, and a few attributes) to a catalog price
key; every price keeps the offer's publication date as its source.
"""

from __future__ import annotations

import argparse
import json
import re
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cost.catalog import DATA_FILE, write_document

OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{service}/current/{region}/index.json"
_REGION_PREFIX = re.compile(r"^[A-Z]{2,4}\d?-(?=[A-Za-z])")
RDS_ENGINES = {"MySQL": "mysql", "MariaDB": "mariadb", "PostgreSQL": "postgres"}
AURORA_ENGINES = {"Aurora MySQL": "aurora-mysql", "Aurora PostgreSQL": "aurora-postgresql"}
LB_FAMILIES = {
    "Load Balancer-Application": "alb",
    "Load Balancer-Network": "nlb",
    "Load Balancer-Gateway": "gwlb",
}
EBS_TYPES = {"gp2": "gp2", "gp3": "gp3", "piops": "io1", "io2": "io2", "st1": "st1", "sc1": "sc1"}

KeyFn = Callable[[str, Mapping[str, str]], "str | None"]


@dataclass(frozen=True)
class Rule:
    service: str
    key: KeyFn
    unit: str
    scale: float = 1.0  # offer unit -> catalog unit (per request -> per 1M requests)
    tier: str = "0"  # the beginRange of the price dimension to take


def _usage(suffix: str, key: str) -> KeyFn:
    return lambda usage, _attrs: key if usage == suffix else None


def _ec2_instance(usage: str, attrs: Mapping[str, str]) -> str | None:
    linux_shared = (
        attrs.get("operatingSystem") == "Linux"
        and attrs.get("tenancy") == "Shared"
        and attrs.get("preInstalledSw") == "NA"
        and attrs.get("capacitystatus") == "Used"
        and attrs.get("licenseModel", "No License required") == "No License required"
    )
    return f"ec2:{attrs['instanceType']}" if usage.startswith("BoxUsage") and linux_shared else None


def _ebs_storage(usage: str, _attrs: Mapping[str, str]) -> str | None:
    if usage == "EBS:VolumeUsage":
        return "ebs:standard:storage"
    if usage.startswith("EBS:VolumeUsage."):
        vtype = EBS_TYPES.get(usage.split(".", 1)[1])
        return f"ebs:{vtype}:storage" if vtype else None
    return None


def _load_balancer(kind: str) -> KeyFn:
    def key(usage: str, attrs: Mapping[str, str]) -> str | None:
        family = attrs.get("productFamily", "")
        short = LB_FAMILIES.get(family, "clb" if family == "Load Balancer" else None)
        if short is None:
            return None
        if kind == "hour" and usage == "LoadBalancerUsage":
            return f"elb:{short}:hour"
        if kind == "lcu" and usage.endswith("LCUUsage") and short in ("alb", "nlb"):
            return f"elb:{short}:lcu"
        if kind == "gb" and usage == "DataProcessing-Bytes" and short == "clb":
            return "elb:clb:gb"
        return None

    return key


def _rds_instance(usage: str, attrs: Mapping[str, str]) -> str | None:
    if not usage.startswith("InstanceUsage") or attrs.get("deploymentOption") != "Single-AZ":
        return None
    engine = attrs.get("databaseEngine", "")
    if engine in RDS_ENGINES and attrs.get("licenseModel") == "No license required":
        return f"rds:{RDS_ENGINES[engine]}:{attrs['instanceType']}"
    if engine in AURORA_ENGINES:
        return f"aurora:{AURORA_ENGINES[engine]}:{attrs['instanceType']}"
    return None


def _rds_storage(usage: str, attrs: Mapping[str, str]) -> str | None:
    if attrs.get("deploymentOption") != "Single-AZ":
        return None
    table = {
        "RDS:GP2-Storage": "rds:storage:gp2",
        "RDS:GP3-Storage": "rds:storage:gp3",
        "RDS:PIOPS-Storage": "rds:storage:io1",
        "RDS:PIOPS": "rds:iops:io1",
        "RDS:GP3-PIOPS": "rds:iops:gp3",
    }
    return table.get(usage)


def _cache_node(usage: str, attrs: Mapping[str, str]) -> str | None:
    engine = attrs.get("cacheEngine", "").lower()
    if usage.startswith("NodeUsage") and engine in ("redis", "memcached", "valkey"):
        return f"elasticache:{engine}:{attrs['instanceType']}"
    return None


RULES: tuple[Rule, ...] = (
    Rule("AmazonEC2", _ec2_instance, "hour"),
    Rule("AmazonEC2", _ebs_storage, "GB-month"),
    Rule("AmazonEC2", _usage("EBS:VolumeP-IOPS.gp3", "ebs:gp3:iops"), "IOPS-month"),
    Rule("AmazonEC2", _usage("EBS:VolumeP-Throughput.gp3", "ebs:gp3:throughput"), "MiBps-month", 1 / 1024),
    Rule("AmazonEC2", _usage("EBS:VolumeP-IOPS.piops", "ebs:io1:iops"), "IOPS-month"),
    Rule("AmazonEC2", _usage("EBS:VolumeP-IOPS.io2", "ebs:io2:iops"), "IOPS-month"),
    Rule("AmazonEC2", _usage("EBS:VolumeP-IOPS.io2", "ebs:io2:iops_tier2"), "IOPS-month", tier="32000"),
    Rule("AmazonEC2", _usage("EBS:VolumeP-IOPS.io2", "ebs:io2:iops_tier3"), "IOPS-month", tier="64000"),
    Rule("AmazonEC2", _usage("EBS:SnapshotUsage", "ebs:snapshot"), "GB-month"),
    Rule("AmazonEC2", _usage("NatGateway-Hours", "nat:hour"), "hour"),
    Rule("AmazonEC2", _usage("NatGateway-Bytes", "nat:gb"), "GB"),
    Rule("AmazonVPC", _usage("PublicIPv4:InUseAddress", "vpc:public_ipv4"), "hour"),
    Rule("AmazonVPC", _usage("VpcEndpoint-Hours", "vpce:interface:hour"), "hour"),
    Rule("AmazonVPC", _usage("VpcEndpoint-Bytes", "vpce:interface:gb"), "GB"),
    Rule("AWSELB", _load_balancer("hour"), "hour"),
    Rule("AWSELB", _load_balancer("lcu"), "LCU-hour"),
    Rule("AWSELB", _load_balancer("gb"), "GB"),
    Rule("AmazonRDS", _rds_instance, "hour"),
    Rule("AmazonRDS", _rds_storage, "GB-month"),
    Rule("AmazonElastiCache", _cache_node, "hour"),
    Rule("AmazonEKS", _usage("AmazonEKS-Hours:perCluster", "eks:cluster:hour"), "hour"),
    Rule("AmazonECS", _usage("Fargate-vCPU-Hours:perCPU", "fargate:vcpu"), "vCPU-hour"),
    Rule("AmazonECS", _usage("Fargate-GB-Hours", "fargate:gb"), "GB-hour"),
    Rule("AmazonECS", _usage("Fargate-ARM-vCPU-Hours:perCPU", "fargate:arm:vcpu"), "vCPU-hour"),
    Rule("AmazonECS", _usage("Fargate-ARM-GB-Hours", "fargate:arm:gb"), "GB-hour"),
    Rule("AWSLambda", _usage("Request", "lambda:requests"), "1M requests", 1e6),
    Rule("AWSLambda", _usage("Lambda-GB-Second", "lambda:x86:gbs"), "GB-second"),
    Rule("AWSLambda", _usage("Lambda-GB-Second-ARM", "lambda:arm:gbs"), "GB-second"),
    Rule("AmazonDynamoDB", _usage("WriteCapacityUnit-Hrs", "dynamodb:wcu"), "WCU-hour"),
    Rule("AmazonDynamoDB", _usage("ReadCapacityUnit-Hrs", "dynamodb:rcu"), "RCU-hour"),
    Rule("AmazonDynamoDB", _usage("WriteRequestUnits", "dynamodb:wru"), "1M WRU", 1e6),
    Rule("AmazonDynamoDB", _usage("ReadRequestUnits", "dynamodb:rru"), "1M RRU", 1e6),
    Rule("AmazonS3", _usage("TimedStorage-ByteHrs", "s3:standard:storage"), "GB-month"),
    Rule("AmazonS3", _usage("Requests-Tier1", "s3:standard:tier1"), "1k requests", 1e3),
    Rule("AmazonS3", _usage("Requests-Tier2", "s3:standard:tier2"), "1k requests", 1e3),
    Rule("awskms", _usage("KMS-Keys", "kms:key"), "month"),
    Rule("awskms", _usage("KMS-Requests", "kms:requests"), "10k requests", 1e4),
    Rule("AWSSecretsManager", _usage("AWSSecretsManager-Secrets", "secretsmanager:secret"), "month"),
    Rule(
        "AWSSecretsManager",
        _usage("AWSSecretsManager-APIRequest", "secretsmanager:requests"),
        "10k requests",
        1e4,
    ),
    Rule("AWSQueueService", _usage("Requests-RBP", "sqs:standard:requests"), "1M requests", 1e6),
    Rule("AWSQueueService", _usage("Requests-FIFO-RBP", "sqs:fifo:requests"), "1M requests", 1e6),
    Rule("AmazonSNS", _usage("Requests-Tier1", "sns:requests"), "1M requests", 1e6),
)
SERVICES = tuple(dict.fromkeys(rule.service for rule in RULES))


def strip_region(usage_type: str) -> str:
    """``USE2-BoxUsage:t3.micro`` -> ``BoxUsage:t3.micro`` (us-east-1 usage types have no prefix)."""
    return _REGION_PREFIX.sub("", usage_type, count=1)


def on_demand_dimensions(offer: Mapping[str, Any], sku: str) -> Iterator[Mapping[str, Any]]:
    for term in (offer.get("terms", {}).get("OnDemand", {}).get(sku) or {}).values():
        yield from (term.get("priceDimensions") or {}).values()


def parse_offer(service: str, offer: Mapping[str, Any]) -> Iterator[tuple[str, str, float]]:
    """(price key, unit, price) for every product a rule of ``service`` recognises."""
    rules = [rule for rule in RULES if rule.service == service]
    for sku, product in (offer.get("products") or {}).items():
        attrs = {str(k): str(v) for k, v in (product.get("attributes") or {}).items()}
        attrs.setdefault("productFamily", str(product.get("productFamily", "")))
        usage = strip_region(attrs.get("usagetype", ""))
        for rule in rules:
            key = rule.key(usage, attrs)
            if key is None:
                continue
            for dimension in on_demand_dimensions(offer, sku):
                if str(dimension.get("beginRange", "0")) != rule.tier:
                    continue
                price = float(dimension.get("pricePerUnit", {}).get("USD", "0"))
                if price > 0:
                    yield key, rule.unit, price * rule.scale


def fetch_offer(service: str, region: str, cache: Path | None) -> dict[str, Any]:
    cached = cache / f"{service}-{region}.json" if cache else None
    if cached is not None and cached.exists():
        document: dict[str, Any] = json.loads(cached.read_text(encoding="utf-8"))
        return document
    url = OFFER_URL.format(service=service, region=region)
    with urllib.request.urlopen(url, timeout=300) as response:  # noqa: S310 - a fixed https URL
        raw = response.read()
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(raw)
    parsed: dict[str, Any] = json.loads(raw)
    return parsed


def build(offers: Mapping[tuple[str, str], Mapping[str, Any]], as_of: str) -> dict[str, Any]:
    """A catalog document from {(service, region): offer}."""
    prices: dict[str, dict[str, Any]] = {}
    sources: dict[str, dict[str, str]] = {}
    for (service, region), offer in sorted(offers.items()):
        published = str(offer.get("publicationDate", ""))[:10]
        source_id = f"aws-price-list:{service}:{published}"
        sources[source_id] = {
            "title": f"AWS Price List bulk API, {service} offer {offer.get('version', '')}",
            "url": OFFER_URL.format(service=service, region=region),
            "date": published,
        }
        for key, unit, price in parse_offer(service, offer):
            entry = prices.setdefault(key, {"unit": unit, "source": source_id, "regions": {}})
            entry["regions"].setdefault(region, price)
            if source_id != entry["source"]:
                entry.setdefault("regionSources", {})[region] = source_id
    return {
        "format": 1,
        "currency": "USD",
        "asOf": as_of,
        "sources": sources,
        "prices": prices,
        "description": "AWS Price List bulk files, on-demand, Linux, shared tenancy.",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--region", action="append", required=True)
    parser.add_argument("--cache", type=Path, help="keep the downloaded offer files here")
    parser.add_argument("--out", type=Path, default=DATA_FILE)
    parser.add_argument("--as-of", required=True, help="the date the offers were downloaded (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    offers = {(s, r): fetch_offer(s, r, args.cache) for s in SERVICES for r in args.region}
    document = build(offers, args.as_of)
    write_document(document, args.out)
    print(f"{args.out}: {len(document['prices'])} price keys from {len(offers)} offers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
