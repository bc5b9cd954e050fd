"""Parse a Terraform configuration (a map of relative path -> text) as terraform reads it.

Everything here is static: no terraform binary, no provider. ``.tf`` files go through
python-hcl2's grammar (native.py), ``.tf.json`` through terraform's JSON rules (jsonsyntax.py);
both give python-hcl2's shape, strings decoded as terraform decodes them (syntax.py). Every
other text file is kept as a possible template for ``templatefile()``. Bodies record the line of
each attribute and block, so every finding can name a file and a line.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from core.hcl.document import META_KEYS, Body, SyntaxProblem
from core.hcl.jsonsyntax import parse_json
from core.hcl.native import parse_native

__all__ = [
    "CONFIG_SUFFIXES",
    "META_KEYS",
    "Block",
    "Body",
    "Check",
    "Configuration",
    "Finding",
    "SourceFile",
    "SyntaxProblem",
    "is_config_file",
    "iter_strings",
    "load_configuration",
    "load_directory",
    "located_strings",
    "nested_blocks",
]

Check = Literal["syntax", "preflight", "references", "terraform"]

# OpenTofu reads .tofu files as well (and prefers them to a .tf of the same name).
CONFIG_SUFFIXES = (".tf", ".tf.json", ".tofu", ".tofu.json")


@dataclass(frozen=True)
class Finding:
    """One problem in the configuration, with where it is and which check found it."""

    check: Check
    code: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def location(self) -> str:
        if self.file is None:
            return ""
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def describe(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
        }


@dataclass(frozen=True)
class Block:
    """A top-level block: ``resource "aws_s3_bucket" "b" { ... }`` has labels ("aws_s3_bucket", "b")."""

    kind: str
    labels: tuple[str, ...]
    body: dict[str, Any]
    file: str

    @property
    def start_line(self) -> int | None:
        line = self.body.get("__start_line__")
        return int(line) if isinstance(line, int) else None

    @property
    def end_line(self) -> int | None:
        line = self.body.get("__end_line__")
        return int(line) if isinstance(line, int) else None

    @property
    def module_dir(self) -> str:
        """The directory of the module the block belongs to ("" for the root module)."""
        return posixpath.dirname(self.file)

    def line_of(self, key: str) -> int | None:
        """The line of an attribute or nested block of the body, else of the block."""
        if isinstance(self.body, Body):
            return self.body.lines.get(key, self.start_line)
        return self.start_line


@dataclass
class SourceFile:
    path: str
    text: str
    document: dict[str, Any] | None = None

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @cached_property
    def _newlines(self) -> list[int]:
        return [match.start() for match in re.finditer("\n", self.text)]

    def line_at(self, offset: int) -> int:
        """The line of a character offset into the text."""
        return bisect.bisect_left(self._newlines, offset) + 1


@dataclass
class Configuration:
    files: list[SourceFile] = field(default_factory=list)
    syntax_errors: list[Finding] = field(default_factory=list)
    # Every other text file of the workspace: any of them can be given to templatefile().
    templates: list[SourceFile] = field(default_factory=list)

    def file(self, path: str) -> SourceFile | None:
        return self._index.get(path)

    @property
    def _index(self) -> dict[str, SourceFile]:
        index: dict[str, SourceFile] = self.__dict__.get("_by_path", {})
        if len(index) != len(self.files) + len(self.templates):
            index = {source.path: source for source in (*self.files, *self.templates)}
            self.__dict__["_by_path"] = index
        return index

    def paths(self) -> list[str]:
        """Every file of the workspace, configuration and not."""
        return [source.path for source in (*self.files, *self.templates)]

    def blocks(self, kind: str | None = None) -> Iterator[Block]:
        """Top-level blocks of every parsed file, labels unwrapped."""
        for source in self.files:
            if source.document is None:
                continue
            for block_kind, entries in source.document.items():
                if kind is not None and block_kind != kind:
                    continue
                if not isinstance(entries, list):
                    continue
                for entry in entries:
                    yield from _unwrap(block_kind, entry, source.path, _LABEL_DEPTH.get(block_kind, 0))

    def locate(self, block: Block, pattern: str) -> int | None:
        """First line inside the block whose text matches the pattern (attribute-level precision)."""
        source = self.file(block.file)
        start, end = block.start_line, block.end_line
        if source is None or start is None:
            return start
        lines = source.lines
        regex = re.compile(pattern)
        for number in range(start, min((end or start) + 1, len(lines) + 1)):
            if regex.search(lines[number - 1]):
                return number
        return start

    def find_line(self, path: str, line: int | None, needle: str, *, span: int = 50) -> int | None:
        """The first line from ``line`` on, within ``span`` lines, that contains the text; else ``line``.

        Bounded, so that locating every finding stays linear in the size of the file.
        """
        source = self.file(path)
        if source is None or line is None:
            return line
        lines = source.lines
        for number in range(line, min(line + span, len(lines) + 1)):
            if needle in lines[number - 1]:
                return number
        return line


# How many labels each top-level block kind carries.
_LABEL_DEPTH = {
    "resource": 2,
    "data": 2,
    "ephemeral": 2,
    "provider": 1,
    "variable": 1,
    "output": 1,
    "module": 1,
    "check": 1,
    "import": 0,
    "moved": 0,
    "removed": 0,
    "locals": 0,
    "terraform": 0,
}


def _unwrap(kind: str, entry: Any, path: str, depth: int) -> Iterator[Block]:
    """Label levels down to the body. Parsed bodies are Body instances, so a block with a wrong
    number of labels (which terraform refuses) is still found and checked."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(entry, ())]
    while stack:
        value, labels = stack.pop()
        if not isinstance(value, dict):
            continue
        if isinstance(value, Body) or (len(labels) >= depth and not _holds_body(value)):
            yield Block(kind, labels, value, path)
            continue
        if len(labels) >= 3:
            continue
        stack.extend(
            (inner, (*labels, label)) for label, inner in reversed(value.items()) if label not in META_KEYS
        )


