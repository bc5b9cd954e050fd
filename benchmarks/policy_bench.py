"""Time a policy check of a 1,000-resource plan: every built-in, three Rego policies (in their
sandboxed worker process), and the whole set together as a job's check runs it.

Target: the whole set under 1 s on the project's 2-core machine. Medians of five runs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.cost_bench import synthetic_plan
from policy.builtins import BUILTINS
from policy.engine import Policy, check_plan
from policy.model import Level, PolicyContext

RESOURCES = 1_000
TARGET_SECONDS = 1.0
SETTINGS: dict[str, dict[str, Any]] = {
    "destroy-protection": {"types": ["aws_db_instance"], "anyDelete": False},
    "budget": {"maxMonthlyTotal": 1_000_000, "maxMonthlyDelta": 1_000_000},
    "allowed-regions": {"regions": ["us-*", "eu-*"]},
    "allowed-classes": {"instanceTypes": ["t3.*", "m5.*", "c5.*", "r6g.*"], "databaseClasses": ["db.t3.*"]},
    "required-tags": {"tags": ["owner"]},
    "public-exposure": {},
}
REGO = {
    "instance-types": """package bench.types
import rego.v1
deny contains msg if {
    some change in input.resource_changes
    change.type == "aws_instance"
    not change.change.after.instance_type in {"t3.micro", "m5.large", "c5.xlarge", "r6g.large"}
    msg := sprintf("%s: %s", [change.address, change.change.after.instance_type])
}
""",
    "no-deletes": """package bench.deletes
import rego.v1
deny contains msg if {
    some change in input.tfplan.resource_changes
    "delete" in change.change.actions
    msg := sprintf("%s is deleted by %s", [change.address, input.tfrun.created_by.username])
}
""",
    "cost-delta": """package bench.cost
import rego.v1
warn contains "the monthly cost rises by more than $10,000" if { input.cost.delta > 10000 }
deny contains msg if {
    count([c | some c in input.resource_changes; c.type == "aws_db_instance"]) > 500
    msg := "too many databases"
}
""",
}


def _plan() -> dict[str, Any]:
    """The cost bench's plan, with what terraform adds: providers, tags, the configuration."""
    plan = synthetic_plan(RESOURCES)
    resources: dict[str, dict[str, Any]] = {}
    for change in plan["resource_changes"]:
        change["provider_name"] = "registry.terraform.io/hashicorp/aws"
        change["name"] = change["address"].split(".")[1].split("[")[0]
        change["change"]["after"]["tags"] = {"owner": "bench"}
        change["change"]["after"]["tags_all"] = {"owner": "bench"}
        change["change"]["after_unknown"] = {}
        address = change["address"].split("[")[0]
        resources[address] = {
            "address": address,
            "mode": "managed",
            "type": change["type"],
            "name": change["name"],
            "provider_config_key": "aws",
        }
    plan["configuration"]["root_module"] = {"resources": list(resources.values())}
    return plan


def _median(run: Callable[[], object]) -> float:
    run()  # warm: imports and the catalog, as in a warm Lambda
    times = []
    for _ in range(5):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    plan = _plan()
    context = PolicyContext(
        project_id="bench",
        caller="bench",
        action="deploy",
        cost={
            "prior": 0.0,
            "proposed": 50_000.0,
            "delta": 50_000.0,
            "priced": 800,
            "free": 200,
            "unpriced": 0,
        },
    )
    builtins = [
        Policy(name, "install", "builtin", Level.MANDATORY, settings=SETTINGS[name]) for name in BUILTINS
    ]
    rego = [Policy(name, "install", "rego", Level.MANDATORY, source=source) for name, source in REGO.items()]
    rows = [(f"built-in {p.name}", [p]) for p in builtins]
    rows += [
        ("3 Rego policies (one worker process)", rego),
        ("the whole set (6 built-ins + 3 Rego)", builtins + rego),
    ]
    print(f"policy check of a {RESOURCES:,}-resource plan (median of 5)")
    for label, policies in rows:
        check = check_plan(policies, plan, context)
        elapsed = _median(lambda policies=policies: check_plan(policies, plan, context))  # type: ignore[misc]
        verdict = (
            ""
            if label.startswith("built-in")
            else f"  (target < {TARGET_SECONDS:.1f} s, "
            + ("ok)" if elapsed < TARGET_SECONDS else "OVER TARGET)")
        )
        print(f"  {label:<40} {elapsed:7.3f} s  {check.verdict}{verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
