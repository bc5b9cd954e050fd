"""Management and governance: Parameter Store parameters (only the advanced tier bills), CloudTrail trails."""

from __future__ import annotations

from cost.attrs import blocks, flag, text
from cost.bill import Bill
from cost.model import HOURS_PER_MONTH

HIGHER_THROUGHPUT = ("advanced", "higher")  # Infracost's api_throughput_limit values that bill


def ssm_parameter(bill: Bill) -> None:
    if (text(bill.attrs, "tier") or "Standard").lower() != "advanced":
        return  # standard parameters are free
    hours = bill.usage_value("parameter_storage_hrs")
    months = 1.0 if hours is None else hours / HOURS_PER_MONTH
    bill.fixed("Parameter storage (advanced)", "ssm:parameter:advanced", months, "parameter-months")
    limit = str(bill.usage_values.get("api_throughput_limit", "standard")).lower()
    if limit in HIGHER_THROUGHPUT:
        bill.usage(
            "API interactions (higher throughput)",
            "ssm:api:advanced",
            "monthly_api_interactions",
            "10k interactions",
            1e-4,
        )


def cloudtrail(bill: Bill) -> None:
    # The first copy of management events is free; a trail that logs them again pays for copies.
    selectors = blocks(bill.attrs, "event_selector")
    management = not selectors or any(flag(s, "include_management_events", True) for s in selectors)
    if management:
        bill.usage(
            "Management events (additional copies)",
            "cloudtrail:management",
            "monthly_additional_management_events",
            "100k events",
            1e-5,
        )
    bill.usage("Data events", "cloudtrail:data", "monthly_data_events", "100k events", 1e-5)
    if blocks(bill.attrs, "insight_selector"):
        bill.usage("Insight events", "cloudtrail:insights", "monthly_insight_events", "100k events", 1e-5)
