"""The built-in policy checks over terraform's plan JSON, by name.

Each check takes the plan, an instance of its settings model and the context, and returns its
findings (empty: passed). A check raises :class:`~policy.model.PolicyError` when it cannot
decide, and the caller fails closed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError

from policy.builtins import budget, classes, destroy, exposure, regions, tags
from policy.model import Finding, PolicyContext, PolicyError

Check = Callable[[Mapping[str, Any], Any, PolicyContext], list[Finding]]


@dataclass(frozen=True)
class Builtin:
    name: str
    description: str  # one line, for the API's listing
    settings: type[BaseModel]  # extra="forbid", every field with a default
    check: Check


BUILTINS: Mapping[str, Builtin] = MappingProxyType(
    {
        builtin.name: builtin
        for builtin in (
            Builtin(
                "destroy-protection",
                "Refuses plans that destroy or replace protected resources (by type or address).",
                destroy.DestroySettings,
                destroy.check,
            ),
            Builtin(
                "budget",
                "Refuses plans whose monthly cost or change is over a limit, or not shown to be within it.",
                budget.BudgetSettings,
                budget.check,
            ),
            Builtin(
                "allowed-regions",
                "Refuses AWS resources created or updated outside the allowed regions.",
                regions.RegionSettings,
                regions.check,
            ),
            Builtin(
                "allowed-classes",
                "Refuses instance types and database classes outside the allowed ones.",
                classes.ClassSettings,
                classes.check,
            ),
            Builtin(
                "required-tags",
                "Refuses taggable AWS resources without the required tags (or with values not allowed).",
                tags.TagSettings,
                tags.check,
            ),
            Builtin(
                "public-exposure",
                "Refuses public S3 buckets and ingress open to the world on sensitive ports.",
                exposure.ExposureSettings,
                exposure.check,
            ),
        )
    }
)


def _location(location: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in location) or "(settings)"


def parse_settings(name: str, raw: Mapping[str, Any] | None) -> BaseModel:
    """The built-in's settings from their JSON; a PolicyError names each bad field."""
    builtin = BUILTINS.get(name)
    if builtin is None:
        raise PolicyError(f"there is no built-in policy named {name!r}")
    if raw is not None and not isinstance(raw, Mapping):
        raise PolicyError(f"{name} settings must be an object")
    try:
        return builtin.settings.model_validate(dict(raw or {}))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = _location(tuple(error["loc"]))
            message = "not a setting of this policy" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(f"{where}: {message}")
        raise PolicyError(f"{name} settings: " + "; ".join(problems)) from None


__all__ = ["BUILTINS", "Builtin", "Check", "parse_settings"]
