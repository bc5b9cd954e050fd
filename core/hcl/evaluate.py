"""A configuration evaluated statically, as far as terraform could before any apply.

Per module instance: variables (declared defaults, type conversion with ``optional()`` defaults,
then the caller's values), locals (on demand, in any order, a cycle reads as unknown), module
calls of local sources (``./mod``) with their inputs and outputs, and every resource expanded by
``count``/``for_each`` with ``count.index``/``each.*``, its body evaluated, ``dynamic`` blocks
included. What depends on something known only after apply stays :data:`UNKNOWN`; a resource
whose count or for_each is unknown comes back once, with why, instead of as instances.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import posixpath
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from core.hcl.config import META_KEYS, Block, Body, Configuration
from core.hcl.expression import Call as CallNode
from core.hcl.expression import Env, EvalError, Namespace, Node, parse_expression, parse_template
from core.hcl.expression import Literal as LiteralNode
from core.hcl.expression import Name as NameNode
from core.hcl.expression import Object as ObjectNode
from core.hcl.values import (
    MAX_REFERENCE_DEPTH,
    UNKNOWN,
    Budget,
    EvaluationLimit,
    TfSet,
    Unknowable,
    has_unknown,
    make_set,
    sorted_items,
    to_bool,
    to_number,
    to_string,
    type_name,
)

# Arguments terraform reads itself, not the provider.
RESOURCE_META: Final = frozenset(
    {"count", "for_each", "provider", "depends_on", "lifecycle", "provisioner", "connection"}
)
MODULE_META: Final = frozenset({"source", "version", "count", "for_each", "providers", "depends_on"})
MAX_MODULE_DEPTH: Final = 16
# Hides the variables the evaluation must not see: (values, names declared sensitive) -> visible.
Hider = Callable[[Mapping[str, Any], set[str]], dict[str, Any]]


@dataclass(frozen=True)
class Instance:
    """One resource instance, or a resource whose instances are unknown (``unknown`` says why)."""

    address: str
    type: str
    attrs: dict[str, Any]
    provider: str  # the provider configuration's key in the root module: "aws", "aws.west"
    module: str  # the address prefix: "", "module.app." ...
    block: Block
    unknown: str | None = None
    # Where its expressions were evaluated (count.index, each.*), to evaluate more of them.
    env: Env | None = field(default=None, compare=False, repr=False)


def evaluate_value(value: Any, env: Env) -> Any:
    """A value as the document holds it (template-form strings, lists, objects, nested blocks)."""
    if isinstance(value, str):
        return parse_template(value).evaluate(env)
    if isinstance(value, Body):
        return evaluate_body(value, env)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            if key in META_KEYS:
                continue
            name = parse_template(key).evaluate(env)
            if name is UNKNOWN:
                return UNKNOWN
            out[to_string(name)] = evaluate_value(inner, env)
        return out
    if isinstance(value, list):
        return [evaluate_value(inner, env) for inner in value]
    return value


def evaluate_attribute(value: Any, env: Env) -> Any:
    """An attribute's value; one terraform could not evaluate reads as unknown."""
    try:
        return evaluate_value(value, env)
    except (EvalError, Unknowable):
        return UNKNOWN


