"""A plan for people to review: the summary line, a table of resource changes, each resource's
attribute diff, the output changes, the monthly cost before and after, and what the policies said.

As in ``render``, every value from the API or terraform goes in as ``Text``, never as markup.
"""

from __future__ import annotations

import json
from typing import Any, Final

from rich.console import Console
from rich.table import Table
from rich.text import Text

from provisioner.cli.render import money, text
from provisioner.models import (
    APPROVALS,
    AttributeChange,
    ChangeSummary,
    JobDetail,
    OutputChange,
    PlanCost,
    PlanOut,
    PolicyCheckOut,
    PolicyResultOut,
    ResourceChange,
)

SYMBOLS: Final = {"create": "+", "update": "~", "delete": "-", "replace": "-/+"}
STYLES: Final = {"create": "green", "update": "yellow", "delete": "red", "replace": "magenta"}
SENSITIVE: Final = "(sensitive value)"
UNKNOWN: Final = "(known after apply)"


def symbol(action: str, *, create_before_destroy: bool | None = None) -> str:
    """terraform's: + create, ~ update, - delete, -/+ replace (+/- when created before destroyed)."""
    if action == "replace" and create_before_destroy:
        return "+/-"
    return SYMBOLS.get(action, "?")


def action_text(action: str, *, create_before_destroy: bool | None = None) -> Text:
    return text(symbol(action, create_before_destroy=create_before_destroy), f"bold {STYLES.get(action, '')}")


def summary_line(summary: ChangeSummary) -> str:
    if not summary.changes:
        return "No changes. The infrastructure matches the configuration."
    counts = f"{summary.add} to add, {summary.change} to change, {summary.destroy} to destroy"
    if summary.replace:
        counts += f" ({summary.replace} replaced)"
    outputs = f"; {summary.outputs} output(s) to change" if summary.outputs else ""
    return f"Plan: {counts}{outputs}."


def value(raw: Any, *, sensitive: bool = False, unknown: bool = False) -> str:
    if sensitive:
        return SENSITIVE
    if unknown:
        return UNKNOWN
    if raw is None:
        return "null"
    return raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, sort_keys=True)


def quoted(raw: Any, *, sensitive: bool = False, unknown: bool = False) -> str:
    """A value in a diff line: strings quoted as terraform shows them."""
    if isinstance(raw, str) and not (sensitive or unknown):
        return json.dumps(raw, ensure_ascii=False)
    return value(raw, sensitive=sensitive, unknown=unknown)


def attribute_line(action: str, change: AttributeChange) -> Text:
    after = quoted(change.after, sensitive=change.sensitive, unknown=change.unknown)
    # The before value is never unknown; sensitive covers both sides.
    before = quoted(change.before, sensitive=change.sensitive)
    if action == "create":
        line = Text.assemble(text("    + ", "green"), text(f"{change.path} = {after}"))
    elif action == "delete":
        line = Text.assemble(text("    - ", "red"), text(f"{change.path} = {before}"))
    else:
        line = Text.assemble(text("    ~ ", "yellow"), text(f"{change.path}: {before} → {after}"))
    if change.forcesReplacement:
        line.append("  # forces replacement", style="bold red")
    return line


