"""Networking: NAT gateways, load balancers, public IPs, endpoints, transit gateways, DNS, API Gateway."""

from __future__ import annotations

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


def load_balancer(bill: Bill) -> None:
    kind = (text(bill.attrs, "load_balancer_type") or "application").lower()
    short = {"application": "alb", "network": "nlb", "gateway": "gwlb"}.get(kind)
    if short is None:
        bill.unknown("Load balancer", f"unknown load_balancer_type {kind!r}")
        return
    bill.hourly(f"{kind.capitalize()} load balancer", f"elb:{short}:hour")
    if short != "gwlb":
        units = bill.usage_value("capacity_units")
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


def api_gateway_rest_api(bill: Bill) -> None:
    bill.tiered("Requests", REST_TIERS, "monthly_requests", "1M requests", 1e-6)


def apigatewayv2_api(bill: Bill) -> None:
    if (text(bill.attrs, "protocol_type") or "HTTP").upper() == "WEBSOCKET":
        bill.tiered("Messages", WEBSOCKET_TIERS, "monthly_messages", "1M messages", 1e-6)
        bill.usage("Connection minutes", "apigw:ws:minutes", "monthly_connection_minutes", "1M minutes", 1e-6)
    else:
        bill.tiered("Requests", HTTP_TIERS, "monthly_requests", "1M requests", 1e-6)
