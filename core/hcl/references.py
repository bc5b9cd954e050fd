"""References to things a module never declares: ``var.x``, ``local.x``, ``module.x``, resources, data.

Each directory is its own module scope. Only text inside ``${ ... }`` is read (python-hcl2 renders
every expression that way), so literal strings never count. Names bound by ``for`` expressions
and ``dynamic`` blocks are excluded; so is anything terraform defines itself.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from core.hcl.config import Block, Configuration, Finding, located_strings, nested_blocks

_REFERENCE = re.compile(
    r"(?<![\w.\"'])(?P<head>[A-Za-z_][\w-]*)\.(?P<name>[A-Za-z_][\w-]*)(?:\.(?P<third>[A-Za-z_][\w-]*))?"
)
_FOR_BINDING = re.compile(r"\bfor\s+([A-Za-z_][\w-]*)(?:\s*,\s*([A-Za-z_][\w-]*))?\s+in\b")
_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
BUILT_IN_HEADS = frozenset({"each", "count", "self", "path", "terraform", "provider"})


@dataclass
class ModuleScope:
    directory: str
    variables: set[str] = field(default_factory=set)
    locals: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)
    resources: set[str] = field(default_factory=set)
    data: set[str] = field(default_factory=set)
    resource_types: set[str] = field(default_factory=set)
    blocks: list[Block] = field(default_factory=list)


def check_references(configuration: Configuration) -> list[Finding]:
    """Every reference to an undeclared variable, local, module, resource or data source."""
    findings: list[Finding] = []
    for scope in _scopes(configuration).values():
        seen: set[tuple[str, int | None, str]] = set()
        for block in scope.blocks:
            for finding in _check_block(configuration, scope, block):
                key = (finding.file or "", finding.line, finding.message)
                if key not in seen:
                    seen.add(key)
                    findings.append(finding)
    return sorted(findings, key=lambda f: (f.file or "", f.line or 0, f.message))


def _scopes(configuration: Configuration) -> dict[str, ModuleScope]:
    scopes: dict[str, ModuleScope] = {}
    for block in configuration.blocks():
        directory = posixpath.dirname(block.file)
        scope = scopes.setdefault(directory, ModuleScope(directory))
        scope.blocks.append(block)
        if block.kind == "variable" and block.labels:
            scope.variables.add(block.labels[0])
        elif block.kind == "locals":
            scope.locals.update(k for k in block.body if not k.startswith("__"))
        elif block.kind == "module" and block.labels:
            scope.modules.add(block.labels[0])
        elif block.kind == "resource" and len(block.labels) == 2:
            scope.resources.add(".".join(block.labels))
            scope.resource_types.add(block.labels[0])
        elif block.kind == "data" and len(block.labels) == 2:
            scope.data.add(".".join(block.labels))
    return scopes


def _bound_names(block: Block) -> set[str]:
    """Iterator names of ``dynamic`` blocks anywhere in the block (``ingress.value``, custom iterators)."""
    names: set[str] = set()
    stack = [block.body]
    while stack:
        body = stack.pop()
        for label, inner in nested_blocks(body, "dynamic", labelled=True):
            if label:
                names.add(label)
            iterator = inner.get("iterator")
            if isinstance(iterator, str):
                names.add(iterator.strip("${}"))
            for content_label, content in nested_blocks(inner, "content"):
                del content_label
                stack.append(content)
        for value in body.values():
            if isinstance(value, list):
                stack.extend(item for item in value if isinstance(item, dict))
            elif isinstance(value, dict):
                stack.append(value)
    return names


def _expressions(text: str) -> Iterator[str]:
    """The contents of each ``${ ... }`` in a string, with nested braces balanced."""
    index = 0
    while True:
        start = text.find("${", index)
        if start < 0:
            return
        depth = 0
        position = start + 2
        while position < len(text):
            char = text[position]
            if char == "{":
                depth += 1
            elif char == "}":
                if depth == 0:
                    break
                depth -= 1
            position += 1
        yield text[start + 2 : position]
        index = position + 1


def _check_block(configuration: Configuration, scope: ModuleScope, block: Block) -> Iterator[Finding]:
    bound = _bound_names(block)
    missing: dict[str, tuple[str, int | None]] = {}
    for text, line in located_strings(block.body, block.start_line):
        for expression in _expressions(text):
            local_bound = bound | {
                n for match in _FOR_BINDING.finditer(expression) for n in match.groups() if n
            }
            # Quoted strings inside an expression ("a.b") are data, not references.
            bare = _STRING_LITERAL.sub('""', expression)
            for match in _REFERENCE.finditer(bare):
                problem = _problem(scope, match, local_bound)
                if problem:
                    missing.setdefault(problem[0], (problem[1], line))
    for needle, (message, line) in missing.items():
        # The attribute's line, or the line a few below it (a multi-line value) that names it.
        exact = configuration.find_line(block.file, line, needle)
        yield Finding("references", "undeclared_reference", message, block.file, exact)


_SCOPE_KINDS = {
    "var": ("variables", "input variable"),
    "local": ("locals", "local value"),
    "module": ("modules", "module"),
}


def _problem(scope: ModuleScope, match: re.Match[str], bound: set[str]) -> tuple[str, str] | None:
    head, name, third = match["head"], match["name"], match["third"]
    if head in bound or head in BUILT_IN_HEADS:
        return None
    if head in _SCOPE_KINDS:
        attribute, noun = _SCOPE_KINDS[head]
        declared = name in getattr(scope, attribute)
        needle, message = f"{head}.{name}", f'reference to undeclared {noun} "{name}" ({head}.{name})'
    elif head == "data":
        declared = not third or f"{name}.{third}" in scope.data
        needle = f"data.{name}.{third}"
        message = f'reference to undeclared data source "{needle}"'
    else:
        needle = f"{head}.{name}"
        declared = "_" not in head or needle in scope.resources or not _looks_like_resource(head, scope)
        message = f'reference to undeclared resource "{needle}"'
    return None if declared else (needle, message)


def _looks_like_resource(head: str, scope: ModuleScope) -> bool:
    """A resource type is ``<provider>_<name>``; only providers the module uses make it a reference."""
    providers = {name.split("_", 1)[0] for name in scope.resource_types | scope.data}
    return head.split("_", 1)[0] in providers or head.startswith(("aws_", "null_", "random_"))
