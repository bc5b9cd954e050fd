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
