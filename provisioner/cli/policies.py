"""The policy routes for people: the install's and a project's policies with the built-ins, one
policy's versions, and one version's header. The outcome of a check on a plan is ``review``'s.

As in ``render``, every value from the API goes in as ``Text``, never as markup.
"""

from __future__ import annotations

import json
from typing import Final

from rich.console import Console
from rich.table import Table

from provisioner.cli.render import short_time, text
from provisioner.models import PolicyListOut, PolicyOut, PolicyVersionsOut

HASH_WIDTH: Final = 12
LEVEL_STYLES: Final = {
    "off": "dim",
    "advisory": "yellow",
    "soft-mandatory": "magenta",
    "mandatory": "bold red",
}


def scope_label(scope: str, project_id: str | None) -> str:
    """install, or project:web."""
    return f"project:{project_id}" if scope == "project" and project_id else scope


def short_hash(value: str) -> str:
    return value.removeprefix("sha256:")[:HASH_WIDTH]


def level_text(policy: PolicyOut) -> str:
    return f"{policy.level} (deleted)" if policy.deleted else policy.level


def updated(policy: PolicyOut) -> str:
    when = short_time(policy.updatedAt)
    return f"{policy.updatedBy} at {when}" if policy.updatedBy else when


def policies_table(listing: PolicyListOut) -> Table:
    title = "Policies of the install" + (f" and of project {listing.projectId}" if listing.projectId else "")
    table = Table(title=f"{title} (times in UTC)", title_justify="left")
    table.add_column("Scope", no_wrap=True)
    table.add_column("Name", overflow="fold")
    table.add_column("Kind")
    table.add_column("Level", no_wrap=True)
    table.add_column("Version", justify="right")
    table.add_column("Hash", no_wrap=True)
    table.add_column("Updated", overflow="fold")
    for policy in listing.policies:
        table.add_row(
            text(scope_label(policy.scope, policy.projectId)),
            text(policy.name, "bold"),
            text(policy.kind),
            text(level_text(policy), LEVEL_STYLES.get(policy.level, "")),
            text(policy.version),
            text(short_hash(policy.hash), "dim"),
            text(updated(policy)),
        )
    return table


def builtins_table(listing: PolicyListOut) -> Table:
    table = Table(
        title="Built-in policies (policies put NAME --level L --settings JSON)", title_justify="left"
    )
    table.add_column("Name", no_wrap=True)
    table.add_column("Description", overflow="fold", ratio=2)
    table.add_column("Default settings", overflow="fold", ratio=1)
    for builtin in listing.builtins:
        defaults = (
            json.dumps(builtin.defaults, ensure_ascii=False, sort_keys=True) if builtin.defaults else ""
        )
        table.add_row(text(builtin.name, "bold"), text(builtin.description), text(defaults))
    return table


def print_policy_list(console: Console, listing: PolicyListOut) -> None:
    if listing.policies:
        console.print(policies_table(listing))
    else:
        only = f" or for project {listing.projectId}" if listing.projectId else ""
        console.print(text(f"No policies for the install{only}: plans are not checked.", "dim"))
    if listing.builtins:
        console.print(builtins_table(listing))


def versions_table(history: PolicyVersionsOut) -> Table:
    table = Table(
        title=f"Versions of {scope_label(history.scope, history.projectId)}/{history.name} (times in UTC)",
        title_justify="left",
    )
    table.add_column("Version", justify="right")
    table.add_column("Kind")
    table.add_column("Level", no_wrap=True)
    table.add_column("Hash", no_wrap=True)
    table.add_column("Updated", overflow="fold")
    table.add_column("Description", overflow="fold", ratio=1)
    for version in sorted(history.versions, key=lambda v: v.version, reverse=True):
        table.add_row(
            text(version.version),
            text(version.kind),
            text(level_text(version), LEVEL_STYLES.get(version.level, "")),
            text(short_hash(version.hash), "dim"),
            text(updated(version)),
            text(version.description),
        )
    return table


def header_table(policy: PolicyOut) -> Table:
    """What ``policies show`` says of a version besides its Rego or settings."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("Policy", text(f"{scope_label(policy.scope, policy.projectId)}/{policy.name}"))
    table.add_row("Kind", text(policy.kind if policy.kind != "rego" else f"rego ({policy.syntax})"))
    table.add_row("Level", text(level_text(policy), LEVEL_STYLES.get(policy.level, "")))
    table.add_row("Version", text(policy.version))
    table.add_row("Hash", text(policy.hash))
    if policy.package:
        table.add_row("Package", text(policy.package))
    if policy.description:
        table.add_row("Description", text(policy.description))
    table.add_row("Updated", text(updated(policy)))
    return table


def source(policy: PolicyOut) -> str:
    """The Rego as it is, or the settings as JSON: what ``policies put`` takes back."""
    if policy.rego is not None:
        return policy.rego if policy.rego.endswith("\n") else policy.rego + "\n"
    return json.dumps(policy.settings or {}, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
