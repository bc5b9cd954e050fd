"""Resources from the HCL itself, when there is no plan yet.

The configuration is evaluated as terraform would before any apply (core/hcl/evaluate.py):
variables with their defaults, types, tfvars and caller-given values; locals; local child
modules; count and for_each; the language's expressions and functions. Whatever is known only
after apply reads as unknown, so the attribute's documented default applies or the component
is listed as unpriced: never a guess. A resource whose count or for_each is unknown is listed
as such (``ResourceInput.unknown_count``), not priced as some number of instances.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator, Mapping
from typing import Any

from core.hcl.config import META_KEYS, Configuration, load_configuration
from core.hcl.document import SyntaxProblem
from core.hcl.evaluate import Instance, Module, evaluate_attribute, module_instance, root_directories
from core.hcl.expression import Env, EvalError, parse_expression
from core.hcl.native import parse_native
from core.hcl.values import EvaluationLimit, Unknowable, plain
from cost.confidential import Confidential
from cost.model import ResourceInput

# TYPE.NAME, and the index written after it (``[each.key]``, ``[count.index]``, ``["a"]``).
_RESOURCE_REF = re.compile(r"\b((?:aws|null|random)_[a-z0-9_]+)\.([A-Za-z_][\w-]*)(?:\[([^\[\]]+)\])?")


def _tfvars(files: Mapping[str, str], directory: str) -> dict[str, Any]:
    """A root's terraform.tfvars(.json), then its *.auto.tfvars(.json) in name order: terraform's
    own precedence. Each root of a workspace of several reads only its own directory's."""
    here = {posixpath.basename(n): n for n in files if posixpath.dirname(n) == directory}
    names = [here[n] for n in ("terraform.tfvars", "terraform.tfvars.json") if n in here]
    names += [here[n] for n in sorted(here) if n.endswith((".auto.tfvars", ".auto.tfvars.json"))]
    values: dict[str, Any] = {}
    empty = Env({})
    for name in names:
        try:
            if name.endswith(".json"):
                document = json.loads(files[name])
                if not isinstance(document, dict):
                    raise ValueError
                values.update(document)
                continue
            document = parse_native(files[name])
        except (SyntaxProblem, ValueError):
            # The parser quotes the text around the error, and variable files hold secrets.
            raise ValueError(f"cannot parse {name}") from None
        # Variable files hold values, not references: anything else reads as unknown.
        values.update({k: evaluate_attribute(v, empty) for k, v in document.items() if k not in META_KEYS})
    return values


def _provider_regions(root: Module, default_region: str) -> dict[str, str]:
    regions: dict[str, str] = {}
    for block in root.blocks:
        if block.kind != "provider" or block.labels != ("aws",):
            continue
        region = evaluate_attribute(block.body.get("region"), root.env)
        alias = evaluate_attribute(block.body.get("alias"), root.env)
        key = f"aws.{alias}" if isinstance(alias, str) else "aws"
        regions[key] = region if isinstance(region, str) and region else default_region
    return regions


def _refs(instance: Instance) -> dict[str, tuple[str, ...]]:
    """Attribute -> the resources its expression names (in the same module), for the pricers
    that follow references (a service to its task definition). An index that evaluates here
    names the one instance (``aws_ecs_task_definition.app[each.key]`` -> ``...app["api"]``)."""
    refs: dict[str, tuple[str, ...]] = {}
    for name, value in instance.block.body.items():
        if name in META_KEYS:
            continue
        found = tuple(
            f"{instance.module}{t}.{n}{_index(index, instance)}"
            for text in _strings(value)
            for t, n, index in _RESOURCE_REF.findall(text)
        )
        if found:
            refs[name] = found
    return refs


def _index(text: str, instance: Instance) -> str:
    """``[0]`` or ``["key"]`` for an index known here; "" (the resource as a whole) otherwise."""
    if not text or instance.env is None:
        return ""
    try:
        key = parse_expression(text).evaluate(instance.env)
    except (EvalError, Unknowable):
        return ""
    if isinstance(key, bool):
        return ""
    if isinstance(key, int):
        return f"[{key}]"
    return f'["{key}"]' if isinstance(key, str) else ""  # as evaluate.py names instances


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


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
    secrets = confidential or Confidential()
    try:
        return _resources(configuration, files, variables or {}, default_region, secrets)
    except RecursionError:
        raise EvaluationLimit("the configuration refers to itself too deeply to evaluate") from None


def _resources(
    configuration: Configuration,
    files: Mapping[str, str],
    variables: Mapping[str, Any],
    default_region: str,
    secrets: Confidential,
) -> list[ResourceInput]:
    out: list[ResourceInput] = []
    for directory in root_directories(configuration):
        given = {**_tfvars(files, directory), **variables}
        # Provider names map to themselves in a root module.
        root = module_instance(
            configuration,
            directory,
            prefix="",
            inputs=given,
            providers={},
            hide=secrets.hide_secret_variables,
        )
        regions = _provider_regions(root, default_region)
        for instance in root.instances():
            region = regions.get(instance.provider) or regions.get("aws") or default_region
            attrs = plain(instance.attrs)
            own = attrs.get("region")
            if isinstance(own, str) and own:
                region = own
            out.append(
                ResourceInput(
                    instance.address,
                    instance.type,
                    attrs,
                    region,
                    _refs(instance),
                    unknown_count=instance.unknown,
                )
            )
    return out
