"""Resources from the HCL itself, when there is no plan yet.

Static and deliberately small: variable defaults, tfvars and caller-given variables; simple
locals; literal (or variable) ``count`` and ``for_each``; ``count.index``/``each.key``/``each.value``;
``var.x[key]`` lookups and plain arithmetic. Anything else reads as unknown, so the attribute's
documented default applies or the component is listed as unpriced: never a guess.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hcl2.api import loads as parse_hcl

from core.hcl.config import META_KEYS, Configuration, load_configuration
from cost.confidential import Confidential
from cost.model import ResourceInput

UNKNOWN: Any = None
_WHOLE = re.compile(r"^\$\{(.*)\}$", re.S)
_PART = re.compile(r"\$\{([^{}]*)\}")
_REF = re.compile(r"^(var|local)\.([A-Za-z_][\w-]*)((?:\[[^\]]+\]|\.[A-Za-z_][\w-]*)*)$")
_ACCESS = re.compile(r"\[([^\]]+)\]|\.([A-Za-z_][\w-]*)")
_RESOURCE_REF = re.compile(r"\b((?:aws|null|random)_[a-z0-9_]+)\.([A-Za-z_][\w-]*)")
_COLLECTION = re.compile(r"^to(?:set|list)\(\[(.*)\]\)$", re.S)
_ARITHMETIC = re.compile(r"^[\d\s.+\-*/()]+$")
_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


class Scope:
    def __init__(self, variables: Mapping[str, Any], local_values: Mapping[str, Any]) -> None:
        self.variables = variables
        self.locals = local_values
        self.each_key: Any = UNKNOWN
        self.each_value: Any = UNKNOWN
        self.count_index: Any = UNKNOWN

    def evaluate(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._string(value)
        if isinstance(value, list):
            return [self.evaluate(v) for v in value]
        if isinstance(value, dict):
            return {k: self.evaluate(v) for k, v in value.items() if k not in META_KEYS}
        return value

    def _string(self, value: str) -> Any:
        if "${" not in value:
            return value
        whole = _WHOLE.match(value)
        if whole and "${" not in whole.group(1):
            return self.expression(whole.group(1).strip())
        parts: list[str] = []
        position = 0
        for match in _PART.finditer(value):
            resolved = self.expression(match.group(1).strip())
            if resolved is UNKNOWN or isinstance(resolved, (dict, list)):
                return UNKNOWN
            parts.append(value[position : match.start()])
            parts.append(str(resolved).lower() if isinstance(resolved, bool) else str(resolved))
            position = match.end()
        parts.append(value[position:])
        return "".join(parts)

    def expression(self, text: str) -> Any:
        special = {"count.index": self.count_index, "each.key": self.each_key, "each.value": self.each_value}
        if text in special:
            return special[text]
        collection = _COLLECTION.match(text)
        if collection:
            items = [item.strip().strip('"') for item in collection.group(1).split(",") if item.strip()]
            return [self.expression(item) if "." in item else item for item in items]
        reference = _REF.match(text)
        if reference:
            return self._reference(reference.group(1), reference.group(2), reference.group(3))
        substituted = re.sub(
            r"(var|local)\.[A-Za-z_][\w-]*|count\.index",
            lambda m: str(self.expression(m.group(0))),
            text,
        )
        return _arithmetic(substituted) if _ARITHMETIC.match(substituted) else UNKNOWN

    def _reference(self, kind: str, name: str, accessors: str) -> Any:
        source = self.variables if kind == "var" else self.locals
        value = source.get(name, UNKNOWN)
        for index, attribute in _ACCESS.findall(accessors):
            key: Any = (
                attribute or self.expression(index.strip()) if not index.startswith('"') else index.strip('"')
            )
            if isinstance(value, Mapping):
                value = value.get(str(key), UNKNOWN)
            elif isinstance(value, list) and isinstance(key, (int, float)) and 0 <= int(key) < len(value):
                value = value[int(key)]
            else:
                return UNKNOWN
        return value


def _arithmetic(text: str) -> Any:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return UNKNOWN

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise ValueError("not arithmetic")

    try:
        result = walk(tree)
    except (ValueError, ZeroDivisionError, TypeError):
        return UNKNOWN
    return int(result) if isinstance(result, float) and result.is_integer() else result


def _tfvars(files: Mapping[str, str]) -> dict[str, Any]:
    """terraform.tfvars, then *.auto.tfvars in name order: terraform's own precedence."""
    names = [n for n in files if n.rsplit("/", 1)[-1] == "terraform.tfvars"]
    names += sorted(n for n in files if n.endswith(".auto.tfvars"))
    values: dict[str, Any] = {}
    for name in names:
        try:
            document = parse_hcl(files[name])
        except Exception:
            # The parser quotes the text around the error, and variable files hold secrets.
            raise ValueError(f"cannot parse {name}") from None
        values.update({k: v for k, v in dict(document).items() if k not in META_KEYS})
    return values


