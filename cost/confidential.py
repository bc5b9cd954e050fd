"""Cost answers never echo what a project keeps secret, nor its variables' raw values.

The estimator evaluates code with the project's variables (which may be secrets) and prints
attribute values into component names and unpriced reasons, so an answer could carry a value
out. Three rules keep it in:

1. Secrets never enter. Variables declared sensitive or named as secrets are unknown to the HCL
   evaluation, secret-named keys anywhere read as redacted, and plans and state are redacted
   (:mod:`core.redaction`) before they are read.
2. Whatever was found secret is removed from every string of the answer, in any letter case.
3. A raw variable value is shown only when it is a term of the price catalog (an instance type,
   an engine, a region: public AWS vocabulary). Anywhere else in names, reasons and regions it
   reads ``var.NAME``.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from core.redaction import MIN_SCRUB_LENGTH, SecretCollector, copy_json, is_secret_name, redact_secret_names
from cost.model import REDACTED, ResourceInput

# Shorter values ("a", "x1") cannot be told from the words of a reason; none is worth hiding.
MIN_RAW_LENGTH: Final = 3
_REGION: Final = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d$")
# The text fields that print attribute values; addresses, types and catalog keys are left as is.
_NAMED_FIELDS: Final = ("name", "component", "reason", "region", "change")
# Values walk() passes through unchanged (numbers and bools hold no secret text).
_PLAIN: Final = (int, float, bool)


def _string_leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from _string_leaves(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _string_leaves(inner)


def _printed_forms(value: str) -> set[str]:
    """The forms a pricer may print a value in (matching ignores case already)."""
    return {value, value.replace(".elasticsearch", ".search")}


@dataclass
class Confidential:
    """What a cost answer must not show: secrets anywhere, raw variable values in its texts."""

    secrets: set[str] = field(default_factory=set)
    # printed form of a variable's value (lower case) -> "var.NAME"
    variables: dict[str, str] = field(default_factory=dict)
    # terms that may be shown even when a variable holds them (the catalog's, lower case)
    vocabulary: frozenset[str] = frozenset()

    def add_variables(self, values: Mapping[str, Any]) -> None:
        for name in sorted(values, reverse=True):  # the first name wins a shared value
            for leaf in _string_leaves(values[name]):
                if len(leaf) >= MIN_RAW_LENGTH and leaf != REDACTED:
                    for form in _printed_forms(leaf):
                        self.variables[form.lower()] = f"var.{name}"

    def hide_secret_variables(self, values: Mapping[str, Any], sensitive: Iterable[str]) -> dict[str, Any]:
        """Variables as the evaluation may see them: secret ones absent (unknown), secret-named
        keys inside the others redacted; the raw values of the rest are remembered."""
        declared = set(sensitive)
        collector = SecretCollector()
        visible: dict[str, Any] = {}
        for name, value in values.items():
            if name in declared or is_secret_name(name):
                collector.add(value)
            else:
                visible[name] = redact_secret_names(copy.deepcopy(value), collector)
        self.secrets |= collector.values
        self.add_variables(visible)
        return visible

    def sanitize(self, resources: Iterable[ResourceInput]) -> list[ResourceInput]:
        """Resources with secret-named attributes and map keys redacted (collected as secrets)."""
        collector = SecretCollector()
        out = [
            dataclasses.replace(r, attrs=redact_secret_names(copy_json(dict(r.attrs)), collector))
            for r in resources
        ]
        self.secrets |= collector.values
        return out

    def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        """The answer with secrets removed everywhere and raw values replaced in its texts."""
        priced = {
            part.lower()
            for resource in document.get("resources") or []
            for component in resource.get("components") or []
            for part in str(component.get("priceKey", "")).split(":")
        }
        raw = {
            value: name
            for value, name in self.variables.items()
            if value not in priced and value not in self.vocabulary and not _REGION.match(value)
        }
        whole = {s.lower() for s in self.secrets}
        secrets = _pattern(s for s in self.secrets if len(s) >= MIN_SCRUB_LENGTH)
        named = _pattern(raw, bounded=True)

        def text(value: str, *, named_field: bool) -> str:
            if value.lower() in whole:
                return REDACTED
            if secrets is not None:
                value = secrets.sub(REDACTED, value)
            if named_field and named is not None:
                value = named.sub(lambda m: raw[m.group(0).lower()], value)
            return value

        def walk(value: Any, key: str = "") -> Any:
            # Strings and numbers first: they are most of a 10,000-resource answer's values.
            if isinstance(value, str):
                return text(value, named_field=key in _NAMED_FIELDS)
            if value is None or type(value) in _PLAIN:
                return value
            if isinstance(value, dict):
                return {k: walk(v, str(k)) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v, key) for v in value]
            return value

        result: dict[str, Any] = walk(document)
        return result


def _pattern(values: Iterable[str], *, bounded: bool = False) -> re.Pattern[str] | None:
    ordered = sorted(set(values), key=len, reverse=True)
    if not ordered:
        return None
    alternation = "|".join(re.escape(v) for v in ordered)
    if bounded:
        # Whole values only: "prod" must not eat into "production".
        alternation = rf"(?<![\w.\-/])(?:{alternation})(?![\w.\-/])"
    return re.compile(alternation, re.IGNORECASE)
