"""What the HCL and JSON readers share: block bodies with lines, the syntax problem they raise,
and the guards that keep parsing linear in the size of the input."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

START_LINE = "__start_line__"
END_LINE = "__end_line__"
META_KEYS = frozenset({START_LINE, END_LINE})
# Deeper than any real configuration; keeps every recursive consumer of a document safe.
MAX_DEPTH = 200


class Body(dict[str, Any]):
    """A block body (a plain dict to every consumer); ``lines`` has the line of each attribute
    and of the first nested block of each type."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[str, int] = {}

    @property
    def start_line(self) -> int | None:
        line = self.get(START_LINE)
        return line if isinstance(line, int) else None

    def line_of(self, key: str) -> int | None:
        return self.lines.get(key, self.start_line)


class SyntaxProblem(Exception):
    """A file terraform would refuse to read, or that the checks cannot read as terraform does."""

    def __init__(self, message: str, line: int | None, column: int | None = None, code: str = "syntax_error"):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.code = code


@contextmanager
def collection_paused() -> Iterator[None]:
    """Parsing allocates millions of acyclic objects; the cyclic GC then makes it super-linear."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_depth(document: Any) -> None:
    """Refuse documents nested deeper than MAX_DEPTH, without recursing."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SyntaxProblem(f"values or blocks are nested more than {MAX_DEPTH} levels deep", None)
        if isinstance(value, dict):
            stack.extend((inner, depth + 1) for inner in value.values() if isinstance(inner, dict | list))
        elif isinstance(value, list):
            stack.extend((inner, depth + 1) for inner in value if isinstance(inner, dict | list))
