"""Systems Manager: Parameter Store parameters (only the advanced tier is billed)."""

from __future__ import annotations

from cost.attrs import text
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
