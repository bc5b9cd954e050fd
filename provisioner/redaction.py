"""Keep sensitive values out of everything the service returns or stores besides the state file.

Sensitivity comes from three places terraform itself knows about: attributes the provider schema
marks sensitive, values terraform marks sensitive in plans and state (``*_sensitive``,
``sensitive_values``, ``sensitive_attributes``), and outputs and variables declared sensitive.
Whatever is found is replaced by ``"(sensitive)"``; the values themselves are also collected so
a :class:`Scrubber` can remove them from free text such as logs.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

SENSITIVE = "(sensitive)"
ANY_INDEX = "*"
# Short values ("1", "true") would scrub ordinary words out of logs; they cannot be secrets worth a leak.
MIN_SCRUB_LENGTH = 4

SensitivePaths = dict[str, list[list[str]]]
# Belt and braces for state whose schema paths were never recorded (a runner that died early):
# attribute names that hold secrets in every provider we know of.
SECRET_NAME = re.compile(
    r"(^|_)(password|passwd|secret|secret_string|private_key|token|passphrase|credentials?)($|_)"
)


def sensitive_paths_from_schema(schema: Mapping[str, Any]) -> SensitivePaths:
    """Resource type -> attribute paths marked sensitive, from ``terraform providers schema -json``."""
    paths: SensitivePaths = {}
    for provider in (schema.get("provider_schemas") or {}).values():
        for section in ("resource_schemas", "data_source_schemas"):
            for resource_type, resource_schema in (provider.get(section) or {}).items():
                found = list(_block_sensitive_paths(resource_schema.get("block") or {}, []))
                if found:
                    key = resource_type if section == "resource_schemas" else f"data.{resource_type}"
                    paths[key] = found
    return paths


def _block_sensitive_paths(block: Mapping[str, Any], prefix: list[str]) -> Iterator[list[str]]:
    for name, attribute in (block.get("attributes") or {}).items():
        if attribute.get("sensitive"):
            yield [*prefix, name]
    for name, nested in (block.get("block_types") or {}).items():
        inner_prefix = (
            [*prefix, name] if nested.get("nesting_mode") == "single" else [*prefix, name, ANY_INDEX]
        )
        yield from _block_sensitive_paths(nested.get("block") or {}, inner_prefix)


def paths_for_types(paths: SensitivePaths, resource_types: Iterable[str]) -> SensitivePaths:
    """Only the entries a project needs (the full AWS schema has hundreds)."""
    wanted = set(resource_types)
    return {k: v for k, v in paths.items() if k in wanted}


class SecretCollector:
    """Collects the sensitive values it redacts so free text can be scrubbed of them later."""

    def __init__(self) -> None:
        self.values: set[str] = set()

    def add(self, value: Any) -> None:
        for leaf in _leaves(value):
            if leaf is None or isinstance(leaf, bool):
                continue
            text = str(leaf)
            if len(text) >= MIN_SCRUB_LENGTH:
                self.values.add(text)


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for inner in value.values():
            yield from _leaves(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _leaves(inner)
    else:
        yield value


def _redact_path(value: Any, path: list[str], collector: SecretCollector | None) -> Any:
    """Replace what a schema path points at; ``*`` walks every element of a list."""
    if not path:
        if value is None:
            return None
        if collector is not None:
            collector.add(value)
        return SENSITIVE
    head, rest = path[0], path[1:]
    if head == ANY_INDEX and isinstance(value, list):
        return [_redact_path(item, rest, collector) for item in value]
    if isinstance(value, list):
        # State stores "single" nested blocks of older providers as one-element lists.
        return [_redact_path(item, path, collector) for item in value]
    if isinstance(value, dict) and head in value:
        value[head] = _redact_path(value[head], rest, collector)
    return value


def _redact_marked(value: Any, marks: Any, collector: SecretCollector | None) -> Any:
    """Apply a terraform sensitivity tree (``after_sensitive``, ``sensitive_values``) to a value."""
    if marks is True:
        if value is None:
            return None
        if collector is not None:
            collector.add(value)
        return SENSITIVE
    if isinstance(marks, dict) and isinstance(value, dict):
        for key, mark in marks.items():
            if key in value:
                value[key] = _redact_marked(value[key], mark, collector)
    elif isinstance(marks, list) and isinstance(value, list):
        for index, mark in enumerate(marks):
            if index < len(value):
                value[index] = _redact_marked(value[index], mark, collector)
    return value


def _redact_state_path(value: Any, steps: list[Mapping[str, Any]], collector: SecretCollector | None) -> Any:
    """Apply one ``sensitive_attributes`` entry of a state instance (a list of get_attr/index steps)."""
    if not steps:
        if value is None:
            return None
        if collector is not None:
            collector.add(value)
        return SENSITIVE
    step, rest = steps[0], steps[1:]
    key = step.get("value")
    if isinstance(value, dict) and isinstance(key, str) and key in value:
        value[key] = _redact_state_path(value[key], rest, collector)
    elif isinstance(value, list) and isinstance(key, int):
        if 0 <= key < len(value):
            value[key] = _redact_state_path(value[key], rest, collector)
    elif isinstance(value, list):
        # A step into a set has no stable index: walk every element.
        return [_redact_state_path(item, rest, collector) for item in value]
    return value


def _redact_secret_names(value: Any, collector: SecretCollector | None) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, str) and inner and inner != SENSITIVE and SECRET_NAME.search(key):
                if collector is not None:
                    collector.add(inner)
                value[key] = SENSITIVE
            else:
                _redact_secret_names(inner, collector)
    elif isinstance(value, list):
        for inner in value:
            _redact_secret_names(inner, collector)


def _type_key(resource: Mapping[str, Any]) -> str:
    resource_type = str(resource.get("type", ""))
    return f"data.{resource_type}" if resource.get("mode") == "data" else resource_type


def redact_state(
    state: Mapping[str, Any], paths: SensitivePaths, collector: SecretCollector | None = None
) -> dict[str, Any]:
    """A copy of a raw state document (format version 4) safe to return to a client."""
    redacted: dict[str, Any] = copy.deepcopy(dict(state))
    for output in (redacted.get("outputs") or {}).values():
        if isinstance(output, dict) and output.get("sensitive"):
            if collector is not None:
                collector.add(output.get("value"))
            output["value"] = SENSITIVE
    for resource in redacted.get("resources") or []:
        type_paths = paths.get(_type_key(resource), [])
        for instance in resource.get("instances") or []:
            attributes = instance.get("attributes")
            if not isinstance(attributes, dict):
                continue
            for path in type_paths:
                _redact_path(attributes, path, collector)
            for steps in instance.get("sensitive_attributes") or []:
                if isinstance(steps, list):
                    _redact_state_path(attributes, steps, collector)
            _redact_secret_names(attributes, collector)
            # Private provider data is opaque bytes that may embed secrets; nobody needs it.
            instance.pop("private", None)
    return redacted


def redact_plan(
    plan: Mapping[str, Any], paths: SensitivePaths, collector: SecretCollector | None = None
) -> dict[str, Any]:
    """A copy of ``terraform show -json PLAN`` with every sensitive value replaced.

    Values found sensitive anywhere are then scrubbed from the whole document, which catches the
    copies terraform keeps elsewhere (literal arguments under ``configuration``, prior state).
    """
    collector = collector or SecretCollector()
    redacted: dict[str, Any] = copy.deepcopy(dict(plan))
    for name, variable in (redacted.get("variables") or {}).items():
        if _variable_is_sensitive(redacted, name) and isinstance(variable, dict):
            collector.add(variable.get("value"))
            variable["value"] = SENSITIVE
    for change in redacted.get("resource_changes") or []:
        body = change.get("change") or {}
        for side in ("before", "after"):
            body[side] = _redact_marked(body.get(side), body.get(f"{side}_sensitive"), collector)
            for path in paths.get(_type_key(change), []):
                _redact_path(body.get(side), path, collector)
    for change in (redacted.get("output_changes") or {}).values():
        for side in ("before", "after"):
            change[side] = _redact_marked(change.get(side), change.get(f"{side}_sensitive"), collector)
    for values_key in ("planned_values", "prior_state"):
        section = redacted.get(values_key)
        if isinstance(section, dict):
            _redact_values_section(section, paths, collector)
    scrubbed: dict[str, Any] = scrub_values(redacted, collector.values)
    return scrubbed


def _variable_is_sensitive(plan: Mapping[str, Any], name: str) -> bool:
    declared = ((plan.get("configuration") or {}).get("root_module") or {}).get("variables") or {}
    return bool((declared.get(name) or {}).get("sensitive"))


def _redact_values_section(
    section: dict[str, Any], paths: SensitivePaths, collector: SecretCollector
) -> None:
    values = section.get("values", section)
    for output in (values.get("outputs") or {}).values():
        if isinstance(output, dict) and output.get("sensitive"):
            collector.add(output.get("value"))
            output["value"] = SENSITIVE
    for module in _modules(values.get("root_module") or {}):
        for resource in module.get("resources") or []:
            resource["values"] = _redact_marked(
                resource.get("values"), resource.get("sensitive_values"), collector
            )
            for path in paths.get(_type_key(resource), []):
                _redact_path(resource.get("values"), path, collector)


def _modules(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield module
    for child in module.get("child_modules") or []:
        yield from _modules(child)


def scrub_values(document: Any, secrets: Iterable[str]) -> Any:
    """Replace every string (or number) equal to a known secret, anywhere in a JSON document."""
    secret_set = set(secrets)
    if not secret_set:
        return document

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: walk(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [walk(inner) for inner in value]
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value) in secret_set:
            return SENSITIVE
        return value

    return walk(document)


def mask_outputs(outputs: Mapping[str, Any], collector: SecretCollector | None = None) -> dict[str, Any]:
    """``terraform output -json`` -> name: value, sensitive ones as ``"(sensitive)"``."""
    masked: dict[str, Any] = {}
    for name, output in outputs.items():
        if not isinstance(output, Mapping):
            continue
        if output.get("sensitive"):
            if collector is not None:
                collector.add(output.get("value"))
            masked[name] = SENSITIVE
        else:
            masked[name] = output.get("value")
    return masked


class Scrubber:
    """Removes known secret values from free text (log lines), longest first."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        merged = {*self._secrets, *(s for s in secrets if len(s) >= MIN_SCRUB_LENGTH)}
        self._secrets = sorted(merged, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, SENSITIVE)
        return text
