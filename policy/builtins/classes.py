"""allowed-classes: instance types and database classes in the plan's after values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from policy.builtins import _plan
from policy.model import Finding, PolicyContext

INSTANCE_KEYS: Final = frozenset({"instance_type", "instance_types"})
DATABASE_KEYS: Final = frozenset({"instance_class", "db_cluster_instance_class", "node_type"})


class ClassSettings(BaseModel):
    """Globs (``*``, ``?``) such as ``t3.*`` and ``db.t3.*``; an empty list leaves that family
    unchecked. ``instanceTypes`` covers ``instance_type`` and ``instance_types`` at any depth of a
    created or updated resource (launch template overrides, OpenSearch's cluster_config);
    ``databaseClasses`` covers ``instance_class``, ``db_cluster_instance_class`` and ``node_type``.
    A value unknown at plan time fails."""

    model_config = ConfigDict(extra="forbid")

    instanceTypes: list[str] = Field(default_factory=list)
    databaseClasses: list[str] = Field(default_factory=list)


def _where(path: tuple[str | int, ...]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def check(plan: Mapping[str, Any], settings: ClassSettings, context: PolicyContext) -> list[Finding]:
    families = [
        (INSTANCE_KEYS, settings.instanceTypes, "instance type"),
        (DATABASE_KEYS, settings.databaseClasses, "database class"),
    ]
    families = [family for family in families if family[1]]
    if not families:
        return []
    findings = []
    for change in _plan.managed_changes(plan):
        if not _plan.is_create_or_update(change):
            continue
        address = change["address"]
        for path, key, value in _plan.walk_after(change):
            for keys, allowed, noun in families:
                if key not in keys:
                    continue
                where = _where(path)
                if value is _plan.UNKNOWN:
                    findings.append(Finding(f"cannot tell the {noun} of {address} ({where})", address))
                    continue
                values = value if isinstance(value, list) else [value]
                for index, item in enumerate(values):
                    if item is _plan.UNKNOWN or (
                        isinstance(value, list) and _unknown_item(change, path, index)
                    ):
                        findings.append(Finding(f"cannot tell the {noun} of {address} ({where})", address))
                    elif item is None:
                        continue
                    elif not isinstance(item, str):
                        findings.append(Finding(f"cannot read the {noun} of {address} ({where})", address))
                    elif not _plan.any_glob(allowed, item):
                        findings.append(
                            Finding(
                                f"{address} {where} is {item}, which is not an allowed {noun} "
                                f"({', '.join(allowed)})",
                                address,
                            )
                        )
    return findings


def _unknown_item(change: Mapping[str, Any], path: tuple[str | int, ...], index: int) -> bool:
    return _plan.unknown_at(_plan.after_unknown(change), (*path, index))
