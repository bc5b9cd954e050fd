"""Compile the bundled catalog from the offline sources it was built from.

    python -m tooling.catalog.seed_catalog --sparecores sc-data-all.db

* EC2 on-demand Linux hours for every region: the ``server_price`` table of sparecores-data
  0.1.0's ``sc_data/data/sc-data-all.db`` (the PyPI wheel ships it; prices crawled from the AWS
  Pricing API on 2024-02-21). It stays the snapshot: the wheels after it ship a "priceless"
  database (0.1.3 to 0.3.x) or none (0.4 on, fetched at run time), and its ``storage_price``,
  ``traffic_price`` and ``ipv4_price`` tables are empty.
* ``data/transcribed.json``: prices read from sources that cite the AWS Price List (newer
  us-east-1 tables, Infracost's golden outputs, Price List offer extracts) and, outside us-east-1,
  from published tables, worked examples and AWS bills' line items that state the region's own
  figure; each row with its source and reference,
  and the reference names the row's region (``regions.borrowed_rows``; the build refuses a row
  that does not, rather than publish one region's price as another's).
  Route 53 rows carry the region ``global``: its offer has one location for every region.

Where a newer us-east-1 source disagrees with the 2024 snapshot by more than 1%, AWS has changed
that price since; the snapshot's other regions for that type are then dropped rather than
published stale. With internet access, ``build_catalog`` rebuilds everything from the AWS Price
List bulk files instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cost.catalog import DATA_FILE, write_document
from tooling.catalog.regions import borrowed_rows

TRANSCRIBED = Path(__file__).with_name("data") / "transcribed.json"
SPARECORES = "sparecores-data-0.1.0"
DRIFT = 0.01

RULES = {
    "hours_per_month": "730 hours a month (AWS's own convention: 365 x 24 / 12)",
    "rds_multi_az": (
        "Multi-AZ bills instance hours and storage for the primary and the standby: 2 x Single-AZ "
        "(AWS RDS User Guide, 'On-Demand DB instances for Amazon RDS', Multi-AZ DB instances; "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_OnDemandDBInstances.html)"
    ),
    "gp3_baseline": "gp3 includes 3,000 IOPS and 125 MiB/s; only provisioning above them is billed",
}


def sparecores_ec2(path: Path) -> dict[str, dict[str, float]]:
    """{instance type: {region: hourly}} for AWS, Linux, on-demand, from sparecores-data's database."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT server_id, datacenter_id, price FROM server_price "
            "WHERE vendor_id = 'aws' AND operating_system = 'Linux' AND allocation = 'ONDEMAND' "
            "AND currency = 'USD' AND duration = 'HOUR' AND zone_id = ''"
        ).fetchall()
    finally:
        connection.close()
    prices: dict[str, dict[str, float]] = {}
    for server, region, price in rows:
        if price and price > 0:
            prices.setdefault(f"ec2:{server}", {})[str(region)] = float(price)
    return prices


def compile_catalog(sparecores: Path | None, transcribed: dict[str, Any], as_of: str) -> dict[str, Any]:
    borrowed = borrowed_rows(transcribed["prices"], transcribed["sources"])
    if borrowed:
        # A price filed under a region its citation does not name is another region's price.
        listed = ", ".join(f"{row['key']}@{row['region']}" for row in borrowed[:10])
        raise ValueError(f"{len(borrowed)} rows cite no source for their own region: {listed}")
    prices: dict[str, dict[str, Any]] = {}

    def put(key: str, unit: str, region: str, amount: float, source: str) -> None:
        entry = prices.setdefault(key, {"unit": unit, "source": source, "regions": {}, "regionSources": {}})
        if entry["unit"] != unit:
            raise ValueError(f"{key}: unit {unit!r} differs from {entry['unit']!r}")
        entry["regions"][region] = amount
        if source != entry["source"]:
            entry["regionSources"][region] = source

    newer = {(row["key"], row["region"]): row for row in transcribed["prices"]}
    sources = dict(transcribed["sources"])
    if sparecores is not None:
        for key, by_region in sparecores_ec2(sparecores).items():
            current = newer.get((key, "us-east-1"))
            snapshot = by_region.get("us-east-1")
            stale = (
                current is not None
                and snapshot is not None
                and abs(snapshot - float(current["price"])) > DRIFT * float(current["price"])
            )
            for region, amount in sorted(by_region.items()):
                if stale:
                    continue
                put(key, "hour", region, amount, SPARECORES)
    else:
        sources.pop(SPARECORES, None)
    for row in transcribed["prices"]:
        put(row["key"], row["unit"], row["region"], float(row["price"]), row["source"])
    for entry in prices.values():
        if not entry["regionSources"]:
            del entry["regionSources"]
    return {
        "format": 1,
        "currency": "USD",
        "asOf": as_of,
        "description": (
            "AWS public list prices: on-demand, Linux, shared tenancy; monthly = hourly x 730. "
            "Each price names its source; a key with no price for a region is unpriced there."
        ),
        "rules": RULES,
        "sources": sources,
        "prices": prices,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sparecores", type=Path, help="sc-data-all.db from the sparecores-data 0.1.0 wheel")
    parser.add_argument("--transcribed", type=Path, default=TRANSCRIBED)
    parser.add_argument("--out", type=Path, default=DATA_FILE)
    parser.add_argument("--as-of", default=dt.date.today().isoformat())
    args = parser.parse_args(argv)
    transcribed = json.loads(args.transcribed.read_text(encoding="utf-8"))
    document = compile_catalog(args.sparecores, transcribed, args.as_of)
    write_document(document, args.out)
    print(f"{args.out}: {len(document['prices'])} price keys")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
