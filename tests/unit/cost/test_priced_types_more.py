"""The resource types priced since the second pass, each against arithmetic done by hand.

Unit prices are the catalog's, read from the Infracost golden each row cites (us-east-1 unless
the case says otherwise; CloudFront and Route 53 bill one global price).
"""

from __future__ import annotations

from typing import Any

import pytest

from cost import estimate

H = 730  # hours a month

# (type, HCL, usage for that type or None, expected monthly total worked out by hand)
CASES: list[tuple[str, str, dict[str, Any] | None, float]] = [
    (
        "aws_cloudfront_distribution",
        'resource "aws_cloudfront_distribution" "d" {\n enabled = true\n'
        ' viewer_certificate {\n ssl_support_method = "vip"\n }\n}',
        {
            "monthly_data_transfer_to_internet_gb": {"us": 20_000, "europe": 100},
            "monthly_https_requests": {"us": 1_000_000},
            "monthly_invalidation_requests": 1_500,
        },
        # US: first 10,240 GB at $0.085, the next 9,760 GB at $0.080; Europe: 100 GB at $0.085;
        # 100 x 10k HTTPS requests at $0.01; 500 paths over the free 1,000 at $0.005;
        # one dedicated-IP certificate at $600.
        10_240 * 0.085 + 9_760 * 0.080 + 100 * 0.085 + 100 * 0.01 + 500 * 0.005 + 600.0,
    ),
    (
        "aws_route53_health_check",
        'resource "aws_route53_health_check" "h" {\n type = "HTTPS_STR_MATCH"\n fqdn = "example.com"\n'
        ' request_interval = "10"\n measure_latency = true\n}',
        {"endpoint_type": "non_aws"},
        # a non-AWS endpoint ($0.75) with four optional features (HTTPS, string match,
        # 10-second interval, latency) at $2.00 each
        0.75 + 4 * 2.00,
    ),
    (
        "aws_route53_health_check",
        'resource "aws_route53_health_check" "h" {\n type = "HTTP"\n fqdn = "example.com"\n}',
        None,
        0.50,
    ),
    (
        "aws_wafv2_web_acl",
        'resource "aws_wafv2_web_acl" "w" {\n name = "w"\n scope = "REGIONAL"\n'
        ' rule {\n name = "rate"\n statement {\n rate_based_statement {\n limit = 100\n }\n }\n }\n'
        ' rule {\n name = "managed"\n statement {\n managed_rule_group_statement {\n'
        ' name = "AWSManagedRulesCommonRuleSet"\n vendor_name = "AWS"\n }\n }\n }\n'
        ' rule {\n name = "group"\n statement {\n rule_group_reference_statement {\n'
        ' arn = "arn:aws:wafv2:us-east-1:111122223333:regional/rulegroup/g/1"\n }\n }\n }\n}',
        {"rule_group_rules": 5, "managed_rule_group_rules": 10, "monthly_requests": 2_000_000},
        # web ACL $5; 1 own rule + 5 + 10 group rules at $1; one rule group and one managed
        # group at $1 each; 2M requests at $0.60 per 1M
        5.00 + (1 + 5 + 10) * 1.00 + 1.00 + 1.00 + 2 * 0.60,
    ),
    (
        "aws_transfer_server",
        'resource "aws_transfer_server" "t" {\n protocols = ["SFTP", "FTPS"]\n}',
        {"monthly_data_downloaded_gb": 50, "monthly_data_uploaded_gb": 10},
        2 * 0.30 * H + 50 * 0.04 + 10 * 0.04,
    ),
    (
        "aws_transfer_server",
        'resource "aws_transfer_server" "t" {\n}',
        None,
        0.30 * H,  # the provider's default protocol, SFTP
    ),
    (
        "aws_fsx_windows_file_system",
        'resource "aws_fsx_windows_file_system" "f" {\n storage_capacity = 300\n throughput_capacity = 32\n'
        ' deployment_type = "MULTI_AZ_1"\n storage_type = "HDD"\n}',
        {"backup_storage_gb": 100},
        32 * 4.50 + 300 * 0.025 + 100 * 0.05,
    ),
    (
        "aws_fsx_openzfs_file_system",
        'resource "aws_fsx_openzfs_file_system" "z" {\n storage_capacity = 300\n throughput_capacity = 1024\n'
        ' deployment_type = "SINGLE_AZ_1"\n disk_iops_configuration {\n mode = "USER_PROVISIONED"\n'
        " iops = 1000\n }\n}",
        None,
        # 1,000 IOPS less the 3 per GB included (900) leaves 100 billed
        1024 * 0.26 + 300 * 0.09 + 100 * 0.006,
    ),
    (
        "aws_route53_resolver_endpoint",
        'resource "aws_route53_resolver_endpoint" "r" {\n direction = "INBOUND"\n'
        ' ip_address {\n subnet_id = "a"\n }\n ip_address {\n subnet_id = "b"\n }\n}',
        {"monthly_queries": 2_000_000_000},
        # two IP addresses (ENIs) by the hour; the first 1B queries at $0.40/1M, the next 1B at $0.20
        2 * 0.125 * H + 1000 * 0.40 + 1000 * 0.20,
    ),
    (
        "aws_networkfirewall_firewall",
        'resource "aws_networkfirewall_firewall" "f" {\n name = "f"\n}',
        {"monthly_data_processed_gb": 100},
        0.395 * H + 100 * 0.065,
    ),
    (
        "aws_vpn_connection",
        'resource "aws_vpn_connection" "v" {\n customer_gateway_id = "cgw"\n transit_gateway_id = "tgw"\n}',
        {"monthly_data_processed_gb": 100},
        0.05 * H + 0.05 * H + 100 * 0.02,  # the connection, its transit gateway attachment, its data
    ),
    (
        "aws_vpn_connection",
        'resource "aws_vpn_connection" "v" {\n customer_gateway_id = "cgw"\n vpn_gateway_id = "vgw"\n}',
        None,
        0.05 * H,
    ),
    (
        "aws_ssm_parameter",
        'resource "aws_ssm_parameter" "p" {\n name = "p"\n type = "String"\n tier = "Advanced"\n}',
        {
            "parameter_storage_hrs": 600,
            "api_throughput_limit": "advanced",
            "monthly_api_interactions": 100_000,
        },
        600 / H * 0.05 + 10 * 0.05,
    ),
    (
        "aws_ssm_parameter",
        'resource "aws_ssm_parameter" "p" {\n name = "p"\n type = "String"\n}',
        None,
        0.0,  # standard parameters are free
    ),
    (
        "aws_backup_vault",
        'resource "aws_backup_vault" "v" {\n name = "v"\n}',
        {
            "monthly_efs_warm_backup_gb": 500,
            "monthly_ebs_snapshot_gb": 200,
            "monthly_rds_snapshot_gb": 100,
            "monthly_aurora_snapshot_gb": 100,
            "monthly_dynamodb_backup_gb": 50,
        },
        # EFS warm $0.05 (FactualMinds' us-east-1 table: 500 GB $25), EBS snapshots $0.05, RDS
        # snapshots $0.095, Aurora $0.021, DynamoDB backup $0.10 per GB-month
        500 * 0.05 + 200 * 0.05 + 100 * 0.095 + 100 * 0.021 + 50 * 0.10,
    ),
    (
        "aws_acmpca_certificate_authority",
        'resource "aws_acmpca_certificate_authority" "ca" {\n type = "ROOT"\n}',
        {"monthly_requests": 20_001},
        # $400 a month; the first 1,000 certificates at $0.75, the next 9,000 at $0.35, the
        # remaining 10,001 at $0.001
        400.0 + 1000 * 0.75 + 9000 * 0.35 + 10_001 * 0.001,
    ),
    (
        "aws_acmpca_certificate_authority",
        'resource "aws_acmpca_certificate_authority" "ca" {\n usage_mode = "SHORT_LIVED_CERTIFICATE"\n}',
        {"monthly_requests": 1000},
        50.0 + 1000 * 0.058,
    ),
    (
        "aws_cloudtrail",
        'resource "aws_cloudtrail" "t" {\n name = "t"\n s3_bucket_name = "b"\n'
        ' insight_selector {\n insight_type = "ApiCallRateInsight"\n }\n}',
        {
            "monthly_additional_management_events": 100_000,
            "monthly_data_events": 200_000,
            "monthly_insight_events": 300_000,
        },
        1 * 2.00 + 2 * 0.10 + 3 * 0.35,  # per 100k events
    ),
]


