"""Keep sensitive values out of everything the service returns or stores besides the state file.

Sensitivity comes from four places: attributes the provider schema marks sensitive, values
terraform marks sensitive in plans and state (``*_sensitive``, ``sensitive_values``,
``sensitive_attributes``), outputs and variables declared sensitive, and names that say "secret"
(``DB_PASSWORD``, ``apiToken``, ``client-secret``) wherever they key a value. Whatever is found
is replaced by ``"(sensitive)"``; the values themselves are also collected so a :class:`Scrubber`
can remove them from free text such as logs, and every other copy in the same document is
replaced too (terraform keeps copies it does not mark: ``terraform_data.output``, set keys in
``sensitive_attributes``, literals under ``configuration``).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, Literal

SENSITIVE = "(sensitive)"
ANY_INDEX = "*"
# Short values ("1", "true") would scrub ordinary words out of logs; they cannot be secrets worth a leak.
MIN_SCRUB_LENGTH = 4

SensitivePaths = dict[str, list[list[str]]]

# --- secret names -----------------------------------------------------------------------------

# Words (after splitting snake, kebab, dotted and camel case) that make a name a secret's.
_SECRET_WORDS: Final = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "pass",
        "pwd",
        "secret",
        "token",
        "credential",
        "credentials",
        "creds",
        "jwt",
    }
)
# Words run together without separators (``PGPASSWORD``, ``APIKEY``): a word ending so is a secret's.
_SECRET_ENDINGS: Final = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "credentials",
    "apikey",
    "privatekey",
    "accesskey",
    "secretkey",
)
_SECRET_PAIRS: Final = frozenset(
    {
        ("private", "key"),
        ("api", "key"),
        ("access", "key"),
        ("signing", "key"),
        ("encryption", "key"),
        ("connection", "string"),
    }
)
# What may follow the secret word and still name the secret itself (``secret_string``,
# ``password_wo``, ``private_key_pem``, ``ses_smtp_password_v4``). Any other word names something
# about the secret (``password_length``, ``token_type``, ``secret_arn``, ``access_key_id``).
_SECRET_SUFFIXES: Final = frozenset(
    {
        "value",
        "values",
        "string",
        "binary",
        "data",
        "text",
        "plain",
        "plaintext",
        "hash",
        "hashed",
        "raw",
        "json",
        "b64",
        "base64",
        "encoded",
        "wo",
        "key",
        "pem",
        "der",
        "openssh",
        "pkcs8",
        "v",
    }
)
_NAME_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


_ENDINGS: Final = _SECRET_ENDINGS + tuple(f"{e}s" for e in _SECRET_ENDINGS)


def _names_secret(words: list[str], index: int) -> bool:
    word = words[index]
    singular = word.removesuffix("s")
    return (
        word in _SECRET_WORDS
        or singular in _SECRET_WORDS
        or (len(word) > 4 and word.endswith(_ENDINGS))
        or (index > 0 and (words[index - 1], singular) in _SECRET_PAIRS)
    )


@functools.lru_cache(maxsize=4096)  # the same attribute names recur in every resource
def is_secret_name(name: str) -> bool:
    """Whether an attribute, map key or variable name says its value is a secret (any case)."""
    words = [w.lower() for w in _NAME_WORD.findall(name)]
    last_secret = max((i for i in range(len(words)) if _names_secret(words, i)), default=-1)
    if last_secret < 0:
        return False
    return all(w in _SECRET_SUFFIXES or w.isdigit() for w in words[last_secret + 1 :])


# --- schema paths -----------------------------------------------------------------------------


def sensitive_paths_from_schema(schema: Mapping[str, Any]) -> SensitivePaths:
    """Resource type -> attribute paths marked sensitive, from ``terraform providers schema -json``.

    ``*`` stands for every element of a list or set, or every value of a map.
    """
    paths: SensitivePaths = {}
    for provider in (schema.get("provider_schemas") or {}).values():
        for section in ("resource_schemas", "data_source_schemas"):
            for resource_type, resource_schema in (provider.get(section) or {}).items():
                found = list(_block_sensitive_paths(resource_schema.get("block") or {}, []))
                if found:
                    key = resource_type if section == "resource_schemas" else f"data.{resource_type}"
                    paths[key] = found
    return paths


def _nested_prefix(prefix: list[str], name: str, nesting_mode: Any) -> list[str]:
    # single and group blocks are objects; list, set and map ones hold many.
    return [*prefix, name] if nesting_mode in ("single", "group") else [*prefix, name, ANY_INDEX]


def _block_sensitive_paths(block: Mapping[str, Any], prefix: list[str]) -> Iterator[list[str]]:
    yield from _attributes_sensitive_paths(block.get("attributes") or {}, prefix)
    for name, nested in (block.get("block_types") or {}).items():
        inner_prefix = _nested_prefix(prefix, name, nested.get("nesting_mode"))
        yield from _block_sensitive_paths(nested.get("block") or {}, inner_prefix)


def _attributes_sensitive_paths(attributes: Mapping[str, Any], prefix: list[str]) -> Iterator[list[str]]:
    for name, attribute in attributes.items():
        if attribute.get("sensitive"):
            yield [*prefix, name]
            continue
        # Protocol 6 providers nest attributes (``nested_type``) as blocks nest blocks.
        nested = attribute.get("nested_type")
        if isinstance(nested, Mapping):
            inner_prefix = _nested_prefix(prefix, name, nested.get("nesting_mode"))
            yield from _attributes_sensitive_paths(nested.get("attributes") or {}, inner_prefix)


def paths_for_types(paths: SensitivePaths, resource_types: Iterable[str]) -> SensitivePaths:
    """Only the entries a project needs (the full AWS schema has hundreds)."""
    wanted = set(resource_types)
    return {k: v for k, v in paths.items() if k in wanted}


# --- collecting -------------------------------------------------------------------------------


class SecretCollector:
    """Collects the sensitive values it redacts so free text can be scrubbed of them later."""

    def __init__(self) -> None:
        self.values: set[str] = set()

    def add(self, value: Any) -> None:
        for leaf in _leaves(value):
            if leaf is None or isinstance(leaf, bool):
                continue
            text = str(leaf)
            if len(text) >= MIN_SCRUB_LENGTH and text != SENSITIVE:
                self.values.add(text)
                self._add_json_leaves(text)

    def _add_json_leaves(self, text: str) -> None:
        # Secrets are often JSON documents (secret_string) and a log may show one field of one:
        # the secret-named fields are collected too (not all, or "postgres" would go everywhere).
        if not text.lstrip().startswith(("{", "[")):
            return
        try:
            document = json.loads(text)
        except ValueError:
            return
        if isinstance(document, (dict, list)):
            redact_secret_names(document, self)


def _leaves(value: Any) -> Iterator[Any]:
    if _is_dynamic(value):
        yield from _leaves(value["value"])
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _leaves(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _leaves(inner)
    else:
        yield value


_CTY_PRIMITIVES: Final = frozenset({"string", "number", "bool", "dynamic"})
_CTY_KINDS: Final = frozenset({"list", "set", "map", "object", "tuple"})


def _is_cty_type(value: Any) -> bool:
    if isinstance(value, str):
        return value in _CTY_PRIMITIVES
    return isinstance(value, list) and len(value) in (2, 3) and value[0] in _CTY_KINDS


def _is_dynamic(value: Any) -> bool:
    """Raw state stores a value of a ``dynamic`` attribute as ``{"value": ..., "type": ...}``."""
    return isinstance(value, dict) and value.keys() == {"value", "type"} and _is_cty_type(value["type"])


def _hide(value: Any, collector: SecretCollector) -> Any:
    if value is None:
        return None
    collector.add(value)
    return SENSITIVE


# --- following paths --------------------------------------------------------------------------

# One step of a path: into an object attribute or map key (name), a list index, set element or
# map key (index), every element (each), or a step we cannot follow (opaque: hide what we reached).
StepKind = Literal["name", "index", "each", "opaque"]
Step = tuple[StepKind, Any]


def _schema_steps(path: Sequence[str]) -> list[Step]:
    return [("each", None) if part == ANY_INDEX else ("name", part) for part in path]


def state_path_steps(raw: Any) -> list[Step]:
    """One ``sensitive_attributes`` entry as steps, in every form it is found.

    Terraform (0.15 to 1.11 at least) writes ``[{"type": "get_attr", "value": "triggers"},
    {"type": "index", "value": {"value": "password", "type": "string"}}]``: an index key is a cty
    JSON value with its type (a number for lists, a string for maps, the element itself for
    sets). Bare keys (``{"type": "index", "value": 0}``) and dotted strings are read too.
    """
    if isinstance(raw, str):
        # A flat "a.b[0]" path: hide the whole top-level attribute rather than guess.
        head = re.split(r"[.\[]", raw, maxsplit=1)[0]
        return [("name", head)] if head else [("opaque", None)]
    if not isinstance(raw, list):
        return [("opaque", None)]
    steps: list[Step] = []
    for step in raw:
        if isinstance(step, str):
            steps.append(("name", step))
        elif isinstance(step, int) and not isinstance(step, bool):
            steps.append(("index", step))
        elif (
            isinstance(step, Mapping)
            and step.get("type") == "get_attr"
            and isinstance(step.get("value"), str)
        ):
            steps.append(("name", step["value"]))
        elif isinstance(step, Mapping) and step.get("type") == "index" and "value" in step:
            key = step["value"]
            if isinstance(key, Mapping) and key.keys() == {"value", "type"} and _is_cty_type(key["type"]):
                key = key["value"]
            steps.append(("index", key))
        else:
            steps.append(("opaque", None))
            break
    return steps


def _same_element(item: Any, key: Any) -> bool:
    """A set element equals its path key; parts already redacted match anything."""
    if isinstance(item, str) and item == SENSITIVE:
        return True
    if isinstance(item, dict) and isinstance(key, Mapping):
        return item.keys() == key.keys() and all(_same_element(item[k], key[k]) for k in item)
    if isinstance(item, list) and isinstance(key, list):
        return len(item) == len(key) and all(_same_element(a, b) for a, b in zip(item, key, strict=True))
    if isinstance(item, (int, float)) and isinstance(key, (int, float)):
        return not isinstance(item, bool) and not isinstance(key, bool) and float(item) == float(key)
    return bool(item == key)


def _fits(value: Any, kind: StepKind, key: Any) -> bool:
    if kind in ("each", "opaque"):
        return isinstance(value, (dict, list))
    if isinstance(value, dict):
        return key in value if isinstance(key, str) else False
    return isinstance(value, list)


def redact_steps(value: Any, steps: Sequence[Step], collector: SecretCollector) -> Any:
    """Replace what a path points at (collecting it); return the (possibly new) value."""
    if not steps or steps[0][0] == "opaque":
        return _hide(value, collector)
    kind, key = steps[0]
    if _is_dynamic(value) and (_fits(value["value"], kind, key) or not _fits(value, kind, key)):
        value["value"] = redact_steps(value["value"], steps, collector)
        return value
    if isinstance(value, dict):
        return _redact_in_object(value, steps, collector)
    if isinstance(value, list):
        return _redact_in_list(value, steps, collector)
    return value


def _redact_in_object(value: dict[str, Any], steps: Sequence[Step], collector: SecretCollector) -> Any:
    (kind, key), rest = steps[0], steps[1:]
    if kind == "each":
        return {k: redact_steps(v, rest, collector) for k, v in value.items()}
    if isinstance(key, str) and key in value:
        value[key] = redact_steps(value[key], rest, collector)
    return value


def _redact_in_list(value: list[Any], steps: Sequence[Step], collector: SecretCollector) -> Any:
    (kind, key), rest = steps[0], steps[1:]
    if kind == "each":
        return [redact_steps(item, rest, collector) for item in value]
    if kind == "name":
        # State keeps single nested blocks of SDKv2 providers as one-element lists.
        return [redact_steps(item, steps, collector) for item in value]
    if isinstance(key, (int, float)) and not isinstance(key, bool) and float(key).is_integer():
        index = int(key)
        if 0 <= index < len(value):
            value[index] = redact_steps(value[index], rest, collector)
        return value
    # A set element is addressed by its own value; when none matches, every element is hidden.
    matching = [i for i, item in enumerate(value) if _same_element(item, key)]
    for index in matching or range(len(value)):
        value[index] = redact_steps(value[index], rest, collector)
    return value


def _redact_marked(value: Any, marks: Any, collector: SecretCollector) -> Any:
    """Apply a terraform sensitivity tree (``after_sensitive``, ``sensitive_values``) to a value."""
    if marks is True:
        return _hide(value, collector)
    if isinstance(marks, dict) and isinstance(value, dict):
        for key, mark in marks.items():
            if key in value:
                value[key] = _redact_marked(value[key], mark, collector)
    elif isinstance(marks, list) and isinstance(value, list):
        for index, mark in enumerate(marks):
            if index < len(value):
                value[index] = _redact_marked(value[index], mark, collector)
    return value


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (plain dicts, lists, scalars), ~3x faster than
    copy.deepcopy on a 10,000-resource plan; anything else is deep-copied as usual."""
    kind = type(value)
    if kind is dict:
        return {key: copy_json(inner) for key, inner in value.items()}
    if kind is list:
        return [copy_json(inner) for inner in value]
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    return copy.deepcopy(value)


