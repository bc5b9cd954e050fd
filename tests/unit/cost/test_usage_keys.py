"""Infracost's usage keys, each against arithmetic done by hand from us-east-1 list prices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cost import estimate, parse_usage
from cost.catalog import PriceCatalog
from cost.cli import main
from cost.estimate import resources_of
from cost.registry import PRICERS
from cost.usage_keys import KEYS, template

H = 730


def _answer(
    hcl: str, usage: dict[str, Any] | None = None, catalog: PriceCatalog | None = None
) -> dict[str, Any]:
    return estimate(files={"main.tf": hcl}, usage=usage, catalog=catalog).to_dict()


def _by_address(address: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"version": "0.1", "resource_usage": {address: values}}


INSTANCE = 'resource "aws_instance" "web" {\n instance_type = "t3.micro"\n}'


def test_monthly_hrs_bills_the_instance_hours_given_and_the_volume_all_month() -> None:
    answer = _answer(INSTANCE, _by_address("aws_instance.web", {"monthly_hrs": 100}))
    # 100 h x $0.0104 + the 8 GB gp2 root volume all month (8 x $0.10)
    assert answer["costs"]["total"] == pytest.approx(100 * 0.0104 + 8 * 0.10, abs=0.005)


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ({"operating_system": "windows"}, "operating system windows"),
        ({"reserved_instance_type": "standard", "reserved_instance_term": "1_year"}, "reserved instance"),
    ],
)
def test_prices_the_catalog_lacks_are_unpriced_not_on_demand(values: dict[str, Any], why: str) -> None:
    answer = _answer(INSTANCE, _by_address("aws_instance.web", values))
    # Only the root volume is priced; the hours are unpriced with the reason, so the total is a floor
    assert answer["costs"]["total"] == pytest.approx(8 * 0.10)
    assert answer["costs"]["totalIsLowerBound"] is True
    assert [u["component"] for u in answer["unpriced"]] == ["Instance hours"]
    assert why in answer["unpriced"][0]["reason"]


ALB = 'resource "aws_lb" "a" {\n load_balancer_type = "application"\n}'
NLB = 'resource "aws_lb" "n" {\n load_balancer_type = "network"\n}'


@pytest.mark.parametrize(
    ("hcl", "address", "values", "expected"),
    [
        # new connections 10,000/s / 25 = 400 LCUs beat 1,000 active/min / 3,000, 1,000 GB / 730 h
        # and 300 evaluations/s / 1,000: 400 x 730 h x $0.008, plus the hours
        (
            ALB,
            "aws_lb.a",
            {
                "new_connections": 10000,
                "active_connections": 1000,
                "processed_bytes_gb": 1000,
                "rule_evaluations": 300,
            },
            400 * H * 0.008 + 0.0225 * H,
        ),
        # processed bytes alone: 1,000 GB over 730 h is 1.3699 LCU an hour, 1,000 LCU-hours: $8.00
        (ALB, "aws_lb.a", {"processed_bytes_gb": 1000}, 1000 / H * H * 0.008 + 0.0225 * H),
        # rule evaluations 5,000/s / 1,000 = 5 LCUs
        (ALB, "aws_lb.a", {"rule_evaluations": 5000}, 5 * H * 0.008 + 0.0225 * H),
        # NLB: 10,000 new/s / 800 = 12.5 NLCUs at $0.006
        (
            NLB,
            "aws_lb.n",
            {"new_connections": 10000, "active_connections": 1000, "processed_bytes_gb": 1000},
            12.5 * H * 0.006 + 0.0225 * H,
        ),
        # NLB ignores rule evaluations (it has none)
        (NLB, "aws_lb.n", {"rule_evaluations": 100000}, 0.0225 * H),
        # our own key: average LCUs an hour
        (ALB, "aws_lb.a", {"capacity_units": 2}, 2 * H * 0.008 + 0.0225 * H),
    ],
)
def test_load_balancer_capacity_units_from_infracost_dimensions(
    hcl: str, address: str, values: dict[str, Any], expected: float
) -> None:
    assert _answer(hcl, _by_address(address, values))["costs"]["total"] == pytest.approx(expected, abs=0.01)


BUCKET = 'resource "aws_s3_bucket" "b" {\n bucket = "b"\n}'


def test_s3_standard_usage_in_its_section() -> None:
    usage = _by_address(
        "aws_s3_bucket.b",
        {
            "standard": {
                "storage_gb": 100,
                "monthly_tier_1_requests": 10000,
                "monthly_tier_2_requests": 100000,
            }
        },
    )
    answer = _answer(BUCKET, usage)
    # 100 GB x $0.023 + 10k PUTs (10 x $0.005) + 100k GETs (100 x $0.0004)
    assert answer["costs"]["total"] == pytest.approx(2.30 + 0.05 + 0.04)
    assert answer["usageBased"] == []


def _catalog(prices: dict[str, tuple[str, float]]) -> PriceCatalog:
    return PriceCatalog(
        {
            "asOf": "2026-01-01",
            "sources": {"t": {"title": "test", "url": "", "date": "2026-01-01"}},
            "prices": {
                k: {"unit": u, "source": "t", "regions": {"us-east-1": p}} for k, (u, p) in prices.items()
            },
        }
    )


def test_other_storage_classes_are_priced_when_the_catalog_has_them_and_unpriced_when_not() -> None:
    usage = _by_address("aws_s3_bucket.b", {"standard_infrequent_access": {"storage_gb": 200}})
    standard = {
        "s3:standard:storage": ("GB-month", 0.023),
        "s3:standard:tier1": ("1k requests", 0.005),
        "s3:standard:tier2": ("1k requests", 0.0004),
    }
    with_price = _catalog({**standard, "s3:standard_ia:storage": ("GB-month", 0.0125)})
    without = _catalog(standard)

    priced = _answer(BUCKET, usage, with_price)
    unpriced = _answer(BUCKET, usage, without)
    quiet = _answer(BUCKET, None, without)

    # 200 GB x $0.0125
    assert priced["costs"]["total"] == pytest.approx(2.50)
    assert priced["costs"]["totalIsLowerBound"] is False
    # given usage nobody can price: unpriced, and the total a floor
    assert [u["component"] for u in unpriced["unpriced"]] == ["Standard-IA storage"]
    assert unpriced["costs"]["totalIsLowerBound"] is True
    # no usage for the class: nothing about it at all
    assert quiet["unpriced"] == [] and quiet["costs"]["totalIsLowerBound"] is False


@pytest.mark.parametrize(
    ("hcl", "address", "values", "expected"),
    [
        # 1M HTTP requests of 1,024 KB meter as 2M (512 KB steps) x $1.00
        (
            'resource "aws_apigatewayv2_api" "h" {\n protocol_type = "HTTP"\n}',
            "aws_apigatewayv2_api.h",
            {"monthly_requests": 1_000_000, "request_size_kb": 1024},
            2.00,
        ),
        # 1M WebSocket messages of 100 KB meter as 4M (32 KB steps) x $1.00; 2M minutes x $0.25
        (
            'resource "aws_apigatewayv2_api" "w" {\n protocol_type = "WEBSOCKET"\n}',
            "aws_apigatewayv2_api.w",
            {"monthly_messages": 1_000_000, "message_size_kb": 100, "monthly_connection_mins": 2_000_000},
            4.00 + 0.50,
        ),
        # 1M SQS requests of 128 KB bill as 2M (64 KB chunks) x $0.40
        (
            'resource "aws_sqs_queue" "q" {\n name = "q"\n}',
            "aws_sqs_queue.q",
            {"monthly_requests": 1_000_000, "request_size_kb": 128},
            0.80,
        ),
        # Aurora: (10 + 5) I/O a second x 730 h x 3,600 s = 39.42M x $0.20, + 100 GB x $0.10
        (
            'resource "aws_rds_cluster" "c" {\n engine = "aurora-mysql"\n}',
            "aws_rds_cluster.c",
            {"write_requests_per_sec": 10, "read_requests_per_sec": 5, "storage_gb": 100},
            39.42 * 0.20 + 10.0,
        ),
        # Express: 1M x 300 ms (100 ms steps) x 128 MB (64 MB steps) = 10.4167 GB-h x $0.060012, + 1M x $1
        (
            'resource "aws_sfn_state_machine" "s" {\n type = "EXPRESS"\n}',
            "aws_sfn_state_machine.s",
            {"monthly_requests": 1_000_000, "workflow_duration_ms": 250, "memory_mb": 100},
            1e6 * 0.3 / 3600 * 0.125 * 0.060012 + 1.00,
        ),
        # Kinesis provisioned: 10M PUT units x $0.014 + one shard 730 h x $0.015
        (
            'resource "aws_kinesis_stream" "k" {\n shard_count = 1\n}',
            "aws_kinesis_stream.k",
            {"monthly_provisioned_put_units": 10_000_000},
            0.14 + 10.95,
        ),
        # Lambda: 2M requests x $0.20 + 2M x 0.2 s x 0.5 GB = 200,000 GB-s x $0.0000166667
        (
            'resource "aws_lambda_function" "f" {\n memory_size = 512\n}',
            "aws_lambda_function.f",
            {"monthly_requests": 2_000_000, "request_duration_ms": 200},
            0.40 + 200_000 * 0.0000166667,
        ),
    ],
)
def test_request_sizes_rates_and_durations(
    hcl: str, address: str, values: dict[str, Any], expected: float
) -> None:
    assert _answer(hcl, _by_address(address, values))["costs"]["total"] == pytest.approx(expected, abs=0.005)


def test_wildcards_match_any_index_anywhere_and_the_most_specific_wins() -> None:
    usage = parse_usage(
        {
            "version": "0.1",
            "resource_type_default_usage": {"aws_sqs_queue": {"monthly_requests": 1, "request_size_kb": 64}},
            "resource_usage": {
                "module.app[*].aws_sqs_queue.q[*]": {"monthly_requests": 2},
                "module.app[*].aws_sqs_queue.q[1]": {"monthly_requests": 3},
                'module.app["eu"].aws_sqs_queue.q[1]': {"monthly_requests": 4},
            },
        }
    )
    look = usage.for_resource
    assert look("module.app[0].aws_sqs_queue.q[0]", "aws_sqs_queue") == {
        "monthly_requests": 2,
        "request_size_kb": 64,
    }
    assert look("module.app[0].aws_sqs_queue.q[1]", "aws_sqs_queue")["monthly_requests"] == 3
    assert look('module.app["eu"].aws_sqs_queue.q[1]', "aws_sqs_queue")["monthly_requests"] == 4
    # no index where the pattern has one: the type default only
    assert look("module.app.aws_sqs_queue.q", "aws_sqs_queue")["monthly_requests"] == 1


def test_sections_merge_key_by_key() -> None:
    usage = parse_usage(
        {
            "resource_type_default_usage": {
                "aws_s3_bucket": {"standard": {"storage_gb": 10, "monthly_tier_1_requests": 5}}
            },
            "resource_usage": {"aws_s3_bucket.b": {"standard": {"storage_gb": 20}}},
        }
    )
    assert usage.for_resource("aws_s3_bucket.b", "aws_s3_bucket") == {
        "standard": {"storage_gb": 20, "monthly_tier_1_requests": 5}
    }


def test_every_documented_type_is_priced() -> None:
    assert set(KEYS) <= set(PRICERS)


CONFIG = """
resource "aws_instance" "web" {
  count         = 2
  instance_type = "t3.micro"
}
resource "aws_iam_role" "r" { name = "r" }
resource "aws_s3_bucket" "b" { bucket = "b" }
"""


def test_the_template_names_each_resources_keys_and_keeps_values_already_set() -> None:
    existing = parse_usage(
        {
            "version": "0.1",
            "resource_type_default_usage": {"aws_lambda_function": {"monthly_requests": 5}},
            "resource_usage": {
                "aws_instance.web[0]": {"monthly_hrs": 100, "capacity_units": 1},
                "aws_s3_bucket.b": {"standard": {"storage_gb": 7}},
                "aws_sqs_queue.gone[*]": {"monthly_requests": 9},
            },
        }
    )
    text = template(resources_of(files={"main.tf": CONFIG}), existing)
    document = yaml.safe_load(text)

    # a usage file (version 0.1) whose values are only those already set
    assert document["version"] == 0.1
    assert document["resource_type_default_usage"] == {"aws_lambda_function": {"monthly_requests": 5}}
    assert document["resource_usage"] == {
        "aws_instance.web[0]": {"monthly_hrs": 100, "capacity_units": 1},
        "aws_instance.web[1]": None,
        "aws_s3_bucket.b": {"standard": {"storage_gb": 7}},
        "aws_sqs_queue.gone[*]": {"monthly_requests": 9},
    }
    # every other key is there, commented out with its meaning; free resources have none
    assert "    # monthly_hrs: 730 # Hours a month the instance runs." in text
    assert "      # glacier_deep_archive" not in text and "    # glacier_deep_archive:" in text
    assert "aws_iam_role" not in text


def test_sync_usage_writes_the_file_and_estimates_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_nat_gateway" "n" {\n subnet_id = "s"\n}\n')
    usage = tmp_path / "usage.yml"

    assert main([str(tmp_path), "--sync-usage", str(usage), "--json"]) == 0
    written = usage.read_text()
    assert "# monthly_data_processed_gb: 0 # Data processed a month, GB." in written

    # Filled in, the next sync keeps the value and the estimate uses it: 730 h x $0.045 + 100 GB x $0.045
    usage.write_text(written.replace("# monthly_data_processed_gb: 0", "monthly_data_processed_gb: 100"))
    capsys.readouterr()
    assert main([str(tmp_path), "--sync-usage", str(usage), "--json"]) == 0
    assert "monthly_data_processed_gb: 100" in usage.read_text()
    assert '"total": 37.35' in capsys.readouterr().out


def test_usage_and_sync_usage_together_exit_2(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(INSTANCE)
    assert main([str(tmp_path), "--usage", "a.yml", "--sync-usage", "b.yml"]) == 2


def test_reserved_database_hours_are_unpriced_and_storage_still_priced() -> None:
    hcl = (
        'resource "aws_db_instance" "d" {\n engine = "mysql"\n instance_class = "db.t3.micro"\n'
        " allocated_storage = 20\n}"
    )
    answer = _answer(hcl, _by_address("aws_db_instance.d", {"reserved_instance_term": "1_year"}))
    # 20 GB x $0.115 stays; the instance hours have no reserved price in the catalog
    assert answer["costs"]["total"] == pytest.approx(20 * 0.115)
    assert [u["component"] for u in answer["unpriced"]] == ["Database instance"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # our older monthly count: 50M x $0.20; Infracost's rate: 1 write a second x 730 h x 3,600 s
        ({"monthly_io_requests": 50_000_000}, 50 * 0.20),
        ({"write_requests_per_sec": 1}, 1 * H * 3600 / 1e6 * 0.20),
    ],
)
def test_aurora_io_from_a_monthly_count_or_a_rate(values: dict[str, Any], expected: float) -> None:
    hcl = 'resource "aws_rds_cluster" "c" {\n engine = "aurora-mysql"\n}'
    assert _answer(hcl, _by_address("aws_rds_cluster.c", values))["costs"]["total"] == pytest.approx(
        expected, abs=0.01
    )
