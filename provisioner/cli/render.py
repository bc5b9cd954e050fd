"""Tables and panels for people; ``--json`` bypasses all of this.

Every value that comes from the API or from terraform goes in as ``Text``, never as markup: a
bucket named ``[bold]`` or a log line with brackets must print as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from core.responses import (
    CostsOut,
    InfrastructureOut,
    JobListOut,
    JobOut,
    JobTimings,
    StateOut,
    ValidationFinding,
    ValidationOut,
)
from core.timings import PHASES as TIMING_PHASES

# Phases under a tenth of a second are left out of the line: they would round to 0.0s.
TIMING_SHOWN_FROM_MS = 50
STATUS_STYLES = {"completed": "green", "failed": "red", "processing": "cyan", "pending": "yellow"}
DEPLOYMENT_STYLES = {"deployed": "green", "failed": "red", "pending": "yellow"}
COST_CATEGORIES = ("compute", "storage", "networking", "database", "other")
LOG_TAIL_LINES = 40
ERROR_WIDTH = 40


def text(value: object, style: str = "") -> Text:
    return Text("" if value is None else str(value), style=style)


def value_text(value: Any) -> Text:
    """An output value: strings as they are, anything else as compact JSON."""
    return text(value if isinstance(value, str) else json.dumps(value))


def status_text(status: str) -> Text:
    return text(status, f"bold {STATUS_STYLES.get(status, '')}".strip())


def outputs_table(outputs: Mapping[str, Any], title: str = "Outputs") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("Output", style="bold", no_wrap=True)
    table.add_column("Value", overflow="fold")
    for name, value in sorted(outputs.items()):
        table.add_row(text(name), value_text(value))
    return table


def print_outputs(console: Console, outputs: Mapping[str, Any]) -> None:
    if outputs:
        console.print(outputs_table(outputs))
    else:
        console.print(text("No outputs.", "dim"))


def job_table(job: JobOut, extra: Sequence[tuple[str, Text]] = ()) -> Table:
    """``extra``: rows after the phase (queue, approval, plan); a "Plan" row there replaces the summary."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("Job", text(job.jobId))
    table.add_row("Project", text(job.projectId))
    table.add_row("Action", text(job.action))
    table.add_row("Status", status_text(job.status.value))
    table.add_row("Phase", text(f"{job.phase} ({job.progress}%)"))
    if job.pendingReason:
        table.add_row("Waiting", text(job.pendingReason, "yellow"))
    for name, cell in extra:
        table.add_row(name, cell)
    if job.planSummary is not None and not any(name == "Plan" for name, _ in extra):
        plan = job.planSummary
        table.add_row("Plan", text(f"{plan.add} to add, {plan.change} to change, {plan.destroy} to destroy"))
    table.add_row("Started", text(job.startTime or "-"))
    table.add_row("Ended", text(job.endTime or "-"))
    if job.timings is not None:
        table.add_row("Timings", text(timings_text(job.timings)))
    if job.result is not None and job.result.message != job.error:
        table.add_row("Message", text(job.result.message))
    if job.error:
        table.add_row("Error", text(job.error, "red"))
    return table


def timings_text(timings: JobTimings) -> str:
    """``total 12.3s: queued 0.4s, init 2.1s, …``: the phases that took any time, in order."""
    shown = timings.model_dump()
    parts = [
        f"{name} {shown[name] / 1000:.1f}s"
        for name in TIMING_PHASES
        if isinstance(shown.get(name), int) and shown[name] >= TIMING_SHOWN_FROM_MS
    ]
    line = f"total {timings.total / 1000:.1f}s: " + ", ".join(parts)
    if timings.startUpDetail:
        detail = ", ".join(f"{k.lower()} {v / 1000:.1f}s" for k, v in timings.startUpDetail.items())
        line += f" (start-up: {detail})"
    return line


def print_job(console: Console, job: JobOut, extra: Sequence[tuple[str, Text]] = ()) -> None:
    console.print(job_table(job, extra))
    if job.result is not None and job.result.outputs:
        console.print(outputs_table(job.result.outputs))


