"""destroy-protection: no delete (or replace) of a protected resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from policy.builtins import _plan
from policy.model import Finding, PolicyContext


class DestroySettings(BaseModel):
    """Which deletes are refused. ``types`` are resource types (exact); ``addresses`` are globs
    (``*`` and ``?``; brackets literal) on the full address, also tried with the instance keys
    left out (``module.db.aws_db_instance.main`` covers ``module.db["a"].aws_db_instance.main[0]``);
    ``anyDelete`` refuses every delete. Nothing set: nothing is protected."""

    model_config = ConfigDict(extra="forbid")

    types: list[str] = Field(default_factory=list)
    addresses: list[str] = Field(default_factory=list)
    anyDelete: bool = False


def _protected(settings: DestroySettings, change: Mapping[str, Any]) -> bool:
    if settings.anyDelete or change["type"] in settings.types:
        return True
    address: str = change["address"]
    bare = _plan.without_instance_keys(address)
    return _plan.any_glob(settings.addresses, address) or _plan.any_glob(settings.addresses, bare)


def check(plan: Mapping[str, Any], settings: DestroySettings, context: PolicyContext) -> list[Finding]:
    if not (settings.types or settings.addresses or settings.anyDelete):
        return []
    findings = []
    for change in _plan.managed_changes(plan):
        if _plan.is_delete(change) and _protected(settings, change):
            address = change["address"]
            findings.append(Finding(f"{address} ({change['type']}) {_plan.describe_delete(change)}", address))
    return findings