@pytest.mark.parametrize(("resource_type", "hcl", "usage", "expected"), CASES, ids=[c[0] for c in CASES])
def test_new_types_match_hand_arithmetic(
    resource_type: str, hcl: str, usage: dict[str, Any] | None, expected: float
) -> None:
    # Given one resource of a newly priced type, with usage by type where it has any
    by_type = {"resource_type_default_usage": {resource_type: usage}} if usage else None
    # When it is estimated
    report = estimate(files={"main.tf": hcl}, usage=by_type).to_dict()
    # Then the total is the hand-worked figure and nothing of it was left unpriced
    assert report["costs"]["total"] == pytest.approx(round(expected, 2), abs=0.011)
    assert report["unpriced"] == []


# Price-accuracy fixes on types priced before: (case, HCL, usage, expected)
ACCURACY: list[tuple[str, str, dict[str, Any] | None, float]] = [
    (
        "ebs-optimized previous generation",
        'resource "aws_instance" "i" {\n instance_type = "r3.xlarge"\n ebs_optimized = true\n}',
        None,
        # r3.xlarge $0.333/h + the EBS-optimized fee $0.02/h (infracost instance_test.golden:
        # 730 h $14.60), + the assumed 8 GB gp2 root volume
        0.333 * H + 0.02 * H + 8 * 0.10,
    ),
    (
        "ebs-optimized current generation is free",
        'resource "aws_instance" "i" {\n instance_type = "m5.large"\n ebs_optimized = true\n}',
        None,
        0.096 * H + 8 * 0.10,
    ),
    (
        "rds storage left out",
        'resource "aws_db_instance" "d" {\n engine = "mysql"\n instance_class = "db.t3.large"\n}',
        None,
        0.136 * H + 20 * 0.115,  # RDS's minimum of 20 GB gp2, as Infracost assumes
    ),
    (
        "rds io1 storage left out",
        'resource "aws_db_instance" "d" {\n engine = "postgres"\n instance_class = "db.m5.large"\n'
        ' storage_type = "io1"\n iops = 1000\n}',
        None,
        0.178 * H + 100 * 0.125 + 1000 * 0.10,  # io1's minimum is 100 GB
    ),
    (
        "opensearch ebs storage",
        'resource "aws_opensearch_domain" "o" {\n cluster_config {\n instance_type = "m5.large.search"\n'
        " instance_count = 2\n }\n ebs_options {\n ebs_enabled = true\n volume_size = 100\n }\n}",
        None,
        2 * 0.142 * H + 2 * 100 * 0.135,  # volume_size is per data node
    ),
    (
        "msk broker storage",
        'resource "aws_msk_cluster" "m" {\n number_of_broker_nodes = 2\n broker_node_group_info {\n'
        ' instance_type = "kafka.m5.large"\n storage_info {\n ebs_storage_info {\n volume_size = 500\n'
        " }\n }\n }\n}",
        None,
        2 * 0.21 * H + 2 * 500 * 0.10,
    ),
    (
        "efs infrequent access",
        'resource "aws_efs_file_system" "e" {\n lifecycle_policy {\n transition_to_ia = "AFTER_30_DAYS"\n }\n}',
        {
            "storage_gb": 100,
            "infrequent_access_storage_gb": 200,
            "monthly_infrequent_access_read_gb": 50,
            "monthly_infrequent_access_write_gb": 100,
        },
        100 * 0.30 + 200 * 0.025 + 50 * 0.01 + 100 * 0.01,
    ),
]


