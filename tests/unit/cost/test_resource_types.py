"""Every covered type against arithmetic done by hand from the catalog's public us-east-1 prices."""

from __future__ import annotations

from typing import Any

import pytest

from cost import estimate
from cost.registry import PRICERS
from tests.unit.cost.test_priced_types_more import CASES as MORE_CASES

H = 730  # hours a month

# (type, HCL, usage or None, expected monthly total worked out by hand)
CASES: list[tuple[str, str, dict[str, Any] | None, float]] = [
    (
        "aws_instance",
        'resource "aws_instance" "a" {\n instance_type = "t3.micro"\n}',
        None,
        0.0104 * H + 8 * 0.10,
    ),  # + the assumed 8 GB gp2 root volume
    (
        "aws_instance",
        'resource "aws_instance" "a" {\n instance_type = "m5.large"\n'
        ' root_block_device {\n volume_size = 50\n volume_type = "gp3"\n }\n'
        ' ebs_block_device {\n device_name = "/dev/sdb"\n volume_size = 100\n'
        ' volume_type = "io1"\n iops = 1000\n }\n}',
        None,
        0.096 * H + 50 * 0.08 + 100 * 0.125 + 1000 * 0.065,
    ),
    (
        "aws_ebs_volume",
        'resource "aws_ebs_volume" "v" {\n type = "gp3"\n size = 100\n iops = 4000\n'
        ' throughput = 250\n availability_zone = "us-east-1a"\n}',
        None,
        100 * 0.08 + 1000 * 0.005 + 125 * 0.04,
    ),
    (
        "aws_ebs_volume",
        'resource "aws_ebs_volume" "v" {\n type = "io2"\n size = 10\n iops = 40000\n}',
        None,
        10 * 0.125 + 32000 * 0.065 + 8000 * 0.0455,
    ),
    ("aws_ebs_volume", 'resource "aws_ebs_volume" "v" {\n type = "sc1"\n size = 500\n}', None, 500 * 0.015),
    (
        "aws_ebs_snapshot",
        'resource "aws_ebs_snapshot" "s" {\n volume_id = "vol-1"\n}',
        {"monthly_storage_gb": 40},
        40 * 0.05,
    ),
    (
        "aws_db_instance",
        'resource "aws_db_instance" "d" {\n engine = "mysql"\n instance_class = "db.t3.micro"\n'
        " allocated_storage = 20\n}",
        None,
        0.017 * H + 20 * 0.115,
    ),
    (
        "aws_db_instance",
        'resource "aws_db_instance" "d" {\n engine = "postgres"\n instance_class = "db.m5.large"\n'
        ' multi_az = true\n allocated_storage = 100\n storage_type = "io1"\n iops = 3000\n}',
        None,
        2 * 0.178 * H + 2 * 100 * 0.125 + 2 * 3000 * 0.10,
    ),
    (
        "aws_rds_cluster",
        'resource "aws_rds_cluster" "c" {\n engine = "aurora-mysql"\n}',
        {"storage_gb": 100, "monthly_io_requests": 50_000_000},
        100 * 0.10 + 50 * 0.20,
    ),
    (
        "aws_rds_cluster_instance",
        'resource "aws_rds_cluster_instance" "i" {\n engine = "aurora-mysql"\n'
        ' instance_class = "db.t3.medium"\n cluster_identifier = "c"\n}',
        None,
        0.082 * H,
    ),
    ("aws_nat_gateway", 'resource "aws_nat_gateway" "n" {\n subnet_id = "s"\n}', None, 0.045 * H),
    ("aws_lb", 'resource "aws_lb" "l" {\n load_balancer_type = "network"\n}', None, 0.0225 * H),
    ("aws_alb", 'resource "aws_alb" "l" {\n}', None, 0.0225 * H),
    ("aws_elb", 'resource "aws_elb" "l" {\n}', None, 0.025 * H),
    ("aws_eip", 'resource "aws_eip" "e" {\n domain = "vpc"\n}', None, 0.005 * H),
    (
        "aws_vpc_endpoint",
        'resource "aws_vpc_endpoint" "e" {\n vpc_endpoint_type = "Interface"\n subnet_ids = ["a", "b"]\n}',
        None,
        2 * 0.01 * H,
    ),
    (
        "aws_vpc_endpoint",
        'resource "aws_vpc_endpoint" "e" {\n service_name = "com.amazonaws.us-east-1.s3"\n}',
        None,
        0.0,
    ),
    (
        "aws_elasticache_cluster",
        'resource "aws_elasticache_cluster" "c" {\n engine = "redis"\n'
        ' node_type = "cache.t3.micro"\n num_cache_nodes = 1\n}',
        None,
        0.017 * H,
    ),
    (
        "aws_elasticache_replication_group",
        'resource "aws_elasticache_replication_group" "r" {\n'
        ' node_type = "cache.r6g.large"\n num_cache_clusters = 2\n}',
        None,
        2 * 0.206 * H,
    ),
    ("aws_eks_cluster", 'resource "aws_eks_cluster" "k" {\n name = "k"\n}', None, 0.10 * H),
    (
        "aws_eks_node_group",
        'resource "aws_eks_node_group" "g" {\n instance_types = ["m5.large"]\n'
        " scaling_config {\n desired_size = 3\n max_size = 5\n min_size = 1\n }\n}",
        None,
        3 * 0.096 * H + 3 * 20 * 0.10,
    ),
    (
        "aws_ecs_service",
        'resource "aws_ecs_task_definition" "t" {\n family = "web"\n cpu = "512"\n memory = "1024"\n}\n'
        'resource "aws_ecs_service" "s" {\n launch_type = "FARGATE"\n desired_count = 2\n'
        " task_definition = aws_ecs_task_definition.t.arn\n}",
        None,
        2 * 0.5 * 0.04048 * H + 2 * 1 * 0.004445 * H,
    ),
    (
        "aws_autoscaling_group",
        'resource "aws_launch_template" "lt" {\n instance_type = "t3.small"\n'
        ' block_device_mappings {\n device_name = "/dev/xvda"\n'
        ' ebs {\n volume_size = 30\n volume_type = "gp3"\n }\n }\n}\n'
        'resource "aws_autoscaling_group" "g" {\n desired_capacity = 2\n max_size = 4\n min_size = 1\n'
        " launch_template {\n id = aws_launch_template.lt.id\n }\n}",
        None,
        2 * 0.0208 * H + 2 * 30 * 0.08,
    ),
    (
        "aws_lambda_function",
        'resource "aws_lambda_function" "f" {\n function_name = "f"\n memory_size = 512\n}',
        {"monthly_requests": 10_000_000, "request_duration_ms": 200},
        10 * 0.20 + 10_000_000 * 0.2 * 0.5 * 0.0000166667,
    ),
    (
        "aws_dynamodb_table",
        'resource "aws_dynamodb_table" "t" {\n name = "t"\n read_capacity = 30\n write_capacity = 20\n}',
        None,
        20 * 0.00065 * H + 30 * 0.00013 * H,
    ),
    (
        "aws_dynamodb_table",
        'resource "aws_dynamodb_table" "t" {\n billing_mode = "PAY_PER_REQUEST"\n}',
        {"monthly_write_request_units": 4_000_000, "monthly_read_request_units": 8_000_000, "storage_gb": 10},
        4 * 0.625 + 8 * 0.125 + 10 * 0.25,
    ),
    (
        "aws_s3_bucket",
        'resource "aws_s3_bucket" "b" {\n}',
        {
            "standard": {
                "storage_gb": 1000,
                "monthly_tier_1_requests": 100_000,
                "monthly_tier_2_requests": 1_000_000,
            }
        },
        1000 * 0.023 + 100 * 0.005 + 1000 * 0.0004,
    ),
    (
        "aws_efs_file_system",
        'resource "aws_efs_file_system" "f" {\n throughput_mode = "provisioned"\n'
        " provisioned_throughput_in_mibps = 10\n}",
        {"storage_gb": 100},
        100 * 0.30 + 10 * 6.00,
    ),
    (
        "aws_ecr_repository",
        'resource "aws_ecr_repository" "r" {\n name = "r"\n}',
        {"storage_gb": 25},
        25 * 0.10,
    ),
    (
        "aws_api_gateway_rest_api",
        'resource "aws_api_gateway_rest_api" "a" {\n name = "a"\n}',
        {"monthly_requests": 400_000_000},
        333 * 3.50 + 67 * 2.80,
    ),
    (
        "aws_apigatewayv2_api",
        'resource "aws_apigatewayv2_api" "a" {\n protocol_type = "HTTP"\n}',
        {"monthly_requests": 5_000_000},
        5 * 1.00,
    ),
    (
        "aws_cloudwatch_log_group",
        'resource "aws_cloudwatch_log_group" "l" {\n name = "l"\n}',
        {"monthly_data_ingested_gb": 10, "storage_gb": 50},
        10 * 0.50 + 50 * 0.03,
    ),
    (
        "aws_cloudwatch_metric_alarm",
        'resource "aws_cloudwatch_metric_alarm" "a" {\n period = 10\n}',
        None,
        0.30,
    ),
    (
        "aws_cloudwatch_dashboard",
        'resource "aws_cloudwatch_dashboard" "d" {\n dashboard_name = "d"\n}',
        None,
        3.00,
    ),
    ("aws_kms_key", 'resource "aws_kms_key" "k" {\n}', {"monthly_requests": 100_000}, 1.00 + 10 * 0.03),
    ("aws_secretsmanager_secret", 'resource "aws_secretsmanager_secret" "s" {\n name = "s"\n}', None, 0.40),
    ("aws_route53_zone", 'resource "aws_route53_zone" "z" {\n name = "example.com"\n}', None, 0.50),
    (
        "aws_route53_record",
        'resource "aws_route53_record" "r" {\n name = "www"\n type = "A"\n}',
        {"monthly_standard_queries": 2_000_000},
        2 * 0.40,
    ),
    (
        "aws_sqs_queue",
        'resource "aws_sqs_queue" "q" {\n fifo_queue = true\n}',
        {"monthly_requests": 3_000_000},
        3 * 0.50,
    ),
    (
        "aws_sns_topic",
        'resource "aws_sns_topic" "t" {\n name = "t"\n}',
        {"monthly_requests": 2_000_000},
        2 * 0.50,
    ),
    ("aws_kinesis_stream", 'resource "aws_kinesis_stream" "k" {\n shard_count = 2\n}', None, 2 * 0.015 * H),
    (
        "aws_sfn_state_machine",
        'resource "aws_sfn_state_machine" "m" {\n name = "m"\n}',
        {"monthly_transitions": 100_000},
        100 * 0.025,
    ),
    (
        "aws_ec2_transit_gateway_vpc_attachment",
        'resource "aws_ec2_transit_gateway_vpc_attachment" "a" {\n}',
        None,
        0.05 * H,
    ),
    (
        "aws_docdb_cluster_instance",
        'resource "aws_docdb_cluster_instance" "d" {\n instance_class = "db.t3.medium"\n}',
        None,
        0.078 * H,
    ),
    (
        "aws_redshift_cluster",
        'resource "aws_redshift_cluster" "r" {\n node_type = "ra3.xlplus"\n number_of_nodes = 2\n}',
        None,
        2 * 1.086 * H,
    ),
    (
        "aws_opensearch_domain",
        'resource "aws_opensearch_domain" "o" {\n cluster_config {\n'
        ' instance_type = "r6g.large.search"\n instance_count = 3\n }\n}',
        None,
        3 * 0.167 * H,
    ),
    (
        "aws_elasticsearch_domain",
        'resource "aws_elasticsearch_domain" "o" {\n cluster_config {\n'
        ' instance_type = "m5.large.elasticsearch"\n }\n}',
        None,
        0.142 * H,
    ),
    (
        "aws_msk_cluster",
        'resource "aws_msk_cluster" "m" {\n number_of_broker_nodes = 3\n'
        ' broker_node_group_info {\n instance_type = "kafka.m5.large"\n }\n}',
        None,
        3 * 0.21 * H,
    ),
]


@pytest.mark.parametrize(("resource_type", "hcl", "usage", "expected"), CASES, ids=[c[0] for c in CASES])
def test_monthly_cost_matches_hand_arithmetic(
    resource_type: str, hcl: str, usage: dict[str, Any] | None, expected: float
) -> None:
    # Given a small configuration of one covered type (usage by type where the cost depends on it)
    by_type = {"resource_type_default_usage": {resource_type: usage}} if usage else None

    # When it is estimated
    report = estimate(files={"main.tf": hcl}, usage=by_type).to_dict()

    # Then the total is the hand-worked figure, and nothing was left unpriced
    assert report["costs"]["total"] == pytest.approx(round(expected, 2), abs=0.011)
    assert [u for u in report["unpriced"] if u["type"] == resource_type] == []


def test_at_least_forty_types_are_covered_and_all_have_a_case() -> None:
    # Given the registry / When counted / Then the coverage bar holds and every type is tested above
    assert len(PRICERS) >= 40
    assert set(PRICERS) == {c[0] for c in CASES + MORE_CASES}
