"""Rebuilding the catalog from AWS Price List bulk files, on a hand-made excerpt of that format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cost.catalog import PriceCatalog, read_document, write_document
from tooling.catalog.build_catalog import build, parse_offer, strip_region


def _product(sku: str, family: str, **attributes: str) -> dict[str, Any]:
    return {"sku": sku, "productFamily": family, "attributes": attributes}


def _on_demand(sku: str, *dimensions: tuple[str, str, str]) -> dict[str, Any]:
    # terms.OnDemand[sku][sku.offerTermCode].priceDimensions[rateCode], as in the bulk files
    term = {
        f"{sku}.JRTCKXETXF": {
            "offerTermCode": "JRTCKXETXF",
            "sku": sku,
            "priceDimensions": {
                f"{sku}.JRTCKXETXF.{i}": {
                    "unit": unit,
                    "beginRange": begin,
                    "endRange": "Inf",
                    "pricePerUnit": {"USD": price},
                }
                for i, (begin, unit, price) in enumerate(dimensions)
            },
        }
    }
    return {sku: term}


EC2_OFFER: dict[str, Any] = {
    "formatVersion": "v1.0",
    "offerCode": "AmazonEC2",
    "version": "20261012193925",
    "publicationDate": "2026-10-12T19:39:25Z",
    "products": {
        "A": _product(
            "A",
            "Compute Instance",
            instanceType="t3.micro",
            operatingSystem="Linux",
            tenancy="Shared",
            preInstalledSw="NA",
            capacitystatus="Used",
            licenseModel="No License required",
            usagetype="USE2-BoxUsage:t3.micro",
            regionCode="us-east-2",
        ),
        "B": _product(
            "B",
            "Compute Instance",
            instanceType="t3.micro",
            operatingSystem="Windows",
            tenancy="Shared",
            preInstalledSw="NA",
            capacitystatus="Used",
            licenseModel="No License required",
            usagetype="USE2-BoxUsage:t3.micro",
        ),
        "C": _product("C", "Storage", volumeApiName="gp3", usagetype="USE2-EBS:VolumeUsage.gp3"),
        "D": _product("D", "System Operation", usagetype="USE2-EBS:VolumeP-Throughput.gp3"),
        "E": _product("E", "NAT Gateway", usagetype="USE2-NatGateway-Hours"),
        "F": _product("F", "Storage", usagetype="USE2-EBS:VolumeP-IOPS.io2"),
    },
    "terms": {
        "OnDemand": {
            **_on_demand("A", ("0", "Hrs", "0.0104000000")),
            **_on_demand("B", ("0", "Hrs", "0.0196000000")),
            **_on_demand("C", ("0", "GB-Mo", "0.0800000000")),
            **_on_demand("D", ("0", "GiBps-mo", "40.9600000000")),
            **_on_demand("E", ("0", "Hrs", "0.0450000000")),
            **_on_demand(
                "F",
                ("0", "IOPS-Mo", "0.065"),
                ("32000", "IOPS-Mo", "0.0455"),
                ("64000", "IOPS-Mo", "0.03185"),
            ),
        }
    },
}
LAMBDA_OFFER: dict[str, Any] = {
    "offerCode": "AWSLambda",
    "version": "20261001",
    "publicationDate": "2026-10-01T00:00:00Z",
    "products": {"R": _product("R", "Serverless", usagetype="USE2-Request")},
    "terms": {"OnDemand": _on_demand("R", ("0", "Requests", "0.0000002000"))},
}


def test_region_prefix_is_stripped_from_usage_types() -> None:
    assert strip_region("USE2-BoxUsage:t3.micro") == "BoxUsage:t3.micro"
    assert strip_region("EU-NatGateway-Hours") == "NatGateway-Hours"
    assert strip_region("BoxUsage:t3.micro") == "BoxUsage:t3.micro"
    assert strip_region("EBS:VolumeUsage.gp3") == "EBS:VolumeUsage.gp3"


def test_offer_products_map_to_catalog_keys_in_catalog_units() -> None:
    # Given an excerpt of the AmazonEC2 us-east-2 offer
    # When parsed
    found = {(key, unit): round(price, 8) for key, unit, price in parse_offer("AmazonEC2", EC2_OFFER)}
    # Then Linux shared on-demand is kept (Windows is not), GiBps becomes MiBps, io2 tiers split
    assert found == {
        ("ec2:t3.micro", "hour"): 0.0104,
        ("ebs:gp3:storage", "GB-month"): 0.08,
        ("ebs:gp3:throughput", "MiBps-month"): 0.04,
        ("nat:hour", "hour"): 0.045,
        ("ebs:io2:iops", "IOPS-month"): 0.065,
        ("ebs:io2:iops_tier2", "IOPS-month"): 0.0455,
        ("ebs:io2:iops_tier3", "IOPS-month"): 0.03185,
    }


def test_built_document_loads_as_a_catalog_with_dated_sources(tmp_path: Path) -> None:
    # Given offers for two services in us-east-2
    document = build(
        {("AmazonEC2", "us-east-2"): EC2_OFFER, ("AWSLambda", "us-east-2"): LAMBDA_OFFER}, "2026-10-13"
    )
    # When written and read back
    path = tmp_path / "prices.json.gz"
    write_document(document, path)
    catalog = PriceCatalog(read_document(path))
    # Then prices resolve in their region, per-request prices are per 1M, and sources carry dates
    requests = catalog.lookup("lambda:requests", "us-east-2")
    hours = catalog.lookup("ec2:t3.micro", "us-east-2")
    assert requests is not None and round(requests.amount, 6) == 0.2
    assert hours is not None and hours.amount == 0.0104
    assert catalog.sources[hours.source].date == "2026-10-12"
    assert catalog.lookup("ec2:t3.micro", "us-east-1") is None