def redact_secret_names(value: Any, collector: SecretCollector) -> Any:
    """Hide every value keyed by a secret name, at any depth; return the (possibly new) value.

    A scalar or a list of scalars is hidden whole; an object under a secret name is searched
    instead (``master_user_secret { secret_arn ... }`` holds references, not secrets). The
    ``{"name": "DB_PASSWORD", "value": ...}`` pairs of environment lists are hidden by name too.
    """
    if _is_dynamic(value):
        value["value"] = redact_secret_names(value["value"], collector)
        return value
    if isinstance(value, list):
        return [redact_secret_names(item, collector) for item in value]
    if not isinstance(value, dict):
        return value
    for key, inner in value.items():
        if is_secret_name(str(key)) and _hideable(inner):
            value[key] = _hide(inner, collector)
        else:
            value[key] = redact_secret_names(inner, collector)
    _redact_name_value_pair(value, collector)
    return value


def _hideable(value: Any) -> bool:
    if isinstance(value, str):
        return value not in ("", SENSITIVE)
    if _is_scalar(value):
        return True
    return isinstance(value, list) and bool(value) and all(_is_scalar(v) for v in value)


def _redact_name_value_pair(value: dict[str, Any], collector: SecretCollector) -> None:
    for name_key, value_key in (("name", "value"), ("Name", "Value"), ("key", "value"), ("Key", "Value")):
        name = value.get(name_key)
        if isinstance(name, str) and is_secret_name(name) and _hideable(value.get(value_key)):
            value[value_key] = _hide(value[value_key], collector)


