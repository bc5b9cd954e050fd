"""The edge: CloudFront distributions, Route 53 health checks, WAFv2 web ACLs.

Usage keys are Infracost's (``monthly_data_transfer_to_internet_gb.us``, ``endpoint_type``,
``rule_group_rules`` ...), so one usage file serves both tools.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cost.attrs import blocks, first_block, flag, number, text
from cost.bill import Bill

# CloudFront's edge location groups, as Infracost's usage file names them. Only the groups with a
# sourced price are billed; usage given for another group is reported unpriced.
CLOUDFRONT_GROUPS = {
    "us": "US, Mexico, Canada",
    "europe": "Europe, Israel",
    "south_africa": "South Africa, Kenya, Middle East",
    "south_america": "South America",
    "japan": "Japan",
    "australia": "Australia, New Zealand",
    "asia_pacific": "Hong Kong, Philippines, Asia Pacific",
    "india": "India",
}
PRICED_GROUPS = ("us", "europe")
# Data transfer out tiers in GB: 10 TB, 40 TB, 100 TB, 350 TB, 524 TB, 4 PB, then the rest.
DTO_TIER_GB = (10240.0, 40960.0, 102400.0, 358400.0, 536576.0, 4194304.0, float("inf"))
FREE_INVALIDATION_PATHS = 1000.0


def cloudfront_distribution(bill: Bill) -> None:
    attrs = bill.attrs
    for group in CLOUDFRONT_GROUPS:
        _cloudfront_group(bill, group, default=group == "us")
    if text(first_block(attrs, "viewer_certificate"), "ssl_support_method") == "vip":
        certificates = bill.usage_value("custom_ssl_certificates") or 1.0
        bill.fixed("Dedicated IP custom SSL", "cloudfront:dedicated_ip_ssl", certificates, "certificates")
    invalidations = bill.usage_value("monthly_invalidation_requests")
    bill.metered(
        f"Invalidation requests (over {FREE_INVALIDATION_PATHS:,.0f} free paths)",
        "cloudfront:invalidation",
        None if invalidations is None else max(0.0, invalidations - FREE_INVALIDATION_PATHS),
        "paths",
    )
    if bill.usage_value("monthly_encryption_requests") is not None:
        bill.usage(
            "Field-level encryption requests",
            "cloudfront:field_encryption",
            "monthly_encryption_requests",
            "10k requests",
            1e-4,
        )
    if bill.usage_value("monthly_log_lines") is not None:
        bill.usage("Real-time log lines", "cloudfront:realtime_logs", "monthly_log_lines", "1M lines", 1e-6)


def _cloudfront_group(bill: Bill, group: str, *, default: bool) -> None:
    """One edge group's transfer and requests; listed as usage-based for the default group only."""
    label = CLOUDFRONT_GROUPS[group]
    keys = (
        "monthly_data_transfer_to_internet_gb",
        "monthly_data_transfer_to_origin_gb",
        "monthly_http_requests",
        "monthly_https_requests",
    )
    given = any(bill.usage_value(f"{key}.{group}") is not None for key in keys)
    if not given and not default:
        return
    if group not in PRICED_GROUPS:
        bill.unknown(f"CloudFront {label}", "no sourced price for this edge location group")
        return
    bill.tiered(
        f"{label}: data transfer out to internet",
        [(size, f"cloudfront:{group}:dto:tier{n}") for n, size in enumerate(DTO_TIER_GB, start=1)],
        f"monthly_data_transfer_to_internet_gb.{group}",
        "GB",
        1.0,
    )
    bill.usage(
        f"{label}: data transfer out to origin",
        f"cloudfront:{group}:origin",
        f"monthly_data_transfer_to_origin_gb.{group}",
        "GB",
    )
    bill.usage(
        f"{label}: HTTP requests",
        f"cloudfront:{group}:http",
        f"monthly_http_requests.{group}",
        "10k requests",
        1e-4,
    )
    bill.usage(
        f"{label}: HTTPS requests",
        f"cloudfront:{group}:https",
        f"monthly_https_requests.{group}",
        "10k requests",
        1e-4,
    )


def route53_health_check(bill: Bill) -> None:
    attrs = bill.attrs
    endpoint = str(bill.usage_values.get("endpoint_type", "aws")).lower()
    where = "non_aws" if endpoint == "non_aws" else "aws"
    check_type = (text(attrs, "type") or "").upper()
    # Route 53's optional features, each billed per health check per month.
    features = [
        name
        for name, enabled in (
            ("HTTPS", check_type.startswith("HTTPS")),
            ("string matching", check_type.endswith("STR_MATCH")),
            ("fast interval", number(attrs, "request_interval") == 10),
            ("latency measurement", flag(attrs, "measure_latency")),
        )
        if enabled
    ]
    endpoint_label = "non-AWS endpoint" if where == "non_aws" else "AWS endpoint"
    bill.fixed(f"Health check ({endpoint_label})", f"route53:health_check:{where}", 1.0, "months")
    if features:
        bill.fixed(
            f"Optional features ({', '.join(features)})",
            f"route53:health_check:feature:{where}",
            float(len(features)),
            "feature-months",
        )


def wafv2_web_acl(bill: Bill) -> None:
    rules = groups = managed = 0
    for rule in blocks(bill.attrs, "rule"):
        kinds = set(_statement_kinds(first_block(rule, "statement")))
        if "rule_group_reference_statement" in kinds:
            groups += 1
        elif "managed_rule_group_statement" in kinds:
            managed += 1
        else:
            rules += 1
    # The rules inside referenced groups bill as rules too; only the usage file knows how many.
    inner = sum(bill.usage_value(key) or 0.0 for key in ("rule_group_rules", "managed_rule_group_rules"))
    bill.fixed("Web ACL", "waf:web_acl", 1.0, "months")
    if rules or inner:
        bill.fixed(f"Rules ({rules + inner:g})", "waf:rule", rules + inner, "rule-months")
    if groups:
        bill.fixed(f"Rule groups ({groups})", "waf:rule", float(groups), "group-months")
    if managed:
        bill.fixed(f"Managed rule groups ({managed})", "waf:rule", float(managed), "group-months")
    bill.usage("Requests", "waf:requests", "monthly_requests", "1M requests", 1e-6)


def _statement_kinds(statement: Mapping[str, Any]) -> Iterator[str]:
    """The statement kinds at the top of a rule's statement block (``managed_rule_group_statement`` ...)."""
    for name, value in statement.items():
        if name.endswith("_statement") and value:
            yield name
