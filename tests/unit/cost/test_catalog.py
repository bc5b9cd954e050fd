"""The bundled catalog: real list prices, each with a source and a date."""

from __future__ import annotations

import re

import pytest

from cost.catalog import DATA_FILE, load_catalog

REQUIRED_REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1")

# Fixed prices checked against a citation that is NOT the source the catalog took the figure from,
# so a transcription slip in either shows up. (key, region, cited $, citation)
CITED = [
    ("ec2:t3.micro", "us-east-1", 0.0104, "sparecores-data 0.1.0 server_price, AWS Pricing API 2024-02-21"),
    ("ec2:m5.large", "us-east-1", 0.096, "sparecores-data 0.1.0 server_price, AWS Pricing API 2024-02-21"),
    ("ec2:m5.large", "eu-west-1", 0.107, "finops-mcp 0.12.0 aws_prices.py: AmazonEC2 offer 20261012193925"),
    (
        "ec2:m5.large",
        "ap-southeast-1",
        0.12,
        "finops-mcp 0.12.0 aws_prices.py: AmazonEC2 offer 20261012193925",
    ),
    ("ec2:t4g.small", "eu-central-1", 0.0192, "Frankfurt list-price note, AWS Pricing API 2026-08-26"),
    ("nat:hour", "us-east-1", 32.85 / 730, "infracost nat_gateway_test.golden: 730 hours $32.85"),
    ("elb:alb:hour", "us-east-1", 16.42 / 730, "infracost lb_test.golden: 730 hours $16.42"),
    ("vpc:public_ipv4", "us-east-1", 3.65 / 730, "infracost eip_test.golden: 730 hours $3.65"),
    ("ebs:gp3:storage", "us-east-1", 3.20 / 40, "infracost ebs_volume_test.golden: gp3 40 GB $3.20"),
    ("ebs:gp2:storage", "us-east-1", 1.00 / 10, "infracost ebs_volume_test.golden: gp2 10 GB $1.00"),
    (
        "rds:mysql:db.t3.large",
        "us-east-1",
        99.28 / 730,
        "infracost db_instance_test.golden: 730 hours $99.28",
    ),
    ("rds:postgres:db.t3.large", "us-east-1", 105.85 / 730, "infracost db_instance_test.golden: $105.85"),
    ("rds:mysql:db.m5.large", "us-east-1", 124.83 / 730, "infracost db_instance_test.golden: $124.83"),
    ("fargate:vcpu", "us-east-1", 0.04048, "finops-mcp 0.12.0 analyzers/waste.py _FARGATE_VCPU_HOURLY_X86"),
    (
        "elasticache:redis:cache.m5.large",
        "us-east-1",
        227.76 / 1460,
        "infracost elasticache_cluster_test.golden: cache.m4.large (same rate) 1,460 hours $227.76",
    ),
    (
        "nat:hour",
        "ap-southeast-1",
        0.059,
        "basavytix.com NAT pricing post: 'ap-southeast-1 (Singapore) is $0.059/hr'",
    ),
    (
        "ebs:gp3:storage",
        "eu-central-1",
        97.48 / 1024,
        "hendric-jabs.de 2023-11-02: 1024 GiB gp3 x $0.0952 = $97.48",
    ),
    ("vpc:public_ipv4", "eu-central-1", 0.005, "Haufe Akademie: USD 0.005 per hour and IP, all AWS regions"),
    ("nat:hour", "us-east-2", 0.045, "rajesh.medampudi.com: us-east-2 (Ohio) $0.045 per NAT Gateway-hour"),
]

# Regional prices read by hand from the source each row cites (the catalog's own source).
REGIONAL = [
    ("fargate:vcpu", "eu-central-1", 0.04656, "theuves/fgcalc src/utils/data.js: EU (Frankfurt) normal.cpu"),
    (
        "fargate:gb",
        "ap-southeast-1",
        0.00553,
        "theuves/fgcalc src/utils/data.js: Asia Pacific (Singapore) normal.ram",
    ),
    ("fargate:vcpu", "us-west-2", 0.04048, "theuves/fgcalc src/utils/data.js: US West (Oregon) normal.cpu"),
    (
        "ebs:gp2:storage",
        "eu-central-1",
        121.86 / 1024,
        "hendric-jabs.de 2023-11-02: 1024 GiB gp2 x $0.119 = $121.86",
    ),
    ("ebs:gp3:throughput", "eu-central-1", 6.0 / 125, "hendric-jabs.de 2023-11-02: 125 MiB/s x $0.048 = $6"),
    (
        "ebs:gp3:storage",
        "eu-west-1",
        0.088,
        "finops-mcp 0.12.0 analyzers/optimizer.py: eu-west-1 gp3 $0.088/GB-month",
    ),
    ("nat:gb", "us-east-2", 4.50 / 100, "cloudburn.io 2026-02-24: US East Ohio, 100 GB processed $4.50"),
    (
        "vpc:public_ipv4",
        "ap-southeast-1",
        0.005,
        "Haufe Akademie: USD 0.005 per hour and IP, all AWS regions",
    ),
    (
        "ec2:p3.2xlarge",
        "ap-southeast-1",
        4.234,
        "finops-mcp 0.12.0 aws_prices.py: AmazonEC2 offer 20261012193925",
    ),
]


