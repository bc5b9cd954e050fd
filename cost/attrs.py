"""Reading attribute values the same way from plan JSON, state and evaluated HCL.

Unknown values (after-apply, redacted, unresolved expressions) all read as "not set", so the
caller's documented default applies instead of a crash or a wrong number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cost.model import REDACTED

# ECS task sizes as AWS accepts them: CPU units (1024) or vCPUs ("1 vCPU", "0.25 vcpu");
# memory in MiB (2048) or GB ("2 GB", "2GB"). (ECS TaskDefinition reference, cpu and memory.)
_VCPU = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*vcpu\s*$", re.IGNORECASE)
_GB = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*gb\s*$", re.IGNORECASE)


def known(value: Any) -> bool:
    return value is not None and value != REDACTED and not (isinstance(value, str) and "${" in value)


def text(attrs: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    value = attrs.get(name)
    if not known(value) or isinstance(value, (dict, list)):
        return default
    rendered = str(value).strip()
    return rendered if rendered else default


def number(attrs: Mapping[str, Any], name: str, default: float | None = None) -> float | None:
    return to_number(attrs.get(name), default)


def to_number(value: Any, default: float | None = None) -> float | None:
    if isinstance(value, bool) or not known(value):
        return default
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return default


def flag(attrs: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = attrs.get(name)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return default


def blocks(attrs: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """Nested blocks: plan/state give a list of objects, HCL a list of bodies (or one body)."""
    value = attrs.get(name)
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, Mapping)]
    return []


def first_block(attrs: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    found = blocks(attrs, name)
    return found[0] if found else {}


def strings(attrs: Mapping[str, Any], name: str) -> list[str]:
    value = attrs.get(name)
    if isinstance(value, list):
        return [str(item) for item in value if known(item) and not isinstance(item, (dict, list))]
    if known(value) and isinstance(value, str):
        return [value]
    return []


def cpu_units(value: Any) -> float | None:
    """An ECS task's cpu in CPU units (1024 per vCPU), from any form AWS accepts; else None."""
    vcpu = _VCPU.match(value) if isinstance(value, str) else None
    if vcpu:
        return float(vcpu.group(1)) * 1024.0
    return to_number(value)


def memory_mib(value: Any) -> float | None:
    """An ECS task's memory in MiB, from any form AWS accepts (MiB as a number, or GB); else None."""
    gb = _GB.match(value) if isinstance(value, str) else None
    if gb:
        return float(gb.group(1)) * 1024.0
    return to_number(value)