def evaluate_body(body: Mapping[str, Any], env: Env, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A block body: each attribute on its own (an error makes just that one unknown), nested
    blocks as lists of bodies, ``dynamic`` blocks expanded."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key in META_KEYS or key in skip:
            continue
        if key == "dynamic" and isinstance(value, list):
            for label, blocks in _dynamic_blocks(value, env):
                out.setdefault(label, []).extend(blocks)
            continue
        out[key] = evaluate_attribute(value, env)
    return out


def _dynamic_blocks(entries: list[Any], env: Env) -> Iterator[tuple[str, list[Any]]]:
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        for label, spec in entry.items():
            if label in META_KEYS or not isinstance(spec, dict):
                continue
            each = evaluate_attribute(spec.get("for_each"), env)
            if each is UNKNOWN or has_unknown(each) or not isinstance(each, (list, dict)):
                continue  # how many blocks there are is known only after apply
            iterator = _bare_name(spec.get("iterator")) or label
            contents = [c for c in spec.get("content") or [] if isinstance(c, dict)]
            pairs = sorted_items(each) if isinstance(each, dict) else _list_pairs(each)
            yield (
                label,
                [
                    evaluate_body(content, env.bind({iterator: {"key": key, "value": value}}))
                    for key, value in pairs
                    for content in contents
                ],
            )


def _list_pairs(items: list[Any]) -> list[tuple[Any, Any]]:
    return [(item, item) for item in items] if isinstance(items, TfSet) else list(enumerate(items))


def _bare_name(value: Any) -> str | None:
    """``iterator = vol`` or ``provider = aws.west``: the name written, not evaluated."""
    if not isinstance(value, str):
        return None
    text = value[2:-1] if value.startswith("${") and value.endswith("}") else value
    return text.strip() or None


# Types -------------------------------------------------------------------------------------


def convert(value: Any, constraint: Node) -> Any:  # noqa: PLR0911 - one return per kind of type
    """A variable's value converted to its declared type, ``optional()`` defaults filled in."""
    if value is UNKNOWN or value is None:
        return value
    if isinstance(constraint, NameNode):
        convert_primitive = _PRIMITIVES.get(constraint.name)
        return value if convert_primitive is None else convert_primitive(value)  # any
    if not isinstance(constraint, CallNode) or not constraint.args:
        return value
    kind, inner = constraint.name, constraint.args[0]
    if kind in ("list", "set"):
        if not isinstance(value, list):
            raise EvalError(f"a {type_name(value)} is not a {kind}")
        items = [convert(item, inner) for item in value]
        return make_set(items) if kind == "set" else items
    if kind == "map":
        if not isinstance(value, dict):
            raise EvalError(f"a {type_name(value)} is not a map")
        return {key: convert(item, inner) for key, item in value.items()}
    if kind == "object" and isinstance(inner, ObjectNode) and isinstance(value, dict):
        return _convert_object(value, inner)
    return value


_PRIMITIVES: Final[dict[str, Callable[[Any], Any]]] = {
    "string": to_string,
    "number": to_number,
    "bool": to_bool,
}


def _convert_object(value: dict[str, Any], shape: ObjectNode) -> dict[str, Any]:
    """Only the attributes the type declares; a missing optional one is its default, else null."""
    out: dict[str, Any] = {}
    for key_node, attribute_type in shape.items:
        name = key_node.value if isinstance(key_node, LiteralNode) else None
        if not isinstance(name, str):
            continue
        optional = (
            attribute_type
            if isinstance(attribute_type, CallNode) and attribute_type.name == "optional"
            else None
        )
        wanted = optional.args[0] if optional is not None and optional.args else attribute_type
        if name in value and value[name] is not None:
            out[name] = convert(value[name], wanted)
        elif optional is not None and len(optional.args) > 1:
            out[name] = convert(optional.args[1].evaluate(Env({})), wanted)
        elif optional is not None or name in value:
            out[name] = None
        else:
            raise EvalError(f'the object has no attribute "{name}", which its type requires')
    return out


def _type_node(value: Any) -> Node | None:
    if not isinstance(value, str):
        return None
    text = value[2:-1] if value.startswith("${") and value.endswith("}") else value
    try:
        return parse_expression(text)
    except EvalError:
        return None


# Modules -----------------------------------------------------------------------------------


class Configured(Namespace):
    """A resource instance seen from another expression: an argument its configuration sets
    has that value; anything else (id, arn, computed defaults) is known only after apply."""

    __slots__ = ("_body", "_env", "_module", "_values")

    def __init__(self, body: Mapping[str, Any], env: Env, module: Module) -> None:
        super().__init__(self._argument)
        self._body, self._env, self._module = body, env, module
        self._values: dict[str, Any] = {}

    def _argument(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        if name in META_KEYS or name in RESOURCE_META or name == "dynamic" or name not in self._body:
            return UNKNOWN
        value = self._module._guarded(
            f"{id(self)}.{name}", lambda: evaluate_attribute(self._body[name], self._env)
        )
        self._values[name] = value
        return value


@dataclass(frozen=True)
class UnknownModule:
    """A module call whose count or for_each is known only after apply: the one instance any
    of its instances would be (``count.index`` and ``each.*`` unknown), and why."""

    module: Module
    why: str


@dataclass
class Module:
    """One instance of a module: its variables, locals, calls of other modules and resources."""

    configuration: Configuration
    directory: str
    prefix: str
    variables: dict[str, Any]
    providers: Mapping[str, str]  # this module's provider names -> root provider keys
    depth: int = 0
    hide: Hider | None = None
    budget: Budget = field(default_factory=Budget)
    _locals: dict[str, Any] = field(default_factory=dict)
    _evaluating: set[str] = field(default_factory=set)
    _children: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.blocks = [b for b in self.configuration.blocks() if b.module_dir == self.directory]
        self.raw_locals: dict[str, Any] = {}
        for block in self.blocks:
            if block.kind == "locals":
                self.raw_locals.update({k: v for k, v in block.body.items() if k not in META_KEYS})
        self.roots: dict[str, Any] = {
            "var": Namespace(lambda name: self.variables.get(name, UNKNOWN)),
            "local": Namespace(self.local),
            "module": Namespace(self.module_value),
            "path": {"module": self.directory or ".", "root": ".", "cwd": "."},
            "terraform": {"workspace": "default"},
        }
        self.resources: dict[tuple[str, str], Block] = {}
        for block in self.blocks:
            if block.kind == "resource" and len(block.labels) == 2:
                resource_type, name = block.labels
                self.resources[(resource_type, name)] = block
                self.roots.setdefault(
                    resource_type, Namespace(functools.partial(self.resource_value, resource_type))
                )
        self._resource_values: dict[tuple[str, str], Any] = {}
        self.env = Env(self.roots, budget=self.budget)

    def local(self, name: str) -> Any:
        if name in self._locals:
            return self._locals[name]
        if name not in self.raw_locals:
            return UNKNOWN
        value = self._guarded(f"local.{name}", lambda: evaluate_attribute(self.raw_locals[name], self.env))
        self._locals[name] = value
        return value

    def _guarded(self, key: str, compute: Callable[[], Any]) -> Any:
        """A value that may refer to others: a cycle (which terraform refuses) reads as unknown."""
        if key in self._evaluating:
            return UNKNOWN
        if len(self._evaluating) >= MAX_REFERENCE_DEPTH:
            raise EvaluationLimit(
                f"locals and resources refer to one another more than {MAX_REFERENCE_DEPTH} deep"
            )
        self._evaluating.add(key)
        try:
            return compute()
        finally:
            self._evaluating.discard(key)

    def resource_value(self, resource_type: str, name: str) -> Any:
        """``TYPE.NAME`` as the plan knows it: each instance's configured arguments (what is not
        configured is known only after apply); a list of them under count, a map under for_each."""
        key = (resource_type, name)
        if key in self._resource_values:
            return self._resource_values[key]
        block = self.resources.get(key)
        if block is None:
            return UNKNOWN
        value = self._guarded(f"{resource_type}.{name}", lambda: self._resource_instances(block))
        self._resource_values[key] = value
        return value

    def _resource_instances(self, block: Block) -> Any:
        expansion = expand(block.body, self.env)
        if expansion is None:
            return Configured(block.body, self.env, self)
        if isinstance(expansion, str):
            return UNKNOWN
        made = [Configured(block.body, env, self) for _suffix, _key, env in expansion]
        if "count" in block.body:
            return made
        return {key: made[i] for i, (_suffix, key, _env) in enumerate(expansion)}

    def module_value(self, name: str) -> Any:
        """``module.NAME``: its outputs (a list or map of them under count or for_each)."""
        children = self.child(name)
        if isinstance(children, Module):
            return children.outputs()
        if isinstance(children, list):
            return [child.outputs() for child in children]
        if isinstance(children, dict):
            return {key: child.outputs() for key, child in children.items()}
        return UNKNOWN  # and an UnknownModule's outputs: how many instances there are is unknown

    def outputs(self) -> dict[str, Any]:
        return {
            block.labels[0]: evaluate_attribute(block.body.get("value"), self.env)
            for block in self.blocks
            if block.kind == "output" and block.labels
        }

    def calls(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "module" and b.labels]

    def child(self, name: str) -> Any:
        """The instances of a module call: a Module, a list or map of them, an UnknownModule,
        or UNKNOWN (a source not in the workspace)."""
        if name in self._children:
            return self._children[name]
        self._children[name] = UNKNOWN  # a module that reaches itself stays unknown
        block = next((b for b in self.calls() if b.labels[0] == name), None)
        result: Any = UNKNOWN
        if block is not None and self.depth < MAX_MODULE_DEPTH:
            directory = self._source(block)
            if directory is not None:
                result = self._instantiate(block, name, directory)
        self._children[name] = result
        return result

    def _source(self, block: Block) -> str | None:
        source = block.body.get("source")
        if not isinstance(source, str) or not source.startswith(("./", "../")):
            return None  # a registry or remote module: its code is not in the workspace
        directory = posixpath.normpath(posixpath.join(self.directory, source))
        directory = "" if directory == "." else directory
        if not any(b.module_dir == directory for b in self.configuration.blocks()):
            return None
        return directory

    def _instantiate(self, block: Block, name: str, directory: str) -> Any:
        providers = dict(self.providers)
        mapping = block.body.get("providers")
        if isinstance(mapping, dict):
            for inner_name, outer in mapping.items():
                outer_name = _bare_name(outer)
                if outer_name is not None:
                    providers[inner_name] = self.providers.get(outer_name, outer_name)
        expansion = expand(block.body, self.env)
        if expansion is None:
            return self._make(block, name, directory, suffix="", env=self.env, providers=providers)
        if isinstance(expansion, str):
            # Its resources are still listed, as unknown in number, never left out as none.
            one = self._make(
                block, name, directory, suffix="", env=_any_instance(self.env), providers=providers
            )
            return UnknownModule(one, f"{self.prefix}module.{name}: {expansion}")
        made = {
            suffix: self._make(block, name, directory, suffix=suffix, env=env, providers=providers)
            for suffix, _key, env in expansion
        }
        if "count" in block.body:
            return list(made.values())
        return {key: made[suffix] for suffix, key, _env in expansion}

    def _make(
        self, block: Block, name: str, directory: str, *, suffix: str, env: Env, providers: dict[str, str]
    ) -> Module:
        inputs = {
            key: evaluate_attribute(value, env)
            for key, value in block.body.items()
            if key not in META_KEYS and key not in MODULE_META
        }
        return module_instance(
            self.configuration,
            directory,
            prefix=f"{self.prefix}module.{name}{suffix}.",
            inputs=inputs,
            providers=providers,
            depth=self.depth + 1,
            hide=self.hide,
            budget=self.budget,
        )

    def instances(self) -> Iterator[Instance]:
        """Every resource instance of this module and of the modules it calls."""
        for block in self.blocks:
            if block.kind == "resource" and len(block.labels) == 2:
                yield from self._resource(block)
        for call in self.calls():
            children = self.child(call.labels[0])
            if isinstance(children, Module):
                yield from children.instances()
            elif isinstance(children, list):
                for child in children:
                    yield from child.instances()
            elif isinstance(children, dict):
                for child in children.values():
                    yield from child.instances()
            elif isinstance(children, UnknownModule):
                for instance in children.module.instances():
                    yield dataclasses.replace(instance, unknown=instance.unknown or children.why)

    def _resource(self, block: Block) -> Iterator[Instance]:
        resource_type, name = block.labels
        address = f"{self.prefix}{resource_type}.{name}"
        provider_name = _bare_name(block.body.get("provider")) or resource_type.split("_", 1)[0]
        provider = self.providers.get(provider_name, provider_name)
        expansion = expand(block.body, self.env)
        if expansion is None:
            attrs = evaluate_body(block.body, self.env, RESOURCE_META)
            yield Instance(address, resource_type, attrs, provider, self.prefix, block, env=self.env)
            return
        if isinstance(expansion, str):
            env = _any_instance(self.env)
            attrs = evaluate_body(block.body, env, RESOURCE_META)
            yield Instance(
                address, resource_type, attrs, provider, self.prefix, block, unknown=expansion, env=env
            )
            return
        for suffix, _key, env in expansion:
            attrs = evaluate_body(block.body, env, RESOURCE_META)
            yield Instance(address + suffix, resource_type, attrs, provider, self.prefix, block, env=env)


Expansion = list[tuple[str, Any, Env]]


def expand(body: Mapping[str, Any], env: Env) -> Expansion | str | None:
    """The instances ``count`` or ``for_each`` make: (address suffix, key, env) each; None
    without either; a reason (str) when terraform would know them only after apply."""
    if "count" in body:
        return _count(body["count"], env)
    if "for_each" in body:
        return _for_each(body["for_each"], env)
    return None


def _meta_value(name: str, written: Any, env: Env) -> Any:
    """count's or for_each's value, or why there is none (a str in a _Why)."""
    try:
        return evaluate_value(written, env)
    except (EvalError, Unknowable) as exc:
        return _Why(f"{name} cannot be evaluated: {exc} ({name} = {_written(written)})")


class _Why(str):
    """The reason a count or for_each has no value."""


def _count(written: Any, env: Env) -> Expansion | str:
    count = _meta_value("count", written, env)
    source = _written(written)
    if isinstance(count, _Why):
        return str(count)
    if count is UNKNOWN:
        return f"count is unknown until apply (count = {source})"
    try:
        number = to_number(count)
    except (EvalError, Unknowable):
        return f"count is not a number (count = {source})"
    if not isinstance(number, int) or number < 0:
        return f"count must be a whole number, not {number} (count = {source})"
    return [(f"[{i}]", i, _with(env, "count", {"index": i})) for i in range(number)]


def _for_each(written: Any, env: Env) -> Expansion | str:
    each = _meta_value("for_each", written, env)
    source = _written(written)
    if isinstance(each, _Why):
        return str(each)
    if each is UNKNOWN or (isinstance(each, TfSet) and has_unknown(each)):
        return f"for_each is unknown until apply (for_each = {source})"
    if isinstance(each, dict):
        pairs = sorted_items(each)
    elif isinstance(each, TfSet) and all(isinstance(item, str) for item in each):
        pairs = [(item, item) for item in each]
    else:
        hint = ": use toset()" if isinstance(each, list) and not isinstance(each, TfSet) else ""
        return (
            f"for_each needs a map or a set of strings, not a {type_name(each)}{hint} (for_each = {source})"
        )
    return [(f'["{key}"]', key, _with(env, "each", {"key": key, "value": value})) for key, value in pairs]


def _with(env: Env, root: str, value: Any) -> Env:
    return env.with_root(root, value)


def _any_instance(env: Env) -> Env:
    """What any one instance would see when their number is unknown: count.index and each.*
    unknown."""
    return _with(_with(env, "count", {"index": UNKNOWN}), "each", {"key": UNKNOWN, "value": UNKNOWN})


def _written(value: Any) -> str:
    """The expression as written, for a reason a user reads."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    return json.dumps(value, default=str)


def module_instance(
    configuration: Configuration,
    directory: str,
    *,
    prefix: str,
    inputs: Mapping[str, Any],
    providers: Mapping[str, str],
    depth: int = 0,
    hide: Hider | None = None,
    budget: Budget | None = None,
) -> Module:
    """A module instance: declared defaults, converted to their types, overridden by the inputs."""
    values: dict[str, Any] = {}
    types: dict[str, Node] = {}
    sensitive: set[str] = set()
    empty = Env({})
    for block in configuration.blocks("variable"):
        if block.module_dir != directory or not block.labels:
            continue
        name = block.labels[0]
        if "default" in block.body:
            values[name] = evaluate_attribute(block.body["default"], empty)
        constraint = _type_node(block.body.get("type"))
        if constraint is not None:
            types[name] = constraint
        if block.body.get("sensitive") is True:
            sensitive.add(name)
    values.update(inputs)
    for name, constraint in types.items():
        if name in values:
            try:
                values[name] = convert(values[name], constraint)
            except (EvalError, Unknowable):
                values[name] = UNKNOWN
    if hide is not None:
        values = hide(values, sensitive)
    return Module(
        configuration, directory, prefix, values, providers, depth=depth, hide=hide, budget=budget or Budget()
    )


def root_directories(configuration: Configuration) -> list[str]:
    """The root module (the top directory); without top-level files, each directory no module
    call reaches (a workspace of several roots)."""
    directories = {posixpath.dirname(source.path) for source in configuration.files}
    if "" in directories or not directories:
        return [""]
    called: set[str] = set()
    for block in configuration.blocks("module"):
        source = block.body.get("source")
        if isinstance(source, str) and source.startswith(("./", "../")):
            called.add(posixpath.normpath(posixpath.join(block.module_dir, source)))
    return sorted(directories - called)