def log_tail(logs: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(logs.rstrip("\n").splitlines()[-lines:])


def print_failure(console: Console, job: JobOut, *, headline: bool = True) -> None:
    """The error, then the end of the log: where terraform says what went wrong."""
    if headline:
        console.print(
            text(f"{job.action} {job.jobId} failed: {job.error or 'no error recorded'}", "bold red")
        )
    if job.result is not None and job.result.logs.strip():
        console.rule(text("the log's last lines", "dim"))
        console.print(text(log_tail(job.result.logs)), soft_wrap=True)
        console.print(text(f"the whole log: provisioner logs {job.jobId}", "dim"))


def shorten(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def short_time(stamp: str | None) -> str:
    """2026-11-26T14:22:19.438Z -> 2026-11-26 14:22:19 (UTC, as the API gives it)."""
    return stamp[:19].replace("T", " ") if stamp else "-"


def jobs_table(page: JobListOut, *, errors: bool = True) -> Table:
    """``errors``: a column with each failed job's error, cut short (for wide enough screens)."""
    table = Table(title="Jobs, newest first (times in UTC)", title_justify="left")
    table.add_column("Job", no_wrap=True)
    table.add_column("Project", overflow="fold")
    table.add_column("Action")
    table.add_column("Status")
    table.add_column("Started")
    if errors:
        table.add_column("Error", overflow="fold", ratio=1)
    for job in page.jobs:
        status = status_text(job.status.value)
        if job.status.value != "completed":
            status.append(f" ({job.phase} {job.progress}%)")
        cells = [
            text(job.jobId),
            text(job.projectId),
            text(job.action),
            status,
            text(short_time(job.startTime)),
        ]
        if errors:
            # Cut short: `provisioner status JOB` has the whole error.
            cells.append(text(shorten(job.error or "", ERROR_WIDTH), "red"))
        table.add_row(*cells)
    return table


def infrastructure_table(infra: InfrastructureOut) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    status = infra.deploymentStatus.value
    table.add_row("Project", text(infra.projectId))
    table.add_row("Deployment", text(status, f"bold {DEPLOYMENT_STYLES.get(status, '')}".strip()))
    table.add_row("Last job", text(infra.deploymentJobId or "-"))
    if infra.activeJobId:
        table.add_row("Running now", text(infra.activeJobId, "cyan"))
    if infra.terraformState is not None:
        state = infra.terraformState
        table.add_row(
            "State",
            text(
                f"{state.resourceCount} resources, serial {state.serial}, terraform {state.terraformVersion}"
            ),
        )
    table.add_row("Updated", text(infra.lastUpdated or "-"))
    return table


def resource_address(resource: Mapping[str, Any]) -> str:
    address = f"{resource.get('type')}.{resource.get('name')}"
    if resource.get("mode") == "data":
        address = f"data.{address}"
    return f"{resource['module']}.{address}" if resource.get("module") else address


def state_table(state: StateOut) -> Table:
    document = state.state
    resources: Sequence[Mapping[str, Any]] = document.get("resources") or []
    table = Table(
        title=f"State of {state.projectId}: serial {document.get('serial', '-')}, "
        f"terraform {document.get('terraform_version', '-')}",
        title_justify="left",
    )
    table.add_column("Resource", overflow="fold")
    table.add_column("Instances", justify="right")
    table.add_column("Provider", overflow="fold")
    for resource in resources:
        provider = str(resource.get("provider", "")).removeprefix("provider[").removesuffix("]")
        table.add_row(
            text(resource_address(resource)),
            text(len(resource.get("instances") or [])),
            text(provider.strip('"')),
        )
    return table


def _finding_row(finding: ValidationFinding) -> tuple[Text, Text, Text]:
    where = finding.file or ""
    if finding.file and finding.line is not None:
        where += f":{finding.line}"
    return text(finding.check), text(where), text(finding.message)


def validation_tables(result: ValidationOut) -> list[Table]:
    tables = []
    for title, findings, style in (("Errors", result.errors, "red"), ("Warnings", result.warnings, "yellow")):
        if not findings:
            continue
        table = Table(title=title, title_justify="left", title_style=f"bold {style}")
        table.add_column("Check")
        table.add_column("Where", no_wrap=True)
        table.add_column("Message", overflow="fold")
        for finding in findings:
            table.add_row(*_finding_row(finding))
        tables.append(table)
    return tables


def print_validation(console: Console, result: ValidationOut) -> None:
    verdict = text("valid", "bold green") if result.valid else text("invalid", "bold red")
    console.print(Text.assemble(text(f"{result.projectId}: "), verdict, text(f" ({result.message})")))
    for table in validation_tables(result):
        console.print(table)
    checked = result.terraformValidation
    if checked is not None:
        note = "the latest code" if checked.current else "older code"
        console.print(text(f"terraform validate ran in job {checked.jobId} on {note}.", "dim"))


def money(value: float) -> str:
    return f"{value:,.2f}"


def cost_tables(document: Mapping[str, Any]) -> tuple[Table, Table]:
    """By category and by resource; the API's costs answer and the offline report share this shape."""
    costs = document["costs"]
    summary = Table(title="By category", title_justify="left")
    summary.add_column("Category")
    summary.add_column("Monthly", justify="right")
    for name in COST_CATEGORIES:
        summary.add_row(name, money(float(costs.get(name, 0.0))))
    summary.add_row(text("total", "bold"), text(money(float(costs["total"])), "bold"))
    details = Table(title="By resource", title_justify="left")
    details.add_column("Resource / component", overflow="fold")
    details.add_column("Quantity", justify="right")
    details.add_column("Unit")
    details.add_column("Unit price", justify="right")
    details.add_column("Monthly", justify="right")
    for resource in document.get("resources", []):
        details.add_row(
            text(resource["address"], "bold"), "", "", "", text(money(float(resource["monthly"])), "bold")
        )
        for component in resource.get("components", []):
            quantity = component.get("quantity")
            details.add_row(
                text(f"  {component['name']}"),
                text("usage" if quantity is None else f"{quantity:,.4g}"),
                text(component.get("unit", "")),
                text(f"{component.get('unitPrice', 0):.10g}"),
                text(money(float(component.get("monthly", 0.0)))),
            )
    return summary, details


def recommendations_table(found: Sequence[Mapping[str, Any]]) -> Table:
    """Cheaper equivalents, largest saving first (the API's ``recommendations``)."""
    table = Table(title="Recommendations", title_justify="left")
    table.add_column("Resource", overflow="fold")
    table.add_column("Change", overflow="fold")
    table.add_column("Now", justify="right")
    table.add_column("After", justify="right")
    table.add_column("Saving", justify="right")
    for item in found:
        table.add_row(
            text(str(item.get("address", ""))),
            text(str(item.get("change", ""))),
            text(money(float(item.get("currentMonthly", 0.0)))),
            text(money(float(item.get("recommendedMonthly", 0.0)))),
            text(money(float(item.get("monthlySaving", 0.0))), "green"),
        )
    return table


def print_costs(console: Console, document: Mapping[str, Any]) -> None:
    where = ", ".join(str(p) for p in (document.get("region"), document.get("priceDate")) if p)
    currency = document["costs"].get("currency", "USD")
    console.print(text(f"Monthly cost in {currency}" + (f" ({where} list prices)" if where else ""), "bold"))
    summary, details = cost_tables(document)
    console.print(summary)
    console.print(details)
    coverage = document.get("coverage") or {}
    floor = bool(document["costs"].get("totalIsLowerBound"))
    total = f"{'≥ ' if floor else ''}{money(float(document['costs']['total']))}"
    if coverage.get("summary"):
        console.print(text(f"Total {total} a month: {coverage['summary']}.", "bold"))
    for item in document.get("unpriced") or []:
        what = f"{item.get('address', '')} {item.get('component') or ''}".strip()
        console.print(text(f"unpriced: {what}: {item.get('reason', '')}", "yellow"))
    for warning in document.get("warnings") or []:
        console.print(text(f"warning: {warning}", "yellow"))
    usage_based = document.get("usageBased") or []
    if usage_based:
        console.print(text(f"{len(usage_based)} components are priced by usage and count as $0 here.", "dim"))
    free = document.get("free") or []
    if free:
        console.print(text(f"Free resources: {len(free)}.", "dim"))
    if document.get("delta") is not None:
        console.print(
            text(
                f"deployed now {money(float(document.get('prior') or 0))}, "
                f"proposed {money(float(document.get('proposed') or 0))}, "
                f"change {float(document['delta']):+,.2f} a month"
            )
        )
    found = document.get("recommendations") or []
    if found:
        console.print(recommendations_table(found))
        console.print(
            text("Each saving is against today's configuration; two for one resource overlap.", "dim")
        )


def print_costs_out(console: Console, costs: CostsOut) -> None:
    print_costs(console, costs.model_dump(mode="json"))
    console.print(text(f"Priced from the project's {costs.basis}.", "dim"))
