"""Monthly cost estimates from AWS public list prices, offline.

The API, the runner and the command line call one function::

    from cost import estimate

    report = estimate(
        plan=plan_json,          # `terraform show -json PLANFILE` (redacted plans are fine), or
        files={"main.tf": ...},  # the HCL when there is no plan yet (+ `variables`, tfvars files)
        state=state_json,        # optional: what is deployed now -> prior / proposed / delta
        usage=usage_yaml_dict,   # optional: Infracost usage-file format (version 0.1)
        default_region="us-east-1",
    )
    report.to_dict()  # {"costs": {...}, "resources": [...], "unpriced": [...], "coverage": {...},
                      #  "totalText": "≥ $12.34", "warnings": [...], "recommendations": [...], ...}

Prices come from the bundled catalog ``data/prices.json.gz`` (see ``catalog``): every price
names its source and date; anything without a sourced price is reported as unpriced, never $0,
and makes the total a lower bound. ``usage_keys`` lists the usage keys each priced type reads
(Infracost's names); ``recommend`` finds cheaper equivalents with their monthly saving.
"""

from cost.catalog import PriceCatalog, load_catalog
from cost.estimate import estimate
from cost.report import CostReport
from cost.usage import Usage, UsageError, load_usage_file, parse_usage

__all__ = [
    "CostReport",
    "PriceCatalog",
    "Usage",
    "UsageError",
    "estimate",
    "load_catalog",
    "load_usage_file",
    "parse_usage",
]
