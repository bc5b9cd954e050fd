"""allowed-regions: AWS resources are created or updated only in the allowed regions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from policy.builtins import _plan
from policy.model import Finding, PolicyContext


class RegionSettings(BaseModel):
    """``regions``: globs (``*``, ``?``) such as ``eu-*``; empty: every region is allowed.

    A resource's region is its own ``region`` attribute when it has a known one (AWS provider
    6.x), else its provider configuration's ``region`` (a constant, or one variable), else the
    install's default region (an unconfigured provider uses it). One that cannot be told fails."""

    model_config = ConfigDict(extra="forbid")

    regions: list[str] = Field(default_factory=list)


def regions_of(
    plan: Mapping[str, Any], change: Mapping[str, Any], default_region: str, *, references: bool = True
) -> list[Any]:
    """The regions the change's resource may be in (``UNKNOWN`` among them when one cannot be told)."""
    own = _plan.after_value(change, "region")
    if isinstance(own, str) and own:
        return [own]
    if own is _plan.UNKNOWN and _plan.configured(plan, change, "region"):
        # Set in the configuration to a value known only after apply (6.x). An unknown computed
        # region (3.x aws_s3_bucket's) follows the provider's.
        return [_plan.UNKNOWN]
    if own is not None and own is not _plan.UNKNOWN:
        return [_plan.UNKNOWN]
    providers = _plan.provider_candidates(plan, change)
    if not providers:
        return [_plan.UNKNOWN]
    found: list[Any] = []
    for provider in providers:
        region = _plan.provider_setting(plan, provider, "region", references=references)
        if region is None:
            region = default_region
        if not (isinstance(region, str) and region):
            region = _plan.UNKNOWN
        if region not in found:
            found.append(region)
    return found


def check(plan: Mapping[str, Any], settings: RegionSettings, context: PolicyContext) -> list[Finding]:
    if not settings.regions:
        return []
    findings = []
    for change in _plan.managed_changes(plan):
        if not (_plan.is_aws(change) and _plan.is_create_or_update(change)):
            continue
        address = change["address"]
        candidates = regions_of(plan, change, context.default_region, references=context.bare_references)
        if _plan.UNKNOWN in candidates:
            hint = (
                ""
                if context.bare_references
                else " (write its provider's region as a literal or a bare variable)"
            )
            findings.append(Finding(f"cannot tell the region of {address}{hint}", address))
            continue
        refused = [region for region in candidates if not _plan.any_glob(settings.regions, region)]
        if refused:
            allowed = ", ".join(settings.regions)
            where = refused[0] if len(candidates) == 1 else "any of " + ", ".join(candidates)
            findings.append(
                Finding(f"{address} would be in {where}, which is not an allowed region ({allowed})", address)
            )
    return findings