# --- state ------------------------------------------------------------------------------------


def _type_key(resource: Mapping[str, Any]) -> str:
    resource_type = str(resource.get("type", ""))
    return f"data.{resource_type}" if resource.get("mode") == "data" else resource_type


def redact_state(
    state: Mapping[str, Any], paths: SensitivePaths, collector: SecretCollector | None = None
) -> dict[str, Any]:
    """A copy of a raw state document (format version 4) safe to return to a client."""
    found = SecretCollector()
    redacted: dict[str, Any] = copy_json(dict(state))
    for name, output in (redacted.get("outputs") or {}).items():
        if not isinstance(output, dict):
            continue
        if output.get("sensitive") or is_secret_name(str(name)):
            output["value"] = _hide(output.get("value"), found)
        else:
            output["value"] = redact_secret_names(output.get("value"), found)
    for resource in redacted.get("resources") or []:
        if not isinstance(resource, dict):
            continue
        type_paths = paths.get(_type_key(resource), [])
        for instance in resource.get("instances") or []:
            if isinstance(instance, dict):
                _redact_instance(instance, type_paths, found)
    if collector is not None:
        collector.values |= found.values
    # Terraform keeps unmarked copies: terraform_data.output, set keys in sensitive_attributes.
    scrubbed: dict[str, Any] = scrub_values(redacted, found.values)
    return scrubbed