@pytest.mark.parametrize(("case", "hcl", "usage", "expected"), ACCURACY, ids=[c[0] for c in ACCURACY])
def test_price_accuracy_fixes_match_hand_arithmetic(
    case: str, hcl: str, usage: dict[str, Any] | None, expected: float
) -> None:
    # Given a configuration that hit a known miss / When estimated / Then the hand-worked figure
    address = hcl.split('"')[1] + "." + hcl.split('"')[3]
    report = estimate(files={"main.tf": hcl}, usage={address: usage} if usage else None).to_dict()
    assert report["costs"]["total"] == pytest.approx(round(expected, 2), abs=0.011), case
    assert report["unpriced"] == [], case


def test_a_previous_generation_surcharge_without_a_source_is_unpriced_not_zero() -> None:
    # Given m3.xlarge, which charges for EBS optimization but has no sourced fee in the catalog
    hcl = 'resource "aws_instance" "i" {\n instance_type = "m3.xlarge"\n ebs_optimized = true\n}'
    report = estimate(files={"main.tf": hcl}).to_dict()
    # Then the instance is priced and the surcharge is listed as unpriced
    assert report["costs"]["total"] == pytest.approx(round(0.266 * H + 8 * 0.10, 2), abs=0.011)
    assert [u["component"] for u in report["unpriced"]] == ["EBS-optimized usage (m3.xlarge)"]


