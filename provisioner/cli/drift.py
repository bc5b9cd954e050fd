"""Drift for people: a project's latest check (what changed outside terraform, attribute by
attribute), its recent checks, and the fleet's statuses.

As in ``render``, every value from the API goes in as ``Text``, never as markup.
"""

from __future__ import annotations

import json
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from core.responses import DriftCheckOut, DriftFleetOut, DriftOut, DriftResourceOut
from provisioner.cli.render import short_time, text

STATUS_STYLES: Final = {
    "clean": "green",
    "drifted": "bold yellow",
    "errored": "bold red",
    "skipped": "dim",
    "running": "cyan",
    "never_checked": "dim",
}
VALUE_WIDTH: Final = 40


def status_text(status: str) -> Any:
    return text(status, STATUS_STYLES.get(status, ""))


def _value(value: Any) -> str:
    shown = value if isinstance(value, str) else json.dumps(value)
    return shown if len(shown) <= VALUE_WIDTH else shown[: VALUE_WIDTH - 1] + "…"


def resources_table(title: str, resources: list[DriftResourceOut]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in ("resource", "action", "attribute", "was", "is"):
        table.add_column(column)
    for resource in resources:
        action = ",".join(resource.actions)
        rows = resource.attributes or []
        if not rows:
            table.add_row(text(resource.address), text(action), text(""), text(""), text(""))
        for index, attribute in enumerate(rows):
            table.add_row(
                text(resource.address if index == 0 else ""),
                text(action if index == 0 else ""),
                text(attribute.attribute),
                text(_value(attribute.before)),
                text(_value(attribute.after)),
            )
    return table


def print_check(out: Console, check: DriftCheckOut) -> None:
    when = short_time(check.checkedAt or check.startedAt)
    out.print(
        text(f"{check.projectId}: ", "bold"), status_text(check.status), text(f"  ({check.jobId}, {when})")
    )
    if check.message:
        out.print(text(check.message))
    if check.resources:
        out.print(resources_table("changed outside terraform", check.resources))
    if check.plannedChanges:
        out.print(resources_table("what the deployed code would change", check.plannedChanges))
    if check.cost is not None:
        floor = " (at least)" if check.cost.lowerBound else ""
        out.print(
            text(
                f"monthly cost: ${check.cost.recorded:.2f} as recorded, ${check.cost.actual:.2f} now "
                f"({check.cost.delta:+.2f}){floor}"
            )
        )
    facts = [
        f"state serial {check.stateSerial}" if check.stateSerial is not None else "",
        f"terraform {check.terraformVersion}" if check.terraformVersion else "",
    ]
    if any(facts):
        out.print(text(", ".join(f for f in facts if f), "dim"))


def print_drift(out: Console, drift: DriftOut) -> None:
    if drift.latest is None:
        out.print(text(f"{drift.projectId}: never checked (schedule {drift.schedule})"))
        return
    print_check(out, drift.latest)
    out.print(text(f"schedule {drift.schedule}; baseline {drift.baseline or 'none yet'}", "dim"))
    if len(drift.history) > 1:
        table = Table(title="recent checks", title_justify="left")
        for column in ("when", "status", "trigger", "drifted", "job"):
            table.add_column(column)
        for check in drift.history:
            counts = check.counts or {}
            table.add_row(
                text(short_time(check.checkedAt or check.startedAt)),
                status_text(check.status),
                text(check.trigger or ""),
                text(str(counts.get("drifted", ""))),
                text(check.jobId),
            )
        out.print(table)


def fleet_table(fleet: DriftFleetOut) -> Table:
    table = Table(title="drift, every project", title_justify="left")
    for column in ("project", "status", "drifted", "code would change", "checked"):
        table.add_column(column)
    for entry in fleet.projects:
        table.add_row(
            text(entry.projectId),
            status_text(entry.status),
            text(str(entry.drifted)),
            text(str(entry.plannedChanges)),
            text(short_time(entry.checkedAt) if entry.checkedAt else ""),
        )
    return table
