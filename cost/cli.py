"""``python -m cost PATH [--plan PLAN.json] [--usage FILE] [--sync-usage FILE] [--region R] [--json]``.

PATH is a directory of ``.tf`` files (and tfvars), or a plan JSON file. ``--sync-usage FILE``
writes (or brings up to date) a usage file naming every usage key the configuration's resources
could use, like Infracost's ``--sync-usage-file``, then estimates with it. Exit codes: 0 done,
2 bad arguments or unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cost.estimate import estimate, resources_of
from cost.report import total_text
from cost.usage import EMPTY, Usage, UsageError, load_usage_file
from cost.usage_keys import template

EXIT_OK = 0
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="provisioner estimate", description="Monthly AWS cost, offline.")
    parser.add_argument("path", type=Path, help="a Terraform directory, or a plan JSON file")
    parser.add_argument("--plan", type=Path, help="plan JSON from `terraform show -json PLANFILE`")
    parser.add_argument("--state", type=Path, help="current state (prior/proposed/delta)")
    parser.add_argument("--usage", type=Path, help="usage file (Infracost format, version 0.1)")
    parser.add_argument(
        "--sync-usage",
        type=Path,
        metavar="FILE",
        help="write the usage keys these resources could use to FILE (keeping values it sets), then estimate",
    )
    parser.add_argument(
        "--region", default="us-east-1", help="region when neither resource nor provider says"
    )
    parser.add_argument("--json", action="store_true", help="print the JSON report")
    return parser


def _read_json(path: Path) -> Mapping[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return document


def _read_files(directory: Path) -> dict[str, str]:
    return {
        p.name: p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(directory.iterdir())
        if p.is_file() and p.name.endswith((".tf", ".tf.json", ".tfvars"))
    }


def _sync_usage(
    path: Path, plan: Mapping[str, Any] | None, files: Mapping[str, str] | None, region: str
) -> Usage:
    existing = load_usage_file(path) if path.exists() else EMPTY
    resources = resources_of(plan=plan, files=files, default_region=region)
    path.write_text(template(resources, existing), encoding="utf-8")
    return existing


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    err = Console(stderr=True)
    try:
        if args.usage and args.sync_usage:
            raise ValueError("give --usage or --sync-usage, not both (--sync-usage reads its file too)")
        usage = load_usage_file(args.usage) if args.usage else None
        plan_path = args.plan or (args.path if args.path.is_file() else None)
        plan = _read_json(plan_path) if plan_path else None
        files = _read_files(args.path) if plan is None and args.path.is_dir() else None
        if plan is None and files is None:
            raise ValueError(f"{args.path}: not a directory or a plan JSON file")
        if args.sync_usage:
            usage = _sync_usage(args.sync_usage, plan, files, args.region)
            err.print(f"usage keys written to {args.sync_usage}")
        state = _read_json(args.state) if args.state else None
        report = estimate(plan=plan, files=files, state=state, usage=usage, default_region=args.region)
    except (OSError, ValueError, UsageError) as exc:
        err.print(f"error: {exc}")
        return EXIT_USAGE
    document = report.to_dict()
    if args.json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        _print_tables(document, Console())
    return EXIT_OK


def _print_tables(document: Mapping[str, Any], console: Console) -> None:
    costs = document["costs"]
    summary = Table(
        title=f"Monthly cost ({costs['currency']}, {document['region']}, prices as of "
        f"{document['priceDate']})"
    )
    summary.add_column("Category")
    summary.add_column("Monthly", justify="right")
    for name in ("compute", "storage", "networking", "database", "other"):
        summary.add_row(name, f"{costs[name]:,.2f}")
    floor = "≥ " if costs.get("totalIsLowerBound") else ""
    summary.add_row("[bold]total[/bold]", f"[bold]{floor}{costs['total']:,.2f}[/bold]")
    details = Table(title="By resource")
    for column in ("Resource / component", "Quantity", "Unit", "Unit price", "Monthly"):
        details.add_column(
            column, justify="left" if column.startswith("Resource") or column == "Unit" else "right"
        )
    for resource in document["resources"]:
        details.add_row(f"[bold]{resource['address']}[/bold]", "", "", "", f"{resource['monthly']:,.2f}")
        for component in resource["components"]:
            quantity = "usage" if component["quantity"] is None else f"{component['quantity']:,.4g}"
            details.add_row(
                f"  {component['name']}",
                quantity,
                component["unit"],
                f"{component['unitPrice']:.10g}",
                f"{component['monthly']:,.2f}",
            )
    console.print(summary)
    console.print(details)
    total = total_text(costs["total"], bool(costs.get("totalIsLowerBound")), costs["currency"])
    console.print(f"[bold]Total {escape(total)} a month: {escape(document['coverage']['summary'])}.[/bold]")
    for warning in document["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    if document["unpriced"]:
        console.print("[yellow]Unpriced:[/yellow]")
        for item in document["unpriced"]:
            what = f"{item['address']} {item['component'] or ''}".strip()
            console.print(f"  {what}: {item['reason']}")
    if document["usageBased"]:
        console.print(
            f"{len(document['usageBased'])} components depend on usage ($0 until a usage file gives it)."
        )
    if document["free"]:
        console.print(f"Free resources: {len(document['free'])}.")
    if "delta" in document:
        console.print(
            f"prior {document['prior']:,.2f}  proposed {document['proposed']:,.2f}  "
            f"delta {document['delta']:+,.2f}"
        )
    if document["recommendations"]:
        console.print(_recommendations(document["recommendations"]))


def _recommendations(found: list[Mapping[str, Any]]) -> Table:
    advice = Table(title="Recommendations")
    for column in ("Resource", "Change", "Now", "After", "Saving"):
        advice.add_column(column, justify="left" if column in ("Resource", "Change") else "right")
    for item in found:
        advice.add_row(
            escape(item["address"]),
            escape(item["change"]),
            f"{item['currentMonthly']:,.2f}",
            f"{item['recommendedMonthly']:,.2f}",
            f"{item['monthlySaving']:,.2f}",
        )
    return advice
