"""Regional truth: every price is the figure a source states for that very region, never borrowed."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from cost import estimate
from cost.catalog import load_catalog
from tooling.catalog.regions import borrowed_rows, names_region
from tooling.catalog.seed_catalog import TRANSCRIBED, compile_catalog

SIX_REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1")


def _transcribed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(TRANSCRIBED.read_text(encoding="utf-8"))
    return document


def test_every_transcribed_row_cites_its_own_region() -> None:
    # Given every row read by hand from a source / Then its citation names the region it is filed under
    document = _transcribed()
    assert borrowed_rows(document["prices"], document["sources"]) == []


def test_a_price_copied_to_another_region_is_refused_by_the_build() -> None:
    # Given the us-east-2 DynamoDB write price copied, citation and all, to us-west-2
    document = copy.deepcopy(_transcribed())
    row = next(r for r in document["prices"] if (r["key"], r["region"]) == ("dynamodb:wru", "us-east-2"))
    document["prices"].append({**row, "region": "us-west-2"})
    # When the catalog is compiled / Then the build stops instead of publishing a borrowed price
    with pytest.raises(ValueError, match=r"dynamodb:wru@us-west-2"):
        compile_catalog(None, document, "2026-12-02")


@pytest.mark.parametrize(
    ("ref", "region", "names"),
    [
        ("dynamodb_table_test.golden (provider region us-east-2)", "us-east-2", True),
        ("dynamodb_table_test.golden (provider region us-east-2)", "us-east-1", False),
        ("src/utils/data.js: EU (Frankfurt) normal.cpu", "eu-central-1", True),
        ("AmazonEC2 EUC1-EBS:VolumeUsage.gp3", "eu-central-1", True),
        ("US East (Ohio): $0.045 per GB", "us-east-2", True),
        ("an offer for us-east-10", "us-east-1", False),
        ("AmazonRoute53 offer location 'Global'", "global", True),
    ],
)
def test_region_names_in_citations(ref: str, region: str, names: bool) -> None:
    assert names_region(ref, region) is names


def test_the_bundled_catalog_holds_only_transcribed_or_region_keyed_prices() -> None:
    # Given the bundled catalog and the rows it was compiled from
    document = _transcribed()
    rows = {(r["key"], r["region"]): r for r in document["prices"]}
    catalog = load_catalog()
    # Then each price is a hand-read row of that region, or comes from a table keyed by region
    for price in catalog.entries():
        source = document["sources"][price.source]
        if source.get("regionKeyed"):
            continue
        row = rows.get((price.key, price.region))
        assert row is not None, price
        assert (row["source"], float(row["price"])) == (price.source, price.amount), price


def test_dynamodb_on_demand_in_ohio_is_priced_from_an_ohio_source() -> None:
    # Given a pay-per-request table in us-east-2, which was priced $0 before (the rows read from
    # Infracost's dynamodb_table_test, whose only provider is us-east-2, were filed under us-east-1)
    hcl = (
        'provider "aws" {\n region = "us-east-2"\n}\n'
        'resource "aws_dynamodb_table" "t" {\n name = "t"\n billing_mode = "PAY_PER_REQUEST"\n'
        ' hash_key = "id"\n}'
    )
    usage = {
        "aws_dynamodb_table.t": {
            "monthly_write_request_units": 3_000_000,
            "monthly_read_request_units": 8_000_000,
            "storage_gb": 230,
        }
    }
    # When estimated
    report = estimate(files={"main.tf": hcl}, usage=usage).to_dict()
    # Then 3M WRU x $0.625/M + 8M RRU x $0.125/M + 230 GB x $0.25 (the golden's $1.88, $1.00, $57.50)
    assert report["region"] == "us-east-2"
    assert report["costs"]["total"] == pytest.approx(round(3 * 0.625 + 8 * 0.125 + 230 * 0.25, 2), abs=0.011)
    assert report["unpriced"] == []


def test_dynamodb_provisioned_in_ohio_matches_the_golden() -> None:
    # Given 20 WCU and 30 RCU in us-east-2 / Then 20 x 730 x $0.00065 + 30 x 730 x $0.00013
    hcl = (
        'provider "aws" {\n region = "us-east-2"\n}\n'
        'resource "aws_dynamodb_table" "t" {\n name = "t"\n read_capacity = 30\n write_capacity = 20\n}'
    )
    report = estimate(files={"main.tf": hcl}).to_dict()
    assert report["costs"]["total"] == pytest.approx(
        round(20 * 730 * 0.00065 + 30 * 730 * 0.00013, 2), abs=0.011
    )


@pytest.mark.parametrize("region", SIX_REGIONS)
def test_dynamodb_on_demand_is_priced_or_said_to_be_unpriced_in_each_region(region: str) -> None:
    # Given an on-demand table with usage in each of the six regions
    hcl = (
        f'provider "aws" {{\n region = "{region}"\n}}\n'
        'resource "aws_dynamodb_table" "t" {\n name = "t"\n billing_mode = "PAY_PER_REQUEST"\n}'
    )
    usage = {"aws_dynamodb_table.t": {"monthly_write_request_units": 1_000_000}}
    report = estimate(files={"main.tf": hcl}, usage=usage).to_dict()
    priced = [c for r in report["resources"] for c in r["components"] if c["priceKey"] == "dynamodb:wru"]
    unpriced = [u for u in report["unpriced"] if u["component"] == "Write request units"]
    # Then the write requests are either priced at that region's own price or listed as unpriced
    assert len(priced) + len(unpriced) == 1
    if priced:
        price = load_catalog().lookup("dynamodb:wru", region)
        assert price is not None and price.region == region
        assert priced[0]["unitPrice"] == price.amount


def test_eu_west_1_dynamodb_is_unpriced_rather_than_borrowed() -> None:
    # Given no source states DynamoDB prices for Ireland / Then the catalog has none there
    catalog = load_catalog()
    for key in ("dynamodb:wru", "dynamodb:rru", "dynamodb:wcu", "dynamodb:rcu", "dynamodb:storage"):
        assert catalog.lookup(key, "eu-west-1") is None, key


# Prices read for us-east-2 from sources that name it (key, price, what the source states).
OHIO = [
    ("lambda:requests", 0.20, "USE2-Request: $0.20 per 1M requests"),
    ("lambda:x86:gbs", 0.0000166667, "USE2-Lambda-GB-Second"),
    ("lambda:arm:gbs", 0.0000133334, "USE2-Lambda-GB-Second-ARM"),
    ("logs:ingest", 0.50, "USE2-DataProcessing-Bytes: $0.50 per GB"),
    ("logs:storage", 0.03, "USE2-TimedStorage-ByteHrs: $0.03 per GB-month"),
    ("ecr:storage", 0.10, "AmazonECR USE2-TimedStorage-ByteHrs: $0.10 per GB-month"),
    ("elb:alb:hour", 16.43 / 730, "ALB $16.43 a month at 730 hours"),
    ("dynamodb:wru", 1.88 / 3, "dynamodb_table_test.golden: 3,000,000 WRUs $1.88"),
    ("docdb:db.t3.medium", 56.94 / 730, "docdb_cluster_instance_test.golden: mediumue2 730 h $56.94"),
]


@pytest.mark.parametrize(("key", "cited", "statement"), OHIO, ids=[row[0] for row in OHIO])
def test_ohio_prices_are_ohio_sources(key: str, cited: float, statement: str) -> None:
    # Given a price filed under us-east-2 / Then it is that region's own row, at the stated figure
    price = load_catalog().lookup(key, "us-east-2")
    assert price is not None and price.region == "us-east-2", statement
    assert price.amount == pytest.approx(cited, rel=0.01), statement


# Small configurations in the README's regions, each priced from that region's own rows, with the
# monthly figure worked by hand from the cited rates (730 hours a month).
RDS_T3_SMALL = (
    'resource "aws_db_instance" "d" {\n engine = "postgres"\n instance_class = "db.t3.small"\n'
    ' allocated_storage = 20\n storage_type = "gp3"\n}'
)
S3_BUCKET = 'resource "aws_s3_bucket" "b" {\n bucket = "b"\n}'
S3_USAGE = {
    "aws_s3_bucket.b": {
        "standard": {"storage_gb": 100, "monthly_tier_1_requests": 10_000, "monthly_tier_2_requests": 100_000}
    }
}
NLB = 'resource "aws_lb" "n" {\n load_balancer_type = "network"\n}'
ALB = 'resource "aws_lb" "a" {\n load_balancer_type = "application"\n}'
CLB = (
    'resource "aws_elb" "c" {\n listener {\n instance_port = 80\n instance_protocol = "http"\n'
    ' lb_port = 80\n lb_protocol = "http"\n }\n}'
)
LOG_GROUP = 'resource "aws_cloudwatch_log_group" "g" {\n name = "g"\n}'
ON_DEMAND_TABLE = (
    'resource "aws_dynamodb_table" "t" {\n name = "t"\n billing_mode = "PAY_PER_REQUEST"\n hash_key = "id"\n}'
)


def _volume(region: str, size: int, kind: str, iops: int | None = None) -> str:
    extra = f"\n iops = {iops}" if iops is not None else ""
    return (
        f'resource "aws_ebs_volume" "v" {{\n availability_zone = "{region}a"\n size = {size}\n'
        f' type = "{kind}"{extra}\n}}'
    )


# (case, region, resources, usage, hand-worked monthly total, components left unpriced)
REGIONAL_ESTIMATES: list[tuple[str, str, str, dict[str, Any], float, list[str]]] = [
    # Singapore, from the May 2025 AWS bill's APS1 line items
    (
        "rds-postgres-db.t3.small-gp3-singapore",
        "ap-southeast-1",
        RDS_T3_SMALL,
        {},
        730 * 0.056 + 20 * 0.138,  # 40.88 + 2.76
        ["Additional backup storage"],
    ),
    ("ebs-gp3-singapore", "ap-southeast-1", _volume("ap-southeast-1", 100, "gp3"), {}, 100 * 0.096, []),
    ("alb-singapore", "ap-southeast-1", ALB, {}, 730 * 0.0252, ["Load balancer capacity units"]),
    (
        "s3-standard-singapore",
        "ap-southeast-1",
        S3_BUCKET,
        S3_USAGE,
        100 * 0.025 + 10 * 0.005 + 100 * 0.0004,  # 2.50 + 0.05 + 0.04
        [],
    ),
    (
        "secret-and-kms-key-singapore",
        "ap-southeast-1",
        'resource "aws_secretsmanager_secret" "s" {\n name = "s"\n}\nresource "aws_kms_key" "k" {}',
        {"aws_secretsmanager_secret.s": {"monthly_requests": 100_000}},
        0.40 + 10 * 0.05 + 1.00,
        ["Requests"],  # KMS requests: the bill shows only the free tier
    ),
    (
        "logs-singapore",
        "ap-southeast-1",
        LOG_GROUP,
        {"aws_cloudwatch_log_group.g": {"monthly_data_ingested_gb": 10, "storage_gb": 100}},
        10 * 0.70 + 100 * 0.03,  # the bill's ingest rate, the 2026-08-12 Price List query's storage rate
        [],
    ),
    (
        "lambda-arm64-and-alarm-singapore",
        "ap-southeast-1",
        'resource "aws_lambda_function" "f" {\n function_name = "f"\n role = "r"\n memory_size = 512\n'
        ' architectures = ["arm64"]\n}\n'
        'resource "aws_cloudwatch_metric_alarm" "a" {\n alarm_name = "a"\n comparison_operator = "GreaterThanThreshold"\n'
        ' evaluation_periods = 1\n metric_name = "Errors"\n namespace = "AWS/Lambda"\n period = 300\n'
        ' statistic = "Sum"\n threshold = 1\n}',
        {"aws_lambda_function.f": {"monthly_requests": 2_000_000, "request_duration_ms": 200}},
        2 * 0.20 + 2_000_000 * 0.2 * 0.5 * 0.0000133334 + 0.10,  # 0.40 + 2.67 + 0.10
        [],
    ),
    (
        "dynamodb-reads-singapore",
        "ap-southeast-1",
        ON_DEMAND_TABLE,
        {"aws_dynamodb_table.t": {"monthly_read_request_units": 8_000_000}},
        8 * 0.1425,
        ["Write request units", "Data storage"],
    ),
    (
        "ecr-singapore",
        "ap-southeast-1",
        'resource "aws_ecr_repository" "r" {\n name = "r"\n}',
        {"aws_ecr_repository.r": {"storage_gb": 50}},
        50 * 0.10,
        [],
    ),
    # Ireland, from Infracost's elastic_beanstalk_environment_test golden (provider eu-west-1)
    (
        "ebs-io1-ireland",
        "eu-west-1",
        _volume("eu-west-1", 100, "io1", iops=1000),
        {},
        100 * 0.138 + 1000 * 0.072,  # 13.80 + 72.00
        [],
    ),
    ("ebs-gp2-ireland", "eu-west-1", _volume("eu-west-1", 50, "gp2"), {}, 50 * 0.11, []),
    (
        "clb-ireland",
        "eu-west-1",
        CLB,
        {"aws_elb.c": {"monthly_data_processed_gb": 10_000}},
        730 * 0.028 + 10_000 * 0.008,  # 20.44 + 80.00
        [],
    ),
    ("nlb-ireland", "eu-west-1", NLB, {}, 730 * 0.0252, []),
    ("alb-ireland", "eu-west-1", ALB, {}, 730 * 0.0252, []),
    (
        "logs-ireland",
        "eu-west-1",
        LOG_GROUP,
        {"aws_cloudwatch_log_group.g": {"monthly_data_ingested_gb": 10, "storage_gb": 100}},
        10 * 0.57 + 100 * 0.03,
        [],
    ),
    # Ohio, from opencost's AmazonEC2 offer extract for us-east-2
    (
        "ebs-gp3-and-nlb-ohio",
        "us-east-2",
        _volume("us-east-2", 100, "gp3") + "\n" + NLB,
        {},
        100 * 0.08 + 730 * 0.0225,  # 8.00 + 16.43
        ["Load balancer capacity units"],
    ),
    # Oregon, from the May 2025 bill's USW2 lines and a 2019 Oregon bill
    (
        "s3-and-gp2-oregon",
        "us-west-2",
        S3_BUCKET + "\n" + _volume("us-west-2", 100, "gp2"),
        S3_USAGE,
        100 * 0.023 + 100 * 0.0004 + 100 * 0.10,  # 2.30 + 0.04 + 10.00
        ["Standard PUT, COPY, POST, LIST requests"],
    ),
    # Frankfurt, from the May 2025 bill's EUC1 line
    (
        "s3-storage-frankfurt",
        "eu-central-1",
        S3_BUCKET,
        {"aws_s3_bucket.b": {"standard": {"storage_gb": 100}}},
        100 * 0.0245,
        ["Standard GET, SELECT and other requests", "Standard PUT, COPY, POST, LIST requests"],
    ),
    # RDS and ElastiCache outside us-east-1: a Price List slice and a 2024 CUR for Frankfurt, a
    # Cost Explorer note for Ireland (storage is stated for neither, so it stays unpriced)
    (
        "rds-postgres-db.t4g.micro-ireland",
        "eu-west-1",
        'resource "aws_db_instance" "d" {\n engine = "postgres"\n instance_class = "db.t4g.micro"\n'
        " allocated_storage = 20\n}",
        {},
        730 * 0.017,
        ["Storage (gp2, Single-AZ)"],
    ),
    (
        "rds-mysql-db.t3.small-frankfurt",
        "eu-central-1",
        'resource "aws_db_instance" "d" {\n engine = "mysql"\n instance_class = "db.t3.small"\n'
        " allocated_storage = 20\n}",
        {},
        730 * 0.04,
        ["Storage (gp2, Single-AZ)", "Additional backup storage"],
    ),
    (
        "elasticache-redis-cache.t3.small-frankfurt",
        "eu-central-1",
        'resource "aws_elasticache_cluster" "c" {\n cluster_id = "c"\n engine = "redis"\n'
        ' node_type = "cache.t3.small"\n num_cache_nodes = 1\n}',
        {},
        730 * 0.038,
        ["Snapshot storage"],
    ),
    (
        "elasticache-memcached-2x-cache.r5.large-frankfurt",
        "eu-central-1",
        'resource "aws_elasticache_cluster" "c" {\n cluster_id = "c"\n engine = "memcached"\n'
        ' node_type = "cache.r5.large"\n num_cache_nodes = 2\n}',
        {},
        2 * 730 * 0.26,
        ["Snapshot storage"],
    ),
    # A NAT gateway in Ireland, from AmazonEC2 offer 20260925174521/eu-west-1
    (
        "nat-gateway-ireland",
        "eu-west-1",
        'resource "aws_nat_gateway" "n" {\n subnet_id = "s"\n allocation_id = "a"\n}',
        {"aws_nat_gateway.n": {"monthly_data_processed_gb": 100}},
        730 * 0.048 + 100 * 0.048,  # 35.04 + 4.80
        [],
    ),
    # A Lambda function in Ohio with 10 GB of ephemeral storage (AWSLambda 20260819224703/us-east-2)
    (
        "lambda-with-ephemeral-storage-ohio",
        "us-east-2",
        'resource "aws_lambda_function" "f" {\n function_name = "f"\n role = "r"\n memory_size = 1024\n'
        " ephemeral_storage {\n size = 10240\n }\n}",
        {"aws_lambda_function.f": {"monthly_requests": 1_000_000, "request_duration_ms": 1000}},
        1 * 0.20 + 1_000_000 * 1.0 * 0.0000166667 + 1_000_000 * 9.5 * 0.0000000309,  # 0.20 + 16.67 + 0.29
        [],
    ),
    # Frankfurt, from a 2026-08-11 AWS Pricing API query for eu-central-1
    (
        "rds-postgres-db.t4g.micro-gp3-and-nat-frankfurt",
        "eu-central-1",
        'resource "aws_db_instance" "d" {\n engine = "postgres"\n instance_class = "db.t4g.micro"\n'
        ' allocated_storage = 20\n storage_type = "gp3"\n}\n'
        'resource "aws_nat_gateway" "n" {\n subnet_id = "s"\n allocation_id = "a"\n}',
        {"aws_nat_gateway.n": {"monthly_data_processed_gb": 10}},
        730 * 0.019 + 20 * 0.137 + 730 * 0.052 + 10 * 0.052,  # 13.87 + 2.74 + 37.96 + 0.52
        ["Additional backup storage"],
    ),
]


@pytest.mark.parametrize(
    ("region", "resources", "usage", "expected", "unpriced"),
    [row[1:] for row in REGIONAL_ESTIMATES],
    ids=[row[0] for row in REGIONAL_ESTIMATES],
)
def test_a_small_config_costs_the_hand_worked_figure_in_its_region(
    region: str, resources: str, usage: dict[str, Any], expected: float, unpriced: list[str]
) -> None:
    # Given a small configuration in one of the README's regions
    hcl = f'provider "aws" {{\n region = "{region}"\n}}\n' + resources
    # When estimated
    report = estimate(files={"main.tf": hcl}, usage=usage).to_dict()
    # Then the total is the figure worked by hand from that region's cited rates
    assert report["region"] == region
    assert report["costs"]["total"] == pytest.approx(round(expected, 2), abs=0.011)
    # And every priced component is that region's own price, never another region's
    catalog = load_catalog()
    for resource in report["resources"]:
        for component in resource["components"]:
            price = catalog.lookup(component["priceKey"], region)
            assert price is not None and price.region == region, component
            assert component["unitPrice"] == price.amount, component
    # And what no source states for the region is listed as unpriced, not borrowed
    assert sorted(u["component"] for u in report["unpriced"]) == sorted(unpriced)
    assert report["costs"]["totalIsLowerBound"] is bool(unpriced)


# Keys a source states for some regions but not for these: they stay unpriced there.
STILL_UNPRICED = [
    ("rds:postgres:db.t3.small", "eu-central-1"),
    ("rds:postgres:db.t3.small", "us-east-2"),
    ("rds:storage:gp3", "us-west-2"),
    ("rds:backup", "ap-southeast-1"),
    ("elb:alb:lcu", "ap-southeast-1"),
    ("elb:nlb:lcu", "us-east-2"),
    ("ebs:gp3:iops", "ap-southeast-1"),
    ("s3:standard:storage", "eu-west-1"),
    ("s3:standard:tier1", "us-west-2"),
    ("logs:storage", "us-west-2"),
    ("kms:key", "eu-west-1"),
    ("kms:requests", "ap-southeast-1"),
    ("secretsmanager:secret", "eu-west-1"),
    ("dynamodb:wru", "ap-southeast-1"),
    ("rds:storage:gp2", "eu-west-1"),
    ("rds:mysql:db.t3.small", "eu-west-1"),
    ("elasticache:valkey:cache.r5.large", "eu-central-1"),
    ("elasticache:redis:cache.t3.small", "eu-west-1"),
]


@pytest.mark.parametrize(("key", "region"), STILL_UNPRICED, ids=[f"{k}@{r}" for k, r in STILL_UNPRICED])
def test_a_region_no_source_states_stays_unpriced(key: str, region: str) -> None:
    catalog = load_catalog()
    # Given the key is priced somewhere else / Then it has no price in this region
    assert catalog.lookup(key, "us-east-1") is not None, key
    assert catalog.lookup(key, region) is None, (key, region)


def test_a_region_without_a_source_estimates_the_same_config_as_unpriced() -> None:
    # Given the Singapore RDS configuration moved to Oregon, where no source states RDS prices
    hcl = 'provider "aws" {\n region = "us-west-2"\n}\n' + RDS_T3_SMALL
    report = estimate(files={"main.tf": hcl}).to_dict()
    # Then nothing is priced from Singapore's or Virginia's rows: every component is unpriced
    assert report["costs"]["total"] == 0
    assert [u["reason"] for u in report["unpriced"]] == [
        "no list price in the catalog for rds:postgres:db.t3.small in us-west-2",
        "no list price in the catalog for rds:storage:gp3 in us-west-2",
        "no list price in the catalog for rds:backup in us-west-2",
    ]