@pytest.mark.parametrize(("key", "region", "cited", "citation"), CITED, ids=[f"{c[0]}@{c[1]}" for c in CITED])
def test_fixed_prices_match_the_cited_list_price_within_one_percent(
    key: str, region: str, cited: float, citation: str
) -> None:
    # Given the bundled catalog
    catalog = load_catalog()
    # When the price is looked up
    price = catalog.lookup(key, region)
    # Then it exists and is within 1% of the cited public list price
    assert price is not None, f"{key} in {region} missing ({citation})"
    assert price.amount == pytest.approx(cited, rel=0.01), citation


@pytest.mark.parametrize(
    ("key", "region", "cited", "citation"), REGIONAL, ids=[f"{c[0]}@{c[1]}" for c in REGIONAL]
)
def test_regional_prices_match_their_source(key: str, region: str, cited: float, citation: str) -> None:
    # Given the bundled catalog / When a price outside us-east-1 is looked up
    price = load_catalog().lookup(key, region)
    # Then it is the figure its source states for that region, and names a non-snapshot source
    assert price is not None, f"{key} in {region} missing ({citation})"
    assert price.amount == pytest.approx(cited, rel=0.005), citation
    assert price.source != "sparecores-data-0.1.0", citation


@pytest.mark.parametrize("region", REQUIRED_REGIONS)
def test_route53_bills_one_global_price(region: str) -> None:
    # Given Route 53, whose offer has the single location 'Global' / Then every region gets that price
    price = load_catalog().lookup("route53:zone", region)
    assert price is not None and (price.region, price.amount) == ("global", 0.5)


def test_every_price_names_a_dated_source() -> None:
    # Given the catalog / When every entry is checked
    catalog = load_catalog()
    # Then each names a source the catalog describes, with a title and a date
    assert len(catalog) > 10_000
    for price in catalog.entries():
        source = catalog.sources[price.source]
        assert source.title and source.date, price
        assert price.amount > 0, price
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", catalog.as_of)


@pytest.mark.parametrize("region", REQUIRED_REGIONS)
def test_instance_hours_cover_the_required_regions(region: str) -> None:
    # Given common instance types / When looked up in each required region / Then all are priced
    catalog = load_catalog()
    for instance_type in (
        "t3.micro",
        "t3.medium",
        "m5.large",
        "c5.xlarge",
        "r5.large",
        "t4g.small",
        "m6g.large",
    ):
        price = catalog.lookup(f"ec2:{instance_type}", region)
        # priced in that very region (not a global fallback), by the hour, at a real amount
        assert price is not None, (instance_type, region)
        assert (price.key, price.region) == (f"ec2:{instance_type}", region)
        assert price.amount > 0 and price.unit == "hour", price


def test_regional_prices_differ_where_aws_lists_them_differently() -> None:
    # Given t3.micro / Then Singapore lists higher than N. Virginia (0.0132 vs 0.0104)
    catalog = load_catalog()
    east = catalog.lookup("ec2:t3.micro", "us-east-1")
    singapore = catalog.lookup("ec2:t3.micro", "ap-southeast-1")
    assert east is not None and singapore is not None
    assert (east.amount, singapore.amount) == (0.0104, 0.0132)


def test_prices_changed_since_the_2024_snapshot_are_not_published_stale() -> None:
    # Given p5.48xlarge, cut from $98.32 to $55.04 in us-east-1 after the 2024 snapshot
    catalog = load_catalog()
    # Then us-east-1 has the current price and other regions are unpriced rather than stale
    current = catalog.lookup("ec2:p5.48xlarge", "us-east-1")
    assert current is not None and current.amount == 55.04
    assert catalog.lookup("ec2:p5.48xlarge", "us-east-2") is None


def test_bundled_file_is_compact() -> None:
    assert DATA_FILE.stat().st_size < 500_000