def _locals(configuration: Configuration, scope: Scope) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for block in configuration.blocks("locals"):
        raw.update({k: v for k, v in block.body.items() if k not in META_KEYS})
    resolved: dict[str, Any] = {}
    scope.locals = resolved
    # Locals may refer to each other in any order: a few passes settle the simple cases.
    for _ in range(4):
        for name, value in raw.items():
            resolved[name] = scope.evaluate(value)
    return resolved


def _provider_regions(configuration: Configuration, scope: Scope, default_region: str) -> dict[str, str]:
    regions: dict[str, str] = {}
    for block in configuration.blocks("provider"):
        if block.labels != ("aws",):
            continue
        region = scope.evaluate(block.body.get("region"))
        alias = scope.evaluate(block.body.get("alias"))
        key = f"aws.{alias}" if isinstance(alias, str) else "aws"
        regions[key] = region if isinstance(region, str) and region else default_region
    return regions


def _refs(body: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    refs: dict[str, tuple[str, ...]] = {}
    for name, value in body.items():
        if name in META_KEYS:
            continue
        found = tuple(f"{t}.{n}" for t, n in _RESOURCE_REF.findall(repr(value)))
        if found:
            refs[name] = found
    return refs


def resources_from_hcl(
    files: Mapping[str, str],
    variables: Mapping[str, Any] | None,
    default_region: str,
    confidential: Confidential | None = None,
) -> list[ResourceInput]:
    """Resources as the code declares them. Sensitive and secret-named variables stay unknown
    (their values go to ``confidential``), so nothing derived from them is ever priced or shown."""
    configuration = load_configuration(files)
    if configuration.syntax_errors:
        first = configuration.syntax_errors[0]
        raise ValueError(f"cannot parse the configuration: {first.describe()}")
    values: dict[str, Any] = {}
    sensitive: set[str] = set()
    for block in configuration.blocks("variable"):
        if not block.labels:
            continue
        if "default" in block.body:
            values[block.labels[0]] = block.body["default"]
        if block.body.get("sensitive") is True:
            sensitive.add(block.labels[0])
    values.update(_tfvars(files))
    values.update(variables or {})
    values = (confidential or Confidential()).hide_secret_variables(values, sensitive)
    scope = Scope(values, {})
    _locals(configuration, scope)
    regions = _provider_regions(configuration, scope, default_region)
    out: list[ResourceInput] = []
    for block in configuration.blocks("resource"):
        resource_type, name = block.labels
        body = block.body
        provider = body.get("provider")
        provider_key = provider[2:-1] if isinstance(provider, str) and provider.startswith("${") else "aws"
        region = regions.get(provider_key) or regions.get("aws") or default_region
        attributes = {
            k: v for k, v in body.items() if k not in ("count", "for_each", "provider", "depends_on")
        }
        template = _Template(f"{resource_type}.{name}", resource_type, attributes, region, _refs(body))
        out.extend(_expand(template, body, scope))
    return out


@dataclass(frozen=True)
class _Template:
    address: str
    type: str
    attributes: Mapping[str, Any]
    region: str
    refs: Mapping[str, tuple[str, ...]]

    def instance(self, address: str, scope: Scope) -> ResourceInput:
        attrs = scope.evaluate(dict(self.attributes))
        own = attrs.get("region")
        region = own if isinstance(own, str) and own else self.region
        return ResourceInput(address, self.type, attrs, region, self.refs)


def _expand(template: _Template, body: Mapping[str, Any], scope: Scope) -> list[ResourceInput]:
    """One ResourceInput per instance that count or for_each creates."""
    if "count" in body:
        count = scope.evaluate(body["count"])
        if not isinstance(count, (int, float)) or isinstance(count, bool):
            count = 1  # an unresolved count: price one instance rather than none
        out = []
        for index in range(int(count)):
            scope.count_index = index
            out.append(template.instance(f"{template.address}[{index}]", scope))
        scope.count_index = UNKNOWN
        return out
    if "for_each" in body:
        each = scope.evaluate(body["for_each"])
        if isinstance(each, Mapping):
            items = list(each.items())
        elif isinstance(each, list):
            items = [(k, k) for k in each if k is not UNKNOWN]
        else:
            items = [("?", UNKNOWN)]  # an unresolved for_each: price one instance rather than none
        out = []
        for key, item in items:
            scope.each_key, scope.each_value = key, item
            out.append(template.instance(f'{template.address}["{key}"]', scope))
        scope.each_key = scope.each_value = UNKNOWN
        return out
    return [template.instance(template.address, scope)]
