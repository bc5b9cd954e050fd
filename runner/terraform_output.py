"""Reading what terraform prints: plan and state summaries, diagnostics made into one line a
user can act on (a held state lock names its holder), the first error of human output."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def summary_from_events(events: list[dict[str, Any]]) -> dict[str, int]:
    """add/change/destroy from plan's ``change_summary`` event (a replace is one add, one remove)."""
    for event in reversed(events):
        if event.get("type") == "change_summary":
            changes = event.get("changes") or {}
            return {
                "add": int(changes.get("add", 0)),
                "change": int(changes.get("change", 0)),
                "destroy": int(changes.get("remove", 0)),
            }
    return {"add": 0, "change": 0, "destroy": 0}


def plan_summary(plan: Mapping[str, Any]) -> dict[str, int]:
    """add/change/destroy as terraform counts them: a replace is one add and one destroy."""
    summary = {"add": 0, "change": 0, "destroy": 0}
    for change in plan.get("resource_changes") or []:
        actions = (change.get("change") or {}).get("actions") or []
        if "create" in actions:
            summary["add"] += 1
        if "delete" in actions:
            summary["destroy"] += 1
        if actions == ["update"]:
            summary["change"] += 1
    return summary


def state_summary(state: Mapping[str, Any]) -> dict[str, Any]:
    resources = [r for r in state.get("resources") or [] if r.get("mode") == "managed"]
    return {
        "serial": int(state.get("serial") or 0),
        "lineage": str(state.get("lineage") or ""),
        "terraformVersion": str(state.get("terraform_version") or ""),
        "resourceCount": sum(len(r.get("instances") or []) for r in resources),
    }


def diagnostic_summary(diagnostic: Mapping[str, Any]) -> dict[str, Any]:
    where = diagnostic.get("range") or {}
    start = where.get("start") or {}
    return {
        "summary": diagnostic.get("summary", ""),
        "detail": diagnostic.get("detail", ""),
        "file": where.get("filename"),
        "line": start.get("line"),
        "column": start.get("column"),
    }


# Terraform prints "Lock Info:" as one "Name: value" line per field (ID, Path, Operation, Who, ...).
_LOCK_FIELD = re.compile(r"^\s*(ID|Who|Operation|Created):\s*(.+?)\s*$", re.M)


def diagnostic_text(diagnostic: Mapping[str, Any]) -> str:
    summary = str(diagnostic.get("summary") or "error").strip()
    detail = str(diagnostic.get("detail") or "")
    if "state lock" in summary.lower():
        lock = dict(_LOCK_FIELD.findall(detail))
        held = (
            f" (lock {lock['ID']} held by {lock.get('Who', '?')} for {lock.get('Operation', '?')}"
            f" since {lock.get('Created', '?')})"
            if "ID" in lock
            else ""
        )
        return f"the project's state is locked by another run{held}: {summary}"
    where = diagnostic.get("range") or {}
    location = ""
    if where.get("filename"):
        location = f" ({where['filename']}:{(where.get('start') or {}).get('line', '?')})"
    first_detail = next((line.strip() for line in detail.splitlines() if line.strip()), "")
    text = summary + location
    if first_detail and len(summary) < 120:
        text += f": {first_detail}"
    return text[:1000]


def text_error(lines: list[str]) -> str:
    """The first ``Error:`` of terraform's human output, with its ``on FILE line N`` if given."""
    cleaned = [re.sub(r"^[\s│╷╵]+", "", line).strip() for line in lines]
    for index, line in enumerate(cleaned):
        if line.startswith("Error:"):
            message = line.removeprefix("Error:").strip()
            for follow in cleaned[index + 1 : index + 6]:
                match = re.match(r"on (\S+) line (\d+)", follow)
                if match:
                    return f"{message} ({match[1]}:{match[2]})"
            return message
    return ""
