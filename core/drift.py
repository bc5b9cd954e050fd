"""What a drift check found, read from terraform's own plans of the deployed code.

Two plans, both made without the state lock and never applied:
- the refresh-only plan's ``resource_drift``: where the real infrastructure moved away from the
  state (someone changed it by hand);
- the normal plan's ``resource_changes``: what applying the deployed code now would change.
Data sources are read on every plan, so their reads are never drift (the false drift users of
other runners complain of); only managed resources count. Both plans were redacted by the
runner; values still marked sensitive by terraform are hidden again here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any

from core.redaction import SENSITIVE

MAX_ATTRIBUTES = 50
MAX_VALUE_CHARS = 200
QUIET_ACTIONS: tuple[set[str], ...] = ({"no-op"}, {"read"}, set())


class DriftStatus(StrEnum):
    CLEAN = "clean"
    DRIFTED = "drifted"
    ERRORED = "errored"
    # Not run (or not conclusive) because a job was changing the project.
    SKIPPED = "skipped"


def _sensitive_at(mask: Any, path: tuple[str | int, ...]) -> bool:
    """Whether terraform's ``*_sensitive`` mask marks ``path`` (or a parent of it)."""
    node = mask
    for part in path:
        if node is True:
            return True
        if isinstance(node, Mapping) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False
    return node is True


def _shown(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS] + "…"
    if isinstance(value, (Mapping, list)):
        text = repr(value)
        return value if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"
    return value


def _path_text(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _empty(value: Any) -> bool:
    return value is None or value in ({}, [], "")


def _differences(before: Any, after: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """Leaf paths where ``before`` and ``after`` differ; a list of a new length is one change.
    Null and empty are the same: providers normalise one to the other on refresh (``tags``
    null in the state, ``{}`` read back), which is no change anyone made."""
    if before == after or (_empty(before) and _empty(after)):
        return
    if _empty(before) and isinstance(after, Mapping):
        before = {}
    elif _empty(after) and isinstance(before, Mapping):
        after = {}
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted(set(before) | set(after)):
            yield from _differences(before.get(key), after.get(key), (*path, str(key)))
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (one, other) in enumerate(zip(before, after, strict=True)):
            yield from _differences(one, other, (*path, index))
    else:
        yield path


def _value_at(document: Any, path: tuple[str | int, ...]) -> Any:
    node = document
    for part in path:
        if isinstance(node, Mapping) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return node


def changed_attributes(change: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The attributes a resource change touches: path, before and after (sensitive hidden)."""
    before, after = change.get("before"), change.get("after")
    masks = (change.get("before_sensitive"), change.get("after_sensitive"))
    found = []
    for path in _differences(before if before is not None else {}, after if after is not None else {}, ()):
        if not path:
            continue
        hidden = any(_sensitive_at(mask, path) for mask in masks)
        found.append(
            {
                "attribute": _path_text(path),
                "before": SENSITIVE if hidden else _shown(_value_at(before, path)),
                "after": SENSITIVE if hidden else _shown(_value_at(after, path)),
            }
        )
        if len(found) == MAX_ATTRIBUTES:
            break
    return found


def _managed_changes(entries: Any) -> Iterator[dict[str, Any]]:
    for entry in entries or ():
        if not isinstance(entry, Mapping) or entry.get("mode", "managed") != "managed":
            continue
        change = entry.get("change") or {}
        actions = [str(a) for a in change.get("actions") or ()]
        if set(actions) in QUIET_ACTIONS:
            continue
        attributes = changed_attributes(change)
        if actions == ["update"] and not attributes:
            continue  # only normalisation (null read back as empty): nothing changed
        described: dict[str, Any] = {
            "address": str(entry.get("address", "")),
            "type": str(entry.get("type", "")),
            "name": str(entry.get("name", "")),
            "actions": actions,
            "attributes": attributes,
        }
        if entry.get("module_address"):
            described["module"] = str(entry["module_address"])
        yield described


def drifted_resources(refresh_plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Managed resources whose real configuration differs from the state (a deleted one's
    actions are ``["delete"]``)."""
    return list(_managed_changes(refresh_plan.get("resource_drift")))


def planned_changes(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What applying the deployed code now would do to managed resources."""
    return list(_managed_changes(plan.get("resource_changes")))


def state_resource_count(plan: Mapping[str, Any]) -> int:
    """Managed resources the plan's prior state holds."""
    count = 0
    stack = [((plan.get("prior_state") or {}).get("values") or {}).get("root_module") or {}]
    while stack:
        module = stack.pop()
        count += sum(1 for r in module.get("resources") or () if r.get("mode", "managed") == "managed")
        stack += [child for child in module.get("child_modules") or () if isinstance(child, Mapping)]
    return count


def drift_report(refresh_plan: Mapping[str, Any], plan: Mapping[str, Any]) -> dict[str, Any]:
    """The check's finding: ``clean`` only when reality matches the state and the code would
    change nothing."""
    drifted = drifted_resources(refresh_plan)
    planned = planned_changes(plan)
    status = DriftStatus.DRIFTED if drifted or planned else DriftStatus.CLEAN
    return {
        "status": status.value,
        "resources": drifted,
        "plannedChanges": planned,
        "counts": {
            "drifted": len(drifted),
            "plannedChanges": len(planned),
            "managed": state_resource_count(refresh_plan),
        },
    }


def cost_plans(refresh_plan: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two plan-shaped documents the estimator prices: the drifted resources as the state
    records them, and as they really are (a resource deleted by hand costs nothing now)."""

    def shaped(side: str) -> dict[str, Any]:
        changes = []
        for entry in refresh_plan.get("resource_drift") or ():
            if not isinstance(entry, Mapping) or entry.get("mode", "managed") != "managed":
                continue
            values = (entry.get("change") or {}).get(side)
            if values is None:
                continue
            changes.append(
                {
                    "address": entry.get("address"),
                    "type": entry.get("type"),
                    "mode": "managed",
                    "provider_name": entry.get("provider_name"),
                    "change": {"actions": ["update"], "after": values},
                }
            )
        return {
            "resource_changes": changes,
            "configuration": refresh_plan.get("configuration") or {},
            "variables": refresh_plan.get("variables") or {},
        }

    return shaped("before"), shaped("after")