def _holds_body(value: dict[str, Any]) -> bool:
    return any(isinstance(inner, Body) for inner in value.values())


def is_config_file(path: str) -> bool:
    return path.endswith(CONFIG_SUFFIXES)


def load_configuration(files: Mapping[str, str]) -> Configuration:
    """Parse every configuration file; syntax errors become findings, not exceptions."""
    configuration = Configuration()
    for path in sorted(files):
        source = SourceFile(path=path, text=files[path])
        if not is_config_file(path):
            configuration.templates.append(source)
            continue
        configuration.files.append(source)
        try:
            source.document = _parse(path, source.text)
        except SyntaxProblem as problem:
            configuration.syntax_errors.append(
                Finding("syntax", problem.code, problem.message, path, problem.line, problem.column)
            )
    return configuration


def load_directory(directory: Path) -> Configuration:
    """The root module of a directory: its own ``.tf`` files, not sub-directories."""
    files = {
        path.name: path.read_text(encoding="utf-8", errors="replace")
        for path in sorted(directory.iterdir())
        if path.is_file() and is_config_file(path.name)
    }
    return load_configuration(files)


def _parse(path: str, text: str) -> dict[str, Any]:
    return parse_json(text) if path.endswith(".json") else parse_native(text)


def iter_strings(value: Any) -> Iterator[str]:
    """Every string inside an attribute value or block body (expressions come out as strings)."""
    for text, _line in located_strings(value, None):
        yield text


def located_strings(value: Any, line: int | None) -> Iterator[tuple[str, int | None]]:
    """Every string (object keys included) with the line of the attribute or block it is in.

    Iterative: documents can be deep, and one walk per block keeps the checks linear.
    """
    stack: list[tuple[Any, int | None]] = [(value, line)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            yield item, where
        elif isinstance(item, Body):
            here = item.start_line or where
            for key, inner in reversed(item.items()):
                if key not in META_KEYS:
                    stack.append((inner, item.lines.get(key, here)))
        elif isinstance(item, dict):
            for key, inner in reversed(item.items()):
                if key not in META_KEYS:
                    stack.append((inner, where))
                    stack.append((key, where))
        elif isinstance(item, list):
            stack.extend((inner, where) for inner in reversed(item))


def nested_blocks(
    body: dict[str, Any], name: str, *, labelled: bool = False
) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """Nested blocks of one type inside a body: ``provisioner "local-exec" {}`` -> ("local-exec", {...})."""
    entries = body.get(name)
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list):
        return
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if not labelled:
            yield None, entry
            continue
        for label, inner in entry.items():
            if label not in META_KEYS and isinstance(inner, dict):
                yield label, inner
