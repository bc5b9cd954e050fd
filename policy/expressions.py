"""Whether the plan's record of a provider setting can be trusted to the value of the variable it
refers to. Terraform's plan JSON keeps, for an expression it does not evaluate at plan time, only
the names it refers to: ``region = var.r`` and ``region = var.r == "a" ? "eu-west-1" : "x"`` both
read ``{"references": ["var.r"]}``. Only the code tells them apart, so the code is read here: the
references are trusted when every provider setting and module argument that refers to anything
is one bare variable."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from core.hcl.config import load_configuration

_BARE = re.compile(r"\$\{\s*var\.[A-Za-z_][A-Za-z0-9_-]*\s*\}")
# Module arguments terraform itself reads; not values passed to the module's variables.
_MODULE_META = frozenset({"source", "version", "providers", "count", "for_each", "depends_on"})


def _values(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not str(key).startswith("__"):
                yield from _values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _values(item)
    else:
        yield value


def _bare(value: Any) -> bool:
    """A literal, or exactly one variable."""
    return not (isinstance(value, str) and "${" in value) or bool(_BARE.fullmatch(value.strip()))


def bare_references(files: Mapping[str, str]) -> bool:
    """True when the plan's references in provider blocks and module calls stand for their
    variables; False (constants alone trusted) when any is an expression, or the code is unreadable."""
    configuration = load_configuration(files)
    if configuration.syntax_errors:
        return False
    for block in configuration.blocks("provider"):
        if not all(_bare(value) for value in _values(block.body)):
            return False
    for block in configuration.blocks("module"):
        arguments = {k: v for k, v in block.body.items() if k not in _MODULE_META and not k.startswith("__")}
        if not all(_bare(value) for value in _values(arguments)):
            return False
    return True