def test_rds_storage_set_from_an_unknown_stays_unknown() -> None:
    # Given allocated_storage from a variable nobody set / Then no 20 GB guess: storage is unpriced
    hcl = (
        'variable "size" {\n type = number\n}\n'
        'resource "aws_db_instance" "d" {\n engine = "mysql"\n instance_class = "db.t3.large"\n'
        " allocated_storage = var.size\n}"
    )
    report = estimate(files={"main.tf": hcl}).to_dict()
    assert [u["component"] for u in report["unpriced"]] == ["Storage"]


def test_single_az_fsx_has_no_sourced_price_and_says_so() -> None:
    # Given FSx for Windows in its default SINGLE_AZ_1 deployment (only Multi-AZ is sourced)
    hcl = (
        'resource "aws_fsx_windows_file_system" "f" {\n storage_capacity = 300\n throughput_capacity = 32\n}'
    )
    report = estimate(files={"main.tf": hcl}).to_dict()
    # Then throughput and storage are listed unpriced, not priced at the Multi-AZ rate
    assert report["costs"]["total"] == 0.0
    assert sorted(u["component"] for u in report["unpriced"]) == [
        "SSD storage (SINGLE_AZ_1)",
        "Throughput capacity (SINGLE_AZ_1)",
    ]


def test_cloudfront_usage_in_an_edge_group_without_a_price_is_unpriced() -> None:
    # Given transfer out of Japan's edge locations, whose price the catalog does not hold
    hcl = 'resource "aws_cloudfront_distribution" "d" {\n enabled = true\n}'
    usage = {"aws_cloudfront_distribution.d": {"monthly_data_transfer_to_internet_gb": {"japan": 5}}}
    report = estimate(files={"main.tf": hcl}, usage=usage).to_dict()
    # Then that group is reported unpriced rather than priced at another group's rate
    assert [u["component"] for u in report["unpriced"]] == ["CloudFront Japan"]


def test_backup_usage_without_a_sourced_price_is_unpriced() -> None:
    # Given cold EFS backups, whose AWS Backup price the catalog does not hold
    hcl = 'resource "aws_backup_vault" "v" {\n name = "v"\n}'
    usage = {"aws_backup_vault.v": {"monthly_efs_cold_backup_gb": 1000}}
    report = estimate(files={"main.tf": hcl}, usage=usage).to_dict()
    # Then it is listed as unpriced, not priced at the warm rate
    assert [u["component"] for u in report["unpriced"]] == ["EFS backup (cold)"]


def test_a_trail_without_management_events_pays_no_management_copies() -> None:
    # Given a trail whose only selector excludes management events
    hcl = (
        'resource "aws_cloudtrail" "t" {\n name = "t"\n s3_bucket_name = "b"\n'
        " event_selector {\n include_management_events = false\n }\n}"
    )
    usage = {
        "aws_cloudtrail.t": {"monthly_additional_management_events": 100_000, "monthly_data_events": 100_000}
    }
    report = estimate(files={"main.tf": hcl}, usage=usage).to_dict()
    # Then only the data events bill: 1 x 100k at $0.10
    assert report["costs"]["total"] == pytest.approx(0.10)
