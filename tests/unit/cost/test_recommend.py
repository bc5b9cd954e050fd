"""Each recommendation rule against its saving worked out by hand from us-east-1 list prices."""

from __future__ import annotations

from typing import Any

import pytest

from cost import estimate

H = 730


def _found(hcl: str, usage: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = estimate(files={"main.tf": hcl}, usage=usage).to_dict()["recommendations"]
    return found


def _only(hcl: str, rule: str, usage: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [r for r in _found(hcl, usage) if r["rule"] == rule]


def _figures(found: dict[str, Any]) -> tuple[float, float, float]:
    return found["currentMonthly"], found["recommendedMonthly"], found["monthlySaving"]


def _volume(kind: str, size: int, iops: int | None = None) -> str:
    extra = f"\n iops = {iops}" if iops else ""
    return f'resource "aws_ebs_volume" "v" {{\n type = "{kind}"\n size = {size}{extra}\n availability_zone = "a"\n}}'


def test_gp2_to_gp3_small_volume() -> None:
    # 100 GB: gp2 100 x $0.10; gp3 100 x $0.08 (gp2's 300 IOPS are inside gp3's 3,000)
    [found] = _only(_volume("gp2", 100), "ebs-gp2-to-gp3")
    assert _figures(found) == (10.00, 8.00, 2.00)
    assert "gp2 → gp3" in found["change"]


def test_gp2_to_gp3_large_volume_keeps_its_iops_and_throughput() -> None:
    # 2,000 GB: gp2 gives 6,000 IOPS and 250 MiB/s. gp3: 2,000 x $0.08 + 3,000 IOPS x $0.005
    # + 125 MiB/s x $0.04 = 160 + 15 + 5 = 180, against gp2's 2,000 x $0.10 = 200
    [found] = _only(_volume("gp2", 2000), "ebs-gp2-to-gp3")
    assert _figures(found) == (200.00, 180.00, 20.00)
    assert "3,000 IOPS" in found["change"]


def test_io1_to_gp3_where_the_iops_fit() -> None:
    # io1 100 GB x $0.125 + 1,000 IOPS x $0.065 = 77.50; gp3 100 x $0.08 (1,000 IOPS included) = 8.00
    [found] = _only(_volume("io1", 100, 1000), "ebs-io1")
    assert _figures(found) == (77.50, 8.00, 69.50)
    assert "gp3" in found["change"]


def test_io1_to_io2_above_gp3s_reach() -> None:
    # 40,000 IOPS is over gp3's 16,000. io1: 12.50 + 40,000 x 0.065 = 2,612.50.
    # io2: 12.50 + 32,000 x 0.065 + 8,000 x 0.0455 = 12.50 + 2,080 + 364 = 2,456.50
    [found] = _only(_volume("io1", 100, 40000), "ebs-io1")
    assert _figures(found) == (2612.50, 2456.50, 156.00)
    assert "io2" in found["change"]


def test_io1_with_no_cheaper_equivalent_says_nothing() -> None:
    # 20,000 IOPS: gp3 cannot, io2's first tier costs what io1 does
    assert _only(_volume("io1", 100, 20000), "ebs-io1") == []


def _instance(instance_type: str) -> str:
    return f'resource "aws_instance" "i" {{\n instance_type = "{instance_type}"\n}}'


def test_previous_generation_to_the_cheapest_current_one() -> None:
    # m4.large $0.10/h; of m5, m6i ($0.096), m5a ($0.086) and m6a ($0.0864) m5a is cheapest:
    # 730 x 0.10 = 73.00 against 730 x 0.086 = 62.78
    [found] = _only(_instance("m4.large"), "ec2-previous-generation")
    assert _figures(found) == (73.00, 62.78, 10.22)
    assert found["change"] == "instance type m4.large → m5a.large"
    # a current family is not flagged
    assert _only(_instance("m5.large"), "ec2-previous-generation") == []


def test_graviton_equivalent() -> None:
    # m5.large $0.096/h -> m6g.large $0.077/h: 70.08 against 56.21
    [found] = _only(_instance("m5.large"), "ec2-graviton")
    assert _figures(found) == (70.08, 56.21, 13.87)
    assert "m6g.large" in found["change"]


def test_lambda_on_arm64() -> None:
    # 1M x 0.5 s x 0.125 GB = 62,500 GB-s: x86 x $0.0000166667 = 1.0417, arm x $0.0000133334 = 0.8333
    hcl = 'resource "aws_lambda_function" "f" {\n function_name = "f"\n}'
    usage = {"aws_lambda_function.f": {"monthly_requests": 1_000_000, "request_duration_ms": 500}}
    [found] = _only(hcl, "lambda-arm64", usage)
    assert _figures(found) == (1.04, 0.83, 0.21)
    # without usage there is nothing to save
    assert _only(hcl, "lambda-arm64") == []


EIPS = """
resource "aws_eip" "idle" { domain = "vpc" }
resource "aws_eip" "nat" { domain = "vpc" }
resource "aws_eip" "vm" {
  domain   = "vpc"
  instance = aws_instance.vm.id
}
resource "aws_instance" "vm" { instance_type = "t4g.micro" }
resource "aws_nat_gateway" "n" {
  allocation_id = aws_eip.nat.id
  subnet_id     = "s"
}
"""


def test_only_the_unattached_elastic_ip_is_flagged() -> None:
    # 730 h x $0.005 = 3.65, all of it saved by releasing the address
    found = _only(EIPS, "eip-unattached")
    assert [r["address"] for r in found] == ["aws_eip.idle"]
    assert _figures(found[0]) == (3.65, 0.00, 3.65)


def _nats(names: tuple[str, ...]) -> str:
    return "\n".join(f'resource "aws_nat_gateway" "{n}" {{\n subnet_id = "{n}"\n}}' for n in names)


def test_nat_gateway_per_az_outside_production_can_be_shared() -> None:
    # three gateways: the two after the first each save their 730 h x $0.045 = 32.85
    found = _only(_nats(("dev_a", "dev_b", "dev_c")), "nat-gateway-shared")
    assert [r["address"] for r in found] == ["aws_nat_gateway.dev_b", "aws_nat_gateway.dev_c"]
    assert {_figures(r) for r in found} == {(32.85, 0.00, 32.85)}
    assert "aws_nat_gateway.dev_a" in found[0]["change"]
    # production keeps one per AZ; a single gateway has nothing to share
    assert _only(_nats(("prod_a", "prod_b")), "nat-gateway-shared") == []
    assert _only(_nats(("dev_a",)), "nat-gateway-shared") == []


TABLE = (
    'resource "aws_dynamodb_table" "t" {\n name = "t"\n billing_mode = "PAY_PER_REQUEST"\n hash_key = "id"\n}'
)


def test_steady_on_demand_dynamodb_is_cheaper_provisioned() -> None:
    # 3M writes and 8M reads a month: on-demand 3 x $0.625 + 8 x $0.125 = 2.875.
    # Steady: 3M / 2,628,000 s = 1.14/s -> / 0.7 -> 2 WCU; 8M -> 3.04/s -> 5 RCU.
    # Provisioned: (2 x $0.00065 + 5 x $0.00013) x 730 = 1.4235
    usage = {
        "aws_dynamodb_table.t": {
            "monthly_write_request_units": 3_000_000,
            "monthly_read_request_units": 8_000_000,
        }
    }
    [found] = _only(TABLE, "dynamodb-provisioned", usage)
    assert _figures(found) == (2.88, 1.42, 1.45)
    assert "write_capacity = 2, read_capacity = 5" in found["change"]


def test_light_on_demand_dynamodb_stays_on_demand() -> None:
    # 1,000 writes and reads: on-demand costs well under a cent; one WCU + one RCU is $0.57
    usage = {
        "aws_dynamodb_table.t": {"monthly_write_request_units": 1000, "monthly_read_request_units": 1000}
    }
    assert _only(TABLE, "dynamodb-provisioned", usage) == []


def _database(name: str, multi_az: bool = True) -> str:
    return (
        f'resource "aws_db_instance" "{name}" {{\n engine = "postgres"\n instance_class = "db.m5.large"\n'
        f" allocated_storage = 100\n multi_az = {str(multi_az).lower()}\n}}"
    )


def test_multi_az_on_a_non_production_database() -> None:
    # Multi-AZ: 2 x 730 x $0.178 + 2 x 100 GB x $0.115 = 259.88 + 23.00 = 282.88; single-AZ half
    [found] = _only(_database("staging_db"), "rds-multi-az-non-production")
    assert _figures(found) == (282.88, 141.44, 141.44)
    assert found["change"] == "multi_az = false"


@pytest.mark.parametrize("name", ["prod_db", "orders"])
def test_multi_az_stays_on_production_or_unnamed_databases(name: str) -> None:
    assert _only(_database(name), "rds-multi-az-non-production") == []


def _logs(name: str, retention: int | None) -> str:
    days = f"\n retention_in_days = {retention}" if retention is not None else ""
    return f'resource "aws_cloudwatch_log_group" "{name}" {{\n name = "{name}"{days}\n}}'


def test_logs_kept_forever_at_a_steady_ingestion_rate() -> None:
    # 1,000 GB stored x $0.03 = 30.00. At 100 GB a month, 90 days keep 100 x 90 / 30.4167 = 295.89 GB
    # x $0.03 = 8.88
    usage = {"aws_cloudwatch_log_group.app": {"storage_gb": 1000, "monthly_data_ingested_gb": 100}}
    [found] = _only(_logs("app", None), "log-retention", usage)
    assert _figures(found) == (30.00, 8.88, 21.12)
    assert found["change"] == "retention_in_days = 90"


def test_non_production_logs_kept_a_year() -> None:
    # 365 days -> 30: 1,000 GB x 30 / 365 = 82.19 GB x $0.03 = 2.47
    usage = {"aws_cloudwatch_log_group.dev_app": {"storage_gb": 1000}}
    [found] = _only(_logs("dev_app", 365), "log-retention", usage)
    assert _figures(found) == (30.00, 2.47, 27.53)
    # within the ceiling, or with no storage given, nothing to say
    assert (
        _only(_logs("dev_app", 14), "log-retention", {"aws_cloudwatch_log_group.dev_app": {"storage_gb": 1}})
        == []
    )
    assert _only(_logs("dev_app", 365), "log-retention") == []


def test_largest_saving_first() -> None:
    found = _found(_volume("io1", 100, 1000) + "\n" + _instance("m4.large"))
    savings = [r["monthlySaving"] for r in found]
    assert savings == sorted(savings, reverse=True) and savings[0] == 69.50


def test_graviton_for_databases_and_caches() -> None:
    # RDS PostgreSQL db.m5.large $0.178/h -> db.m6g.large $0.159/h: 129.94 against 116.07
    [database] = _only(_database("orders", multi_az=False), "rds-graviton")
    assert _figures(database) == (129.94, 116.07, 13.87)
    assert database["change"] == "instance class db.m5.large → db.m6g.large (arm64)"
    # ElastiCache Redis cache.m5.large $0.156/h x 2 nodes -> cache.m6g.large $0.149/h:
    # 2 x 730 x 0.156 = 227.76 against 2 x 730 x 0.149 = 217.54
    cache = (
        'resource "aws_elasticache_cluster" "c" {\n engine = "redis"\n node_type = "cache.m5.large"\n'
        " num_cache_nodes = 2\n}"
    )
    [found] = _only(cache, "elasticache-graviton")
    assert _figures(found) == (227.76, 217.54, 10.22)
    assert found["change"] == "node type cache.m5.large → cache.m6g.large (arm64)"


def test_a_previous_generation_at_the_same_price_says_nothing() -> None:
    # cache.m4.large and cache.m5.large both cost $0.156/h: no saving, no recommendation
    cache = 'resource "aws_elasticache_cluster" "c" {\n engine = "redis"\n node_type = "cache.m4.large"\n}'
    assert _only(cache, "elasticache-previous-generation") == []


def test_rds_io1_to_gp3_where_the_iops_fit() -> None:
    # 500 GB io1 with 10,000 IOPS: 500 x $0.125 + 10,000 x $0.10 = 1,062.50.
    # gp3 at 500 GB includes 12,000 IOPS: 500 x $0.115 = 57.50
    hcl = (
        'resource "aws_db_instance" "d" {\n engine = "postgres"\n instance_class = "db.m5.large"\n'
        ' allocated_storage = 500\n storage_type = "io1"\n iops = 10000\n}'
    )
    [found] = _only(hcl, "rds-io1-to-gp3")
    assert _figures(found) == (1062.50, 57.50, 1005.00)
    # under 400 GB gp3 stops at 3,000 IOPS: 100 GB with 5,000 IOPS stays on io1
    small = hcl.replace("500", "100").replace("10000", "5000")
    assert _only(small, "rds-io1-to-gp3") == []
