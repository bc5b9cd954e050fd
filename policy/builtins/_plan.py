"""Walking terraform's plan JSON for the built-in checks.

Only managed resource changes are checked (data sources never are). Values unknown at plan time
are told apart with ``after_unknown``: terraform omits an unknown attribute from ``after`` (and
writes ``null`` for an unknown list element) and marks it ``true`` at the same path there.

Provider configurations: a resource's ``provider_config_key`` is ``aws``/``aws.west`` in the root;
inside a module terraform 1.0 writes ``<call name>:aws`` (only the last call's name) and newer
versions ``module.a.module.b:aws`` or, for a configuration passed in or inherited, the key of the
configuration it resolves to (``aws.west``). Terraform 1.0 does not say which configuration a
module was passed, so such a resource gets every configuration it could be using (candidates);
a check must hold for each of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from policy.model import PolicyError


class _Unknown:
    """A value terraform will know only after apply (or one a check cannot resolve)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Final = _Unknown()

AWS_PROVIDER_SUFFIX: Final = "hashicorp/aws"

Path = Sequence[str | int]


# --- resource changes ---------------------------------------------------------------------------


def managed_changes(plan: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The plan's managed resource changes (data sources left out); a malformed list raises."""
    if not isinstance(plan, Mapping):
        raise PolicyError("the plan is not a JSON object")
    changes = plan.get("resource_changes")
    if changes is None:
        return []
    if not isinstance(changes, list):
        raise PolicyError("the plan's resource_changes is not a list")
    result: list[Mapping[str, Any]] = []
    for change in changes:
        if not isinstance(change, Mapping) or not isinstance(change.get("change"), Mapping):
            raise PolicyError("the plan has a resource change that is not an object with a change")
        if not isinstance(change.get("address"), str) or not isinstance(change.get("type"), str):
            raise PolicyError("the plan has a resource change without an address or type")
        mode = change.get("mode", "managed")
        if mode == "data":
            continue
        if mode != "managed":
            raise PolicyError(f"{change['address']} has an unknown mode {mode!r}")
        actions(change)  # validated here, once
        result.append(change)
    return result


def actions(change: Mapping[str, Any]) -> tuple[str, ...]:
    raw = change["change"].get("actions")
    if not isinstance(raw, list) or not all(isinstance(action, str) for action in raw):
        raise PolicyError(f"{change.get('address')} has no readable list of actions")
    return tuple(raw)


def is_delete(change: Mapping[str, Any]) -> bool:
    """A delete, either order of replace, a deposed object's delete (a ``forget`` is not one)."""
    return "delete" in actions(change)


def is_create_or_update(change: Mapping[str, Any]) -> bool:
    """Created, updated or replaced: the after values are what will exist."""
    found = actions(change)
    return "create" in found or "update" in found


def is_aws(change: Mapping[str, Any]) -> bool:
    name = change.get("provider_name")
    return isinstance(name, str) and name.rstrip("/").endswith(AWS_PROVIDER_SUFFIX)


def describe_delete(change: Mapping[str, Any]) -> str:
    """How the change destroys: 'would be destroyed', 'would be replaced (destroyed, then created)'."""
    found = actions(change)
    if "create" in found and "delete" in found:
        order = (
            "destroyed, then created"
            if found.index("delete") < found.index("create")
            else "created, then destroyed"
        )
        text = f"would be replaced ({order})"
    else:
        text = "would be destroyed"
    if change.get("deposed"):
        text = f"would have its deposed object {change['deposed']} destroyed"
    return text


def after(change: Mapping[str, Any]) -> Mapping[str, Any]:
    value = change["change"].get("after")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PolicyError(f"{change['address']} has after values that are not an object")
    return value


def after_unknown(change: Mapping[str, Any]) -> Any:
    value = change["change"].get("after_unknown")
    return {} if value is None else value


def unknown_at(unknown: Any, path: Path) -> bool:
    """Whether the value at ``path`` (or a value containing it) is unknown at plan time."""
    node = unknown
    for step in path:
        if node is True:
            return True
        if isinstance(node, Mapping) and isinstance(step, str):
            node = node.get(step, False)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            return False
    return node is True


def contains_unknown(unknown: Any) -> bool:
    """Whether anything at or below this after_unknown node is unknown."""
    if unknown is True:
        return True
    if isinstance(unknown, Mapping):
        return any(contains_unknown(value) for value in unknown.values())
    if isinstance(unknown, list):
        return any(contains_unknown(value) for value in unknown)
    return False


def subtree(unknown: Any, path: Path) -> Any:
    """The after_unknown node at ``path`` (``True`` when an ancestor is unknown, ``False`` if none)."""
    node = unknown
    for step in path:
        if node is True:
            return True
        if isinstance(node, Mapping) and isinstance(step, str):
            node = node.get(step, False)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            return False
    return node


def after_value(change: Mapping[str, Any], *path: str | int) -> Any:
    """The after value at ``path``: ``UNKNOWN`` when unknown at plan time, ``None`` when absent."""
    if unknown_at(after_unknown(change), path):
        return UNKNOWN
    node: Any = after(change)
    for step in path:
        if isinstance(node, Mapping) and isinstance(step, str):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            return None
    return node


def walk_after(change: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], str, Any]]:
    """Every (path, key, value) of the after values' objects, nested blocks included; an unknown
    value is ``UNKNOWN`` (keys that are unknown appear too, though ``after`` omits them)."""

    def visit(
        value: Any, unknown: Any, path: tuple[str | int, ...]
    ) -> Iterator[tuple[tuple[str | int, ...], str, Any]]:
        if isinstance(value, Mapping):
            keys = list(value)
            if isinstance(unknown, Mapping):
                keys += [key for key in unknown if key not in value and unknown[key] is True]
            for key in keys:
                child_unknown = unknown.get(key, False) if isinstance(unknown, Mapping) else False
                child = UNKNOWN if child_unknown is True else value.get(key)
                yield (*path, key), key, child
                if child is not UNKNOWN:
                    yield from visit(child, child_unknown, (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                item_unknown = unknown[index] if isinstance(unknown, list) and index < len(unknown) else False
                if item_unknown is not True:
                    yield from visit(item, item_unknown, (*path, index))

    yield from visit(after(change), after_unknown(change), ())


# --- addresses ----------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _skip_index(address: str, start: int) -> int:
    """The position after the ``[...]`` instance key starting at ``start`` (strings may hold ']')."""
    position = start + 1
    quoted = False
    while position < len(address):
        char = address[position]
        if quoted:
            if char == "\\":
                position += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "]":
            return position + 1
        position += 1
    raise PolicyError(f"cannot read the address {address!r}")


def module_calls_of(module_address: str | None) -> list[str]:
    """``module.a["x"].module.b[0]`` -> ``["a", "b"]``; the root (None or "") -> ``[]``."""
    if not module_address:
        return []
    names: list[str] = []
    position = 0
    while position < len(module_address):
        if not module_address.startswith("module.", position):
            raise PolicyError(f"cannot read the module address {module_address!r}")
        match = _NAME.match(module_address, position + len("module."))
        if match is None:
            raise PolicyError(f"cannot read the module address {module_address!r}")
        names.append(match.group(0))
        position = match.end()
        if position < len(module_address) and module_address[position] == "[":
            position = _skip_index(module_address, position)
        if position < len(module_address):
            if module_address[position] != ".":
                raise PolicyError(f"cannot read the module address {module_address!r}")
            position += 1
    return names


def without_instance_keys(address: str) -> str:
    """``module.a["x"].aws_instance.web[0]`` -> ``module.a.aws_instance.web``."""
    out: list[str] = []
    position = 0
    while position < len(address):
        if address[position] == "[":
            position = _skip_index(address, position)
        else:
            out.append(address[position])
            position += 1
    return "".join(out)


def glob_match(pattern: str, value: str) -> bool:
    """fnmatch's ``*`` and ``?``, case-sensitive; brackets are literal (an address's index)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def any_glob(patterns: Sequence[str], value: str) -> bool:
    return any(glob_match(pattern, value) for pattern in patterns)


# --- configuration ------------------------------------------------------------------------------


def _module_config(plan: Mapping[str, Any], calls: Sequence[str]) -> Mapping[str, Any] | None:
    configuration = plan.get("configuration")
    if not isinstance(configuration, Mapping):
        return None
    module = configuration.get("root_module")
    for name in calls:
        if not isinstance(module, Mapping):
            return None
        call = (module.get("module_calls") or {}).get(name)
        if not isinstance(call, Mapping):
            return None
        module = call.get("module")
    return module if isinstance(module, Mapping) else None


def _module_call(plan: Mapping[str, Any], calls: Sequence[str]) -> Mapping[str, Any] | None:
    if not calls:
        return None
    parent = _module_config(plan, calls[:-1])
    call = ((parent or {}).get("module_calls") or {}).get(calls[-1])
    return call if isinstance(call, Mapping) else None


def resource_config(plan: Mapping[str, Any], change: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The configuration block the change comes from (matched by mode, type and name)."""
    module = _module_config(plan, module_calls_of(change.get("module_address")))
    for resource in (module or {}).get("resources") or []:
        if (
            isinstance(resource, Mapping)
            and resource.get("mode", "managed") == change.get("mode", "managed")
            and resource.get("type") == change.get("type")
            and resource.get("name") == change.get("name")
        ):
            return resource
    return None


def configured(plan: Mapping[str, Any], change: Mapping[str, Any], attribute: str) -> bool:
    """Whether the configuration sets ``attribute`` (True when the block cannot be found: a check
    must then treat an unknown value as the user's). Dynamic blocks are not in the plan's
    configuration, so an attribute set only by one reads as not configured."""
    config = resource_config(plan, change)
    if config is None:
        return True
    return attribute in (config.get("expressions") or {})


@dataclass(frozen=True)
class ProviderConfig:
    """One provider configuration a resource may use; ``key`` is the plan's provider_config key
    (``"(default)"`` for the implicit, empty configuration of an unconfigured provider)."""

    key: str
    module_calls: tuple[str, ...] = ()
    expressions: Mapping[str, Any] = field(default_factory=dict)


def _provider_configs(plan: Mapping[str, Any]) -> Mapping[str, Any]:
    configuration = plan.get("configuration")
    configs = configuration.get("provider_config") if isinstance(configuration, Mapping) else None
    return configs if isinstance(configs, Mapping) else {}


def _as_provider(key: str, config: Mapping[str, Any]) -> ProviderConfig:
    expressions = config.get("expressions")
    return ProviderConfig(
        key,
        tuple(module_calls_of(config.get("module_address"))),
        expressions if isinstance(expressions, Mapping) else {},
    )


def provider_candidates(plan: Mapping[str, Any], change: Mapping[str, Any]) -> list[ProviderConfig]:
    """The provider configurations the change's resource may be using; empty when it cannot be
    told (no configuration for it in the plan)."""
    config = resource_config(plan, change)
    if config is None or not isinstance(config.get("provider_config_key"), str):
        return []
    key: str = config["provider_config_key"]
    configs = _provider_configs(plan)
    calls = module_calls_of(change.get("module_address"))
    # Newer versions write the resolved key (a root "aws.west" inside a module too): exact.
    if key in configs:
        return [_as_provider(key, configs[key])]
    local = key.rsplit(":", 1)[1] if ":" in key else key
    if calls:
        own = "module." + ".module.".join(calls) + ":" + local
        if own in configs:
            return [_as_provider(own, configs[own])]
    elif ":" not in key:
        # A root resource whose provider has no configuration block: the implicit one.
        return [ProviderConfig("(default)")]
    # Passed in by a module call or inherited: any configuration of an ancestor module.
    provider_name = change.get("provider_name")
    base = local.split(".", 1)[0]
    candidates: list[ProviderConfig] = []
    has_default = False
    for candidate_key, candidate in configs.items():
        if not isinstance(candidate, Mapping):
            continue
        owner = module_calls_of(candidate.get("module_address"))
        if owner != calls[: len(owner)] or owner == calls:
            continue
        full_name = candidate.get("full_name")
        if full_name is not None and full_name != provider_name:
            continue
        if (
            full_name is None
            and candidate.get("name") != base
            and not _same_provider(candidate, provider_name)
        ):
            continue
        candidates.append(_as_provider(candidate_key, candidate))
        if not candidate.get("alias") and not owner:
            has_default = True
    if not has_default:
        candidates.append(ProviderConfig("(default)"))
    return candidates


def _same_provider(candidate: Mapping[str, Any], provider_name: Any) -> bool:
    # terraform 1.0 writes no full_name: a configuration named like the provider's type is taken.
    return isinstance(provider_name, str) and provider_name.rsplit("/", 1)[-1] == candidate.get("name")


# --- expressions --------------------------------------------------------------------------------


def _variable_value(  # noqa: PLR0911 - a return per place a value comes from
    plan: Mapping[str, Any], calls: Sequence[str], name: str, depth: int = 0, *, references: bool = True
) -> Any:
    if depth > 50:
        return UNKNOWN
    if not calls:
        variables = plan.get("variables")
        entry = variables.get(name) if isinstance(variables, Mapping) else None
        if not isinstance(entry, Mapping) or "value" not in entry:
            return UNKNOWN
        return entry["value"]
    call = _module_call(plan, calls)
    if call is None:
        return UNKNOWN
    expression = (call.get("expressions") or {}).get(name)
    if expression is not None:
        return _resolve(plan, expression, calls[:-1], depth + 1, references=references)
    module = call.get("module")
    declared = ((module or {}).get("variables") or {}).get(name) if isinstance(module, Mapping) else None
    if isinstance(declared, Mapping) and "default" in declared:
        return declared["default"]
    return UNKNOWN


def _resolve(
    plan: Mapping[str, Any], expression: Any, calls: Sequence[str], depth: int, *, references: bool
) -> Any:
    if not isinstance(expression, Mapping):
        return UNKNOWN
    if "constant_value" in expression:
        return expression["constant_value"]
    referred = expression.get("references")
    if references and isinstance(referred, list) and len(set(referred)) == 1:
        reference = referred[0]
        if isinstance(reference, str) and reference.startswith("var."):
            name = reference[len("var.") :]
            if _NAME.fullmatch(name):
                return _variable_value(plan, calls, name, depth, references=references)
    return UNKNOWN


def resolve_expression(
    plan: Mapping[str, Any], expression: Any, module_calls: Sequence[str] = (), *, references: bool = True
) -> Any:
    """A configuration expression's value: its ``constant_value``, or the value of the one
    variable it refers to (``references == ["var.x"]``: the root's from ``plan["variables"]``, a
    module's from its call's expression or its default); anything else is ``UNKNOWN``.

    The plan records only what an expression refers to, not the expression: one that refers to
    a single variable is taken as that variable, which holds only where the code writes the bare
    variable. ``references=False`` (the code writes something else: PolicyContext.bare_references)
    trusts constants alone."""
    return _resolve(plan, expression, module_calls, 0, references=references)


def provider_setting(
    plan: Mapping[str, Any], provider: ProviderConfig, name: str, *, references: bool = True
) -> Any:
    """A provider configuration's setting: None when not set, ``UNKNOWN`` when unresolvable."""
    expression = provider.expressions.get(name)
    if expression is None:
        return None
    return resolve_expression(plan, expression, provider.module_calls, references=references)


def provider_default_tags(  # noqa: PLR0911 - a return per shape the block can have
    plan: Mapping[str, Any], provider: ProviderConfig, *, references: bool = True
) -> Any:
    """``default_tags[0].tags`` of an AWS provider configuration: {} when none, else a mapping or
    ``UNKNOWN``."""
    blocks = provider.expressions.get("default_tags")
    if blocks is None:
        return {}
    if not isinstance(blocks, list):
        return UNKNOWN
    if not blocks:
        return {}
    block = blocks[0]
    if not isinstance(block, Mapping):
        return UNKNOWN
    if "tags" not in block:
        return {}
    value = resolve_expression(plan, block["tags"], provider.module_calls, references=references)
    if value is None:
        return {}
    return value if isinstance(value, Mapping) else UNKNOWN
