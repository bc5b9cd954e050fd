"""Private connectivity: Route 53 Resolver endpoints, Network Firewall, site-to-site VPN."""

from __future__ import annotations

from cost.attrs import blocks, text
from cost.bill import Bill

RESOLVER_QUERY_TIERS = [(1e9, "route53resolver:queries"), (float("inf"), "route53resolver:queries_tier2")]
MIN_RESOLVER_IPS = 2  # Route 53 Resolver requires at least two IP addresses per endpoint


def route53_resolver_endpoint(bill: Bill) -> None:
    # Each IP address is an elastic network interface, billed by the hour.
    addresses = float(max(MIN_RESOLVER_IPS, len(blocks(bill.attrs, "ip_address"))))
    bill.hourly(f"Resolver endpoint ({addresses:g} IP addresses)", "route53resolver:endpoint:hour", addresses)
    bill.tiered("DNS queries", RESOLVER_QUERY_TIERS, "monthly_queries", "1M queries", 1e-6)


def networkfirewall_firewall(bill: Bill) -> None:
    bill.hourly("Network Firewall endpoint", "networkfirewall:endpoint:hour")
    bill.usage("Data processed", "networkfirewall:gb", "monthly_data_processed_gb", "GB")


def vpn_connection(bill: Bill) -> None:
    bill.hourly("VPN connection", "vpn:connection:hour")
    if text(bill.attrs, "transit_gateway_id") is not None:
        # On a transit gateway the connection is also an attachment, with its own hours and data.
        bill.hourly("Transit gateway attachment", "tgw:attachment:hour")
        bill.usage("Data processed", "tgw:gb", "monthly_data_processed_gb", "GB")