def _redact_instance(instance: dict[str, Any], type_paths: list[list[str]], found: SecretCollector) -> None:
    attributes = instance.get("attributes")
    if isinstance(attributes, dict):
        for path in type_paths:
            redact_steps(attributes, _schema_steps(path), found)
        for raw in instance.get("sensitive_attributes") or []:
            redact_steps(attributes, state_path_steps(raw), found)
        redact_secret_names(attributes, found)
    flat = instance.get("attributes_flat")
    if isinstance(flat, dict):
        # Pre-0.12 flatmap ("a.0.b"): hide every key under a sensitive top-level attribute.
        tops = {path[0] for path in type_paths if path}
        for raw in instance.get("sensitive_attributes") or []:
            steps = state_path_steps(raw)
            if steps and steps[0][0] == "name":
                tops.add(str(steps[0][1]))
        for key in list(flat):
            parts = key.split(".")
            if parts[0] in tops or any(is_secret_name(p) for p in parts if not p.isdigit()):
                flat[key] = _hide(flat[key], found)
    # Private provider data is opaque bytes that may embed secrets; nobody needs it.
    instance.pop("private", None)


def secrets_in_state(state: Mapping[str, Any], paths: SensitivePaths | None = None) -> set[str]:
    """Every value :func:`redact_state` would hide: for a :class:`Scrubber`."""
    collector = SecretCollector()
    redact_state(state, paths or {}, collector)
    return collector.values


