"""required-tags: taggable AWS resources carry the required tags (with allowed values)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from policy.builtins import _plan
from policy.model import Finding, PolicyContext, PolicyError


class TagSettings(BaseModel):
    """``tags``: keys every taggable AWS resource created or updated must carry (empty: passes);
    ``values``: allowed values per key (globs ``*``, ``?``), checked whenever the key is present.

    A resource is taggable when its after values have ``tags`` or ``tags_all``. Its tags are
    ``tags_all`` when known, else ``tags`` over its provider's ``default_tags`` (constants or one
    variable). Tags that cannot be read fail."""

    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(default_factory=list)
    values: dict[str, list[str]] = Field(default_factory=dict)


@dataclass
class _Tags:
    """Tag keys known to be present, with their values (``UNKNOWN`` for a value not yet known);
    ``defaults_unknown``: the provider's default tags could not be read, so more may be there."""

    values: dict[str, Any]
    defaults_unknown: bool = False


def _own(change: Mapping[str, Any], key: str) -> _Tags | _plan._Unknown | None:
    """The resource's ``tags``/``tags_all``: None when absent or null, UNKNOWN when unknown."""
    unknown = _plan.subtree(_plan.after_unknown(change), (key,))
    if unknown is True:
        return _plan.UNKNOWN
    value = _plan.after(change).get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise PolicyError(f"{change['address']} has {key} that are not a map")
    merged: dict[str, Any] = dict(value)
    if isinstance(unknown, Mapping):
        for name, flag in unknown.items():
            if flag is True:
                merged[name] = _plan.UNKNOWN
    return _Tags(merged)


def _effective(
    plan: Mapping[str, Any], change: Mapping[str, Any], *, references: bool = True
) -> list[_Tags] | _plan._Unknown:
    """The tags the resource will have, one set per provider configuration it may use."""
    tags_all = _own(change, "tags_all")
    if isinstance(tags_all, _Tags):
        return [tags_all]
    tags = _own(change, "tags")
    if tags is _plan.UNKNOWN:
        return _plan.UNKNOWN
    own = tags.values if isinstance(tags, _Tags) else {}
    providers = _plan.provider_candidates(plan, change)
    if not providers:
        return _plan.UNKNOWN
    result = []
    for provider in providers:
        defaults = _plan.provider_default_tags(plan, provider, references=references)
        if defaults is _plan.UNKNOWN:
            # Unknown defaults: only tags the resource sets itself are known to be there.
            result.append(_Tags(dict(own), defaults_unknown=True))
        else:
            result.append(_Tags({**defaults, **own}))
    return result


def _problems(settings: TagSettings, tags: _Tags) -> tuple[list[str], list[str], bool]:
    """(missing keys, 'key=value' not allowed, whether something could not be told)."""
    defaults_unknown = tags.defaults_unknown
    values = tags.values
    missing = [key for key in settings.tags if key not in values]
    undecided = bool(missing) and defaults_unknown
    if undecided:
        missing = []
    refused = []
    for key, allowed in settings.values.items():
        if key not in values:
            undecided = undecided or defaults_unknown
            continue
        value = values[key]
        if value is _plan.UNKNOWN or not isinstance(value, str):
            undecided = True
        elif not _plan.any_glob(allowed, value):
            refused.append(f"{key}={value}")
    return missing, refused, undecided


def check(plan: Mapping[str, Any], settings: TagSettings, context: PolicyContext) -> list[Finding]:
    if not settings.tags and not settings.values:
        return []
    findings = []
    for change in _plan.managed_changes(plan):
        if not (_plan.is_aws(change) and _plan.is_create_or_update(change)):
            continue
        after = _plan.after(change)
        unknown = _plan.after_unknown(change)
        names = set(after) | (set(unknown) if isinstance(unknown, Mapping) else set())
        if not names & {"tags", "tags_all"}:
            continue
        address = change["address"]
        effective = _effective(plan, change, references=context.bare_references)
        if not isinstance(effective, list):
            findings.append(Finding(f"cannot tell the tags of {address}", address))
            continue
        missing: list[str] = []
        refused: list[str] = []
        undecided = False
        for tags in effective:
            some_missing, some_refused, some_undecided = _problems(settings, tags)
            missing += [key for key in some_missing if key not in missing]
            refused += [pair for pair in some_refused if pair not in refused]
            undecided = undecided or some_undecided
        if missing:
            findings.append(Finding(f"{address} is missing the required tags {', '.join(missing)}", address))
        if refused:
            findings.append(Finding(f"{address} has tag values not allowed: {', '.join(refused)}", address))
        if undecided and not missing and not refused:
            findings.append(Finding(f"cannot tell the tags of {address}", address))
    return findings
