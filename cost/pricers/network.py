"""Networking: NAT gateways, load balancers, public IPs, endpoints, transit gateways, DNS, API Gateway."""

from __future__ import annotations

import math

from cost.attrs import blocks, strings, text
from cost.bill import Bill
from cost.model import HOURS_PER_MONTH

REST_TIERS = [
    (333e6, "apigw:rest:requests"),
    (667e6, "apigw:rest:requests_tier2"),
    (19e9, "apigw:rest:requests_tier3"),
    (float("inf"), "apigw:rest:requests_tier4"),
]
HTTP_TIERS = [(300e6, "apigw:http:requests"), (float("inf"), "apigw:http:requests_tier2")]
WEBSOCKET_TIERS = [(1e9, "apigw:ws:messages"), (float("inf"), "apigw:ws:messages_tier2")]


def nat_gateway(bill: Bill) -> None:
    if text(bill.attrs, "connectivity_type") == "private":
        bill.unknown("NAT gateway", "private NAT gateways are not in the catalog")
        return
    bill.hourly("NAT gateway", "nat:hour")
    bill.usage("Data processed", "nat:gb", "monthly_data_processed_gb", "GB")


# One capacity unit an hour covers any one of these (AWS Elastic Load Balancing pricing); the
# hour bills the largest. Per second / per minute / GB per hour, as Infracost's keys document them.
ALB_LCU = {"new_connections": 25.0, "active_connections": 3000.0, "processed_gb_per_hour": 1.0}
ALB_RULE_EVALUATIONS_PER_LCU = 1000.0
NLB_LCU = {"new_connections": 800.0, "active_connections": 100_000.0, "processed_gb_per_hour": 1.0}


def capacity_units(bill: Bill, per_unit: dict[str, float], rules: bool) -> float | None:
    """Average LCUs an hour from the usage file, None when it gives none of the dimensions."""
    given = bill.usage_value("capacity_units")
    if given is not None:
        return given
    processed = bill.usage_value("processed_bytes_gb")
    rates = {
        "new_connections": bill.usage_value("new_connections"),
        "active_connections": bill.usage_value("active_connections"),
        # processed_bytes_gb is the month's total; the unit is per hour.
        "processed_gb_per_hour": None if processed is None else processed / HOURS_PER_MONTH,
    }
    units = [rate / per_unit[name] for name, rate in rates.items() if rate is not None]
    evaluations = bill.usage_value("rule_evaluations")
    if rules and evaluations is not None:
        units.append(evaluations / ALB_RULE_EVALUATIONS_PER_LCU)
    return max(units) if units else None


def load_balancer(bill: Bill) -> None:
    kind = (text(bill.attrs, "load_balancer_type") or "application").lower()
    short = {"application": "alb", "network": "nlb", "gateway": "gwlb"}.get(kind)
    if short is None:
        bill.unknown("Load balancer", f"unknown load_balancer_type {kind!r}")
        return
    bill.hourly(f"{kind.capitalize()} load balancer", f"elb:{short}:hour")
    if short != "gwlb":
        units = capacity_units(bill, ALB_LCU if short == "alb" else NLB_LCU, rules=short == "alb")
        bill.metered(
            "Load balancer capacity units",
            f"elb:{short}:lcu",
            None if units is None else units * HOURS_PER_MONTH,
            "LCU-hours",
        )


def classic_load_balancer(bill: Bill) -> None:
    bill.hourly("Classic load balancer", "elb:clb:hour")
    bill.usage("Data processed", "elb:clb:gb", "monthly_data_processed_gb", "GB")


def eip(bill: Bill) -> None:
    # Since February 2024 every public IPv4 address is billed by the hour, attached or idle.
    bill.hourly("Public IPv4 address", "vpc:public_ipv4")


def vpc_endpoint(bill: Bill) -> None:
    kind = (text(bill.attrs, "vpc_endpoint_type") or "Gateway").lower()
    if kind == "gateway":
        return  # S3 and DynamoDB gateway endpoints have no charge
    short = {"interface": "interface", "gatewayloadbalancer": "gwlb"}.get(kind)
    if short is None:
        bill.unknown("VPC endpoint", f"endpoint type {kind!r} is not in the catalog")
        return
    # An interface endpoint bills one ENI-hour per subnet (one per availability zone).
    zones = float(max(1, len(strings(bill.attrs, "subnet_ids"))))
    bill.hourly(f"Endpoint ({kind}, {zones:g} AZ)", f"vpce:{short}:hour", zones)
    bill.usage("Data processed", f"vpce:{short}:gb", "monthly_data_processed_gb", "GB")


def transit_gateway_attachment(bill: Bill) -> None:
    bill.hourly("Transit gateway attachment", "tgw:attachment:hour")
    bill.usage("Data processed", "tgw:gb", "monthly_data_processed_gb", "GB")


def route53_zone(bill: Bill) -> None:
    bill.fixed("Hosted zone", "route53:zone", 1.0, "months")


def route53_record(bill: Bill) -> None:
    if blocks(bill.attrs, "alias"):
        return  # queries to alias records of AWS resources are free
    bill.usage("Standard queries", "route53:queries", "monthly_standard_queries", "1M queries", 1e-6)
    bill.optional_usage(
        "Latency based routing queries",
        "route53:queries:latency",
        "monthly_latency_based_queries",
        "1M queries",
        1e-6,
    )
    bill.optional_usage("Geo DNS queries", "route53:queries:geo", "monthly_geo_queries", "1M queries", 1e-6)


def api_gateway_rest_api(bill: Bill) -> None:
    bill.tiered("Requests", REST_TIERS, "monthly_requests", "1M requests", 1e-6)


def _increments(bill: Bill, size_key: str, step_kb: float) -> float:
    """Requests are metered per ``step_kb`` of payload: a 100 KB message is four 32 KB messages."""
    size = bill.usage_value(size_key)
    return 1.0 if size is None or size <= 0 else float(math.ceil(size / step_kb))


def apigatewayv2_api(bill: Bill) -> None:
    if (text(bill.attrs, "protocol_type") or "HTTP").upper() == "WEBSOCKET":
        factor = _increments(bill, "message_size_kb", 32.0)
        bill.tiered("Messages", WEBSOCKET_TIERS, "monthly_messages", "1M messages", 1e-6, factor=factor)
        minutes = bill.usage_value("monthly_connection_mins", "monthly_connection_minutes")
        bill.metered(
            "Connection minutes",
            "apigw:ws:minutes",
            None if minutes is None else minutes * 1e-6,
            "1M minutes",
        )
    else:
        factor = _increments(bill, "request_size_kb", 512.0)
        bill.tiered("Requests", HTTP_TIERS, "monthly_requests", "1M requests", 1e-6, factor=factor)