# --- plan -------------------------------------------------------------------------------------


def redact_plan(
    plan: Mapping[str, Any], paths: SensitivePaths, collector: SecretCollector | None = None
) -> dict[str, Any]:
    """A copy of ``terraform show -json PLAN`` with every sensitive value replaced.

    Values found sensitive anywhere are then scrubbed from the whole document, which catches the
    copies terraform keeps elsewhere (literal arguments under ``configuration``, prior state).
    """
    found = SecretCollector()
    redacted: dict[str, Any] = copy_json(dict(plan))
    root = (redacted.get("configuration") or {}).get("root_module") or {}
    declared = root.get("variables") or {}
    for name, variable in (redacted.get("variables") or {}).items():
        if not isinstance(variable, dict):
            continue
        if (declared.get(name) or {}).get("sensitive") or is_secret_name(str(name)):
            variable["value"] = _hide(variable.get("value"), found)
        else:
            variable["value"] = redact_secret_names(variable.get("value"), found)
    configuration = redacted.get("configuration")
    if isinstance(configuration, dict):
        _redact_configuration(configuration, found)
    for change in _resource_changes(redacted):
        _redact_resource_change(change, paths, found)
    for name, change in (redacted.get("output_changes") or {}).items():
        if isinstance(change, dict):
            _redact_output_change(str(name), change, found)
    for values_key in ("planned_values", "prior_state"):
        section = redacted.get(values_key)
        if isinstance(section, dict):
            _redact_values_section(section, paths, found)
    if collector is not None:
        collector.values |= found.values
    scrubbed: dict[str, Any] = scrub_values(redacted, found.values)
    return scrubbed