def changes_table(changes: list[ResourceChange]) -> Table:
    table = Table(title="Resource changes", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("Resource", overflow="fold")
    table.add_column("Action", no_wrap=True)
    table.add_column("Why", overflow="fold")
    for change in changes:
        table.add_row(
            action_text(change.action, create_before_destroy=change.createBeforeDestroy),
            text(change.address),
            text(change.action, STYLES.get(change.action, "")),
            text(change.actionReason or ""),
        )
    return table


def print_attribute_diffs(console: Console, changes: list[ResourceChange]) -> None:
    for change in changes:
        if not change.attributes:
            continue
        mark = symbol(change.action, create_before_destroy=change.createBeforeDestroy)
        console.print(
            Text.assemble(
                text(f"  {mark} ", f"bold {STYLES.get(change.action, '')}"),
                text(change.address, "bold"),
                text(f" ({change.action})", "dim"),
            )
        )
        for attribute in change.attributes:
            console.print(attribute_line(change.action, attribute), soft_wrap=True)


def output_line(change: OutputChange) -> Text:
    before = quoted(change.before, sensitive=change.sensitive)
    after = quoted(change.after, sensitive=change.sensitive, unknown=change.unknown)
    if change.action == "create":
        what = f"{change.name} = {after}"
    elif change.action == "delete":
        what = f"{change.name} = {before} → null"
    else:
        what = f"{change.name}: {before} → {after}"
    return Text.assemble(text("  "), action_text(change.action), text(f" {what}"))


def cost_line(cost: PlanCost) -> str:
    """Monthly cost in USD: 10.00 → 12.50 (+2.50)."""
    prior = money(cost.prior or 0.0)
    proposed = money(cost.proposed or 0.0)
    delta = cost.delta if cost.delta is not None else (cost.proposed or 0.0) - (cost.prior or 0.0)
    return f"Monthly cost in {cost.currency}: {prior} → {proposed} ({delta:+,.2f})"


def unpriced_names(cost: PlanCost) -> list[str]:
    if not isinstance(cost.unpriced, list):
        return []
    names = []
    for item in cost.unpriced:
        if isinstance(item, dict):
            names.append(str(item.get("address") or item.get("type") or item))
        else:
            names.append(str(item))
    return names


def coverage_line(cost: PlanCost) -> str | None:
    """Priced 3 of 4 resources; unpriced: aws_x.y."""
    names = unpriced_names(cost)
    count = len(names) if isinstance(cost.unpriced, list) else cost.unpriced
    if cost.priced is None and cost.total is None and not count:
        return None
    parts = []
    if cost.priced is not None and cost.total is not None:
        parts.append(f"priced {cost.priced} of {cost.total} resource(s)")
    if names:
        parts.append("unpriced: " + ", ".join(names))
    elif isinstance(count, int) and count:
        parts.append(f"{count} unpriced")
    return "; ".join(parts).capitalize() if parts else None


def print_cost(console: Console, cost: PlanCost) -> None:
    console.print(text(cost_line(cost), "bold"))
    coverage = coverage_line(cost)
    if coverage:
        console.print(text(coverage, "dim"))


def print_plan(console: Console, plan: PlanOut) -> None:
    """The table format: everything a reviewer needs before saying yes."""
    style = "bold" if plan.summary.changes else "bold green"
    console.print(text(summary_line(plan.summary), style))
    if plan.resourceChanges:
        console.print(changes_table(plan.resourceChanges))
        print_attribute_diffs(console, plan.resourceChanges)
    if plan.outputChanges:
        console.print(text("Output changes", "bold"))
        for change in plan.outputChanges:
            console.print(output_line(change), soft_wrap=True)
    if plan.cost is not None:
        print_cost(console, plan.cost)
    if plan.policies is not None:
        print_policies(console, plan.policies)
    if plan.basis is not None and plan.basis.expiresAt:
        console.print(text(f"The plan can be applied until {plan.basis.expiresAt}.", "dim"))


# --- policies -------------------------------------------------------------------------------------

NO_POLICIES: Final = "no policies"
OUTCOME_STYLES: Final = {
    "no_policies": "dim",
    "passed": "green",
    "warned": "yellow",
    "needs_override": "yellow",
    "needs_approval": "yellow",
    "failed": "red",
}
# ✓ passed; ✗ failed; ! errored (the policy could not be evaluated) or failed but only advisory.
MARKS: Final = {"passed": ("✓", "green"), "failed": ("✗", "red"), "errored": ("!", "red")}


def outcome_label(outcome: str) -> str:
    """no_policies -> "no policies" (never to be read as passed), needs_override -> "needs override"."""
    return NO_POLICIES if outcome == "no_policies" else outcome.replace("_", " ")


def outcome_text(check: PolicyCheckOut) -> Text:
    """The outcome, then the service's one-line message."""
    line = text(outcome_label(check.outcome), "bold " + OUTCOME_STYLES.get(check.outcome, ""))
    if check.message and check.message != outcome_label(check.outcome):
        line.append(f": {check.message}")
    return line


def result_mark(result: PolicyResultOut) -> Text:
    if result.outcome == "failed" and result.level == "advisory":
        return text("!", "bold yellow")
    mark, style = MARKS.get(result.outcome, ("?", ""))
    return text(mark, f"bold {style}")


def result_messages(result: PolicyResultOut) -> Text:
    lines = [*result.messages, *(f"warning: {warning}" for warning in result.warnings)]
    if result.outcome != "passed" and result.overridable:
        lines.append("(can be overridden)")
    return text("\n".join(lines))


def policies_table(check: PolicyCheckOut) -> Table:
    table = Table(title="Policies", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("Policy", overflow="fold")
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Level", no_wrap=True)
    table.add_column("Version", justify="right")
    table.add_column("Messages", overflow="fold", ratio=1)
    for result in check.results:
        table.add_row(
            result_mark(result),
            text(f"{result.scope}/{result.policy}"),
            text(result.outcome, MARKS.get(result.outcome, ("", ""))[1]),
            text(result.level),
            text("-" if result.version is None else result.version),
            result_messages(result),
        )
    return table


def print_policies(console: Console, check: PolicyCheckOut) -> None:
    """The outcome line, then a row per policy (none when no policy is enabled)."""
    console.print(Text.assemble(text("Policies: ", "bold"), outcome_text(check)))
    print_policy_results(console, check)


def print_policy_results(console: Console, check: PolicyCheckOut) -> None:
    """A row per policy, and the override when there was one (``status`` has the outcome line)."""
    if check.results:
        console.print(policies_table(check))
    done = check.override
    if done is not None:
        console.print(
            text(
                f"Overridden by {done.by or '?'} at {done.at or '?'}: {done.reason}"
                + (f" ({', '.join(done.policies)})" if done.policies else ""),
                "yellow",
            )
        )


def decision_hints(job: JobDetail) -> list[str]:
    """What a waiting plan waits for, each with the command that gives it."""
    needs = job.needs
    hints = []
    if "second_approval" in needs:
        hints.append(
            "it deletes protected resources and waits for the approval of someone other than the "
            f"submitter: provisioner approve {job.jobId}"
        )
    elif "approval" in needs:
        hints.append(f"it waits for approval: provisioner approve {job.jobId}")
    if "override" in needs:
        hints.append(OVERRIDE_HINT.format(job=job.jobId))
    if hints:
        hints.append(f"discard it: provisioner discard {job.jobId}")
    return hints


OVERRIDE_HINT: Final = (
    'it waits for an override by someone other than the submitter: provisioner override {job} --reason "..."'
)


def approvable(job: JobDetail) -> bool:
    """Whether an approval is among what the plan waits for (else only an override is)."""
    return bool(APPROVALS & set(job.needs))


def review_rows(job: JobDetail) -> list[tuple[str, Text]]:
    """What ``status`` adds for a queued job, one waiting for approval, and a planned one."""
    rows: list[tuple[str, Text]] = []
    if job.queuePosition is not None:
        queued = f"position {job.queuePosition}"
        if job.waitingFor:
            queued += f", waiting for {job.waitingFor}"
        rows.append(("Queue", text(queued, "yellow")))
    approval = job.approval
    if approval is not None and (approval.required or approval.state != "not_needed"):
        state = approval.state
        line = text(state, "bold " + APPROVAL_STYLES.get(state, ""))
        if approval.decidedBy:
            line.append(f" by {approval.decidedBy}")
        if approval.decidedAt:
            line.append(f" at {approval.decidedAt}")
        if state == "waiting" and approval.expiresAt:
            line.append(f" (until {approval.expiresAt})")
        rows.append(("Approval", line))
        if approval.comment:
            rows.append(("Comment", text(approval.comment)))
        if state == "waiting" and job.needs:
            rows.append(
                ("Waits for", text(", ".join(need.replace("_", " ") for need in job.needs), "yellow"))
            )
    if job.plan is not None:
        rows.append(("Plan", text(summary_line(job.plan.summary).removeprefix("Plan: "))))
        if job.plan.cost is not None:
            rows.append(("Cost", text(cost_line(job.plan.cost))))
    if job.policies is not None:
        rows.append(("Policies", outcome_text(job.policies)))
    return rows


APPROVAL_STYLES: Final = {
    "waiting": "yellow",
    "approved": "green",
    "discarded": "red",
    "expired": "red",
    "not_needed": "dim",
}
