"""Usage estimates, in Infracost's usage-file format.

    version: 0.1
    resource_type_default_usage:
      aws_lambda_function:
        monthly_requests: 1000000
    resource_usage:
      aws_lambda_function.api:        # an exact address
        request_duration_ms: 250
      aws_instance.web[*]:            # every instance of a counted resource
        ...

A ``[*]`` matches any index, anywhere in the address (``module.app[*].aws_instance.web[*]``).
An address entry wins over a wildcard entry, which wins over the per-type default; keys merge
(among wildcards, the one with fewer ``[*]`` wins).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SUPPORTED_VERSIONS = ("0.1",)
WILDCARD = "[*]"


class UsageError(ValueError):
    """The usage document is not in the accepted format."""


def _pattern(address: str) -> re.Pattern[str]:
    parts = address.split(WILDCARD)
    return re.compile(r"\[[^\[\]]*\]".join(re.escape(p) for p in parts) + r"\Z")


@dataclass(frozen=True)
class Usage:
    by_address: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    by_type: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    _wildcards: tuple[tuple[re.Pattern[str], Mapping[str, Any]], ...] = field(
        init=False, repr=False, compare=False, default=()
    )

    def __post_init__(self) -> None:
        # Most stars first, so the more specific pattern merges last and wins.
        keys = sorted((k for k in self.by_address if WILDCARD in k), key=lambda k: -k.count(WILDCARD))
        object.__setattr__(self, "_wildcards", tuple((_pattern(k), self.by_address[k]) for k in keys))

    def for_resource(self, address: str, resource_type: str) -> Mapping[str, Any]:
        if not self.by_address and not self.by_type:
            return {}
        merged: dict[str, Any] = _merge({}, self.by_type.get(resource_type, {}))
        for pattern, values in self._wildcards:
            if pattern.match(address):
                _merge(merged, values)
        return _merge(merged, self.by_address.get(address, {}))


def _merge(into: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Keys merge, and so do nested sections (``standard:`` of an S3 bucket)."""
    for key, value in values.items():
        current = into.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            _merge(current, value)
        elif isinstance(value, Mapping):
            into[key] = _merge({}, value)
        else:
            into[key] = value
    return into


EMPTY = Usage()


def parse_usage(document: Mapping[str, Any] | None) -> Usage:
    """Accept the usage-file form, or a bare {address or type: {...}} mapping for API callers."""
    if not document:
        return EMPTY
    if not isinstance(document, Mapping):
        raise UsageError("usage must be a mapping")
    if "resource_usage" in document or "resource_type_default_usage" in document or "version" in document:
        version = str(document.get("version", "0.1"))
        if version not in SUPPORTED_VERSIONS:
            raise UsageError(f"unsupported usage file version {version!r}; expected 0.1")
        return Usage(
            by_address=_section(document, "resource_usage"),
            by_type=_section(document, "resource_type_default_usage"),
        )
    by_address: dict[str, Mapping[str, Any]] = {}
    by_type: dict[str, Mapping[str, Any]] = {}
    for key, values in document.items():
        if not isinstance(values, Mapping):
            raise UsageError(f"usage for {key!r} must be a mapping")
        (by_address if "." in str(key) else by_type)[str(key)] = dict(values)
    return Usage(by_address, by_type)


def load_usage_file(path: Path) -> Usage:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML: {exc}") from exc
    if document is None:
        return EMPTY
    if not isinstance(document, Mapping):
        raise UsageError(f"{path}: the usage file must be a mapping")
    return parse_usage(document)


def _section(document: Mapping[str, Any], name: str) -> dict[str, Mapping[str, Any]]:
    section = document.get(name) or {}
    if not isinstance(section, Mapping):
        raise UsageError(f"{name} must be a mapping")
    out: dict[str, Mapping[str, Any]] = {}
    for key, values in section.items():
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise UsageError(f"{name}.{key} must be a mapping")
        out[str(key)] = dict(values)
    return out


def lookup(usage: Mapping[str, Any], path: str) -> float | None:
    """A number at a dotted path (``standard.storage_gb``), None when absent or not a number."""
    value: Any = usage
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