def secrets_in_plan(plan: Mapping[str, Any], paths: SensitivePaths | None = None) -> set[str]:
    """Every value :func:`redact_plan` would hide: sensitive and secret-named variables (and
    sensitive defaults), values terraform marks sensitive (``sensitive()``, sensitive data-source
    attributes), schema-sensitive attributes when ``paths`` are given, provider credentials."""
    collector = SecretCollector()
    redact_plan(plan, paths or {}, collector)
    return collector.values


def _resource_changes(plan: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("resource_changes", "resource_drift"):
        for change in plan.get(key) or []:
            if isinstance(change, dict):
                yield change
    for deferred in plan.get("deferred_changes") or []:
        if isinstance(deferred, dict) and isinstance(deferred.get("resource_change"), dict):
            yield deferred["resource_change"]


def _redact_resource_change(change: dict[str, Any], paths: SensitivePaths, found: SecretCollector) -> None:
    body = change.get("change")
    if not isinstance(body, dict):
        return
    for side in ("before", "after"):
        value = _redact_marked(body.get(side), body.get(f"{side}_sensitive"), found)
        for path in paths.get(_type_key(change), []):
            value = redact_steps(value, _schema_steps(path), found)
        body[side] = redact_secret_names(value, found)


def _redact_output_change(name: str, change: dict[str, Any], found: SecretCollector) -> None:
    for side in ("before", "after"):
        if is_secret_name(name):
            change[side] = _hide(change.get(side), found)
            continue
        value = _redact_marked(change.get(side), change.get(f"{side}_sensitive"), found)
        change[side] = redact_secret_names(value, found)


def _redact_values_section(section: dict[str, Any], paths: SensitivePaths, found: SecretCollector) -> None:
    values = section.get("values", section)
    if not isinstance(values, dict):
        return
    for name, output in (values.get("outputs") or {}).items():
        if not isinstance(output, dict) or "value" not in output:
            continue
        if output.get("sensitive") or is_secret_name(str(name)):
            output["value"] = _hide(output.get("value"), found)
        else:
            output["value"] = redact_secret_names(output["value"], found)
    for module in _modules(values.get("root_module") or {}):
        for resource in module.get("resources") or []:
            if not isinstance(resource, dict):
                continue
            value = _redact_marked(resource.get("values"), resource.get("sensitive_values"), found)
            for path in paths.get(_type_key(resource), []):
                value = redact_steps(value, _schema_steps(path), found)
            resource["values"] = redact_secret_names(value, found)


def _modules(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield module
    for child in module.get("child_modules") or []:
        if isinstance(child, dict):
            yield from _modules(child)


# --- configuration ----------------------------------------------------------------------------

# Provider arguments that are credentials in every provider that has them; any secret-named
# argument and everything inside an ``assume_role*`` block is one too.
CREDENTIAL_ARGUMENTS: Final = frozenset({"access_key", "secret_key", "token"})
_URL_USERINFO = re.compile(r"://[^/@\s]+:[^/@\s]*@")


def _redact_configuration(configuration: dict[str, Any], found: SecretCollector) -> None:
    for provider in (configuration.get("provider_config") or {}).values():
        if isinstance(provider, dict) and isinstance(provider.get("expressions"), dict):
            _redact_provider_expressions(provider["expressions"], found, hide_all=False)
    root = configuration.get("root_module")
    if isinstance(root, dict):
        _redact_module_configuration(root, found)


def _is_credential_argument(name: str) -> bool:
    return name in CREDENTIAL_ARGUMENTS or name.startswith("assume_role") or is_secret_name(name)


def _redact_provider_expressions(
    expressions: dict[str, Any], found: SecretCollector, *, hide_all: bool
) -> None:
    for name, expression in expressions.items():
        hide = hide_all or _is_credential_argument(str(name))
        if isinstance(expression, list):  # a nested block: one expressions map per block
            for block in expression:
                if isinstance(block, dict):
                    _redact_provider_expressions(block, found, hide_all=hide)
        elif isinstance(expression, dict) and "constant_value" in expression:
            constant = expression["constant_value"]
            if hide or (isinstance(constant, str) and _URL_USERINFO.search(constant)):
                expression["constant_value"] = _hide(constant, found)
            else:
                expression["constant_value"] = redact_secret_names(constant, found)


def _hide_expression(expression: Any, found: SecretCollector) -> None:
    if isinstance(expression, dict) and "constant_value" in expression:
        expression["constant_value"] = _hide(expression["constant_value"], found)


def _redact_expressions_by_name(expressions: dict[str, Any], found: SecretCollector) -> None:
    """Resource arguments: literal values of secret-named arguments and map keys."""
    for name, expression in expressions.items():
        if isinstance(expression, list):
            for block in expression:
                if isinstance(block, dict):
                    _redact_expressions_by_name(block, found)
        elif isinstance(expression, dict) and "constant_value" in expression:
            if is_secret_name(str(name)):
                _hide_expression(expression, found)
            else:
                expression["constant_value"] = redact_secret_names(expression["constant_value"], found)


def _redact_module_configuration(module: dict[str, Any], found: SecretCollector) -> None:
    for name, declared in (module.get("variables") or {}).items():
        if isinstance(declared, dict) and "default" in declared:
            if declared.get("sensitive") or is_secret_name(str(name)):
                declared["default"] = _hide(declared["default"], found)
            else:
                declared["default"] = redact_secret_names(declared["default"], found)
    for name, output in (module.get("outputs") or {}).items():
        if isinstance(output, dict) and (output.get("sensitive") or is_secret_name(str(name))):
            _hide_expression(output.get("expression"), found)
    for resource in module.get("resources") or []:
        if isinstance(resource, dict) and isinstance(resource.get("expressions"), dict):
            _redact_expressions_by_name(resource["expressions"], found)
    for call in (module.get("module_calls") or {}).values():
        if isinstance(call, dict):
            _redact_module_call(call, found)


def _redact_module_call(call: dict[str, Any], found: SecretCollector) -> None:
    """Arguments given to a module's sensitive variables, then the module itself."""
    child = call.get("module")
    child_variables = (child.get("variables") or {}) if isinstance(child, dict) else {}
    expressions = call.get("expressions")
    if isinstance(expressions, dict):
        for name, expression in expressions.items():
            if (child_variables.get(name) or {}).get("sensitive"):
                _hide_expression(expression, found)
        _redact_expressions_by_name(expressions, found)
    if isinstance(child, dict):
        _redact_module_configuration(child, found)


# --- outputs, free text -----------------------------------------------------------------------


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
        if _is_scalar(value) and str(value) in secret_set:
            return SENSITIVE
        return value

    return walk(document)


def mask_outputs(outputs: Mapping[str, Any], collector: SecretCollector | None = None) -> dict[str, Any]:
    """``terraform output -json`` -> name: value, sensitive (or secret-named) ones as ``"(sensitive)"``."""
    found = SecretCollector()
    masked: dict[str, Any] = {}
    for name, output in outputs.items():
        if not isinstance(output, Mapping):
            continue
        if output.get("sensitive") or is_secret_name(str(name)):
            found.add(output.get("value"))
            masked[name] = SENSITIVE
        else:
            masked[name] = redact_secret_names(copy.deepcopy(output.get("value")), found)
    if collector is not None:
        collector.values |= found.values
    scrubbed: dict[str, Any] = scrub_values(masked, found.values)
    return scrubbed


def secrets_in_variables(values: Mapping[str, Any], sensitive: Iterable[str] = ()) -> set[str]:
    """Values of variables declared sensitive or named as secrets, and secret-named keys inside
    the others: what a :class:`Scrubber` needs before terraform even starts."""
    declared = set(sensitive)
    collector = SecretCollector()
    for name, value in values.items():
        if name in declared or is_secret_name(name):
            collector.add(value)
        else:
            redact_secret_names(copy.deepcopy(value), collector)
    return collector.values


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
