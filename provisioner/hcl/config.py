"""Parse a Terraform configuration (a map of relative path -> HCL text) with python-hcl2.

Everything here is static: no terraform binary, no provider. Blocks keep the line range
python-hcl2 records, so every finding can name a file and a line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hcl2.api import loads as parse_hcl
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

Check = Literal["syntax", "preflight", "references", "terraform"]

META_KEYS = frozenset({"__start_line__", "__end_line__"})
CONFIG_SUFFIXES = (".tf", ".tf.json")


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


@dataclass
class SourceFile:
    path: str
    text: str
    document: dict[str, Any] | None = None

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


@dataclass
class Configuration:
    files: list[SourceFile] = field(default_factory=list)
    syntax_errors: list[Finding] = field(default_factory=list)

    def file(self, path: str) -> SourceFile | None:
        return next((f for f in self.files if f.path == path), None)

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
        for number in range(start, (end or start) + 1):
            if number - 1 < len(lines) and regex.search(lines[number - 1]):
                return number
        return start


# How many labels each top-level block kind carries.
_LABEL_DEPTH = {
    "resource": 2,
    "data": 2,
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


def _unwrap(kind: str, entry: Any, path: str, depth: int, labels: tuple[str, ...] = ()) -> Iterator[Block]:
    if not isinstance(entry, dict):
        return
    if depth == 0:
        yield Block(kind, labels, entry, path)
        return
    for label, inner in entry.items():
        if label in META_KEYS:
            continue
        yield from _unwrap(kind, inner, path, depth - 1, (*labels, label))


def is_config_file(path: str) -> bool:
    return path.endswith(CONFIG_SUFFIXES)


def load_configuration(files: Mapping[str, str]) -> Configuration:
    """Parse every ``.tf``/``.tf.json`` file; syntax errors become findings, not exceptions."""
    configuration = Configuration()
    for path in sorted(files):
        if not is_config_file(path):
            continue
        source = SourceFile(path=path, text=files[path])
        configuration.files.append(source)
        try:
            source.document = _parse(path, source.text)
        except SyntaxProblem as problem:
            configuration.syntax_errors.append(
                Finding("syntax", "syntax_error", problem.message, path, problem.line, problem.column)
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


class SyntaxProblem(Exception):
    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def _parse(path: str, text: str) -> dict[str, Any]:
    if path.endswith(".json"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SyntaxProblem(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from exc
        if not isinstance(document, dict):
            raise SyntaxProblem("a .tf.json file must hold a JSON object", 1, 1)
        return _json_to_hcl_shape(document)
    try:
        document = parse_hcl(text, with_meta=True)
    except UnexpectedInput as exc:
        raise SyntaxProblem(
            _describe_lark_error(exc), getattr(exc, "line", None), getattr(exc, "column", None)
        ) from exc
    except Exception as exc:
        raise SyntaxProblem(f"cannot parse HCL: {exc}".splitlines()[0], None, None) from exc
    return dict(document)


def _describe_lark_error(exc: UnexpectedInput) -> str:
    if isinstance(exc, UnexpectedEOF):
        return "unexpected end of file: a block or expression is not closed"
    if isinstance(exc, UnexpectedToken):
        token = str(exc.token).strip() or exc.token.type
        return f"unexpected {token[:40]!r}"
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected character {exc.char!r}"
    return "invalid HCL syntax"


def _json_to_hcl_shape(document: dict[str, Any]) -> dict[str, Any]:
    """JSON syntax nests blocks as objects; give them the list-of-entries shape python-hcl2 uses."""
    shaped: dict[str, Any] = {}
    for kind, value in document.items():
        if kind.startswith("//"):
            continue
        shaped[kind] = value if isinstance(value, list) else [value]
    return shaped


def iter_strings(value: Any) -> Iterator[str]:
    """Every string inside an attribute value or block body (expressions come out as strings)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key in META_KEYS:
                continue
            yield key
            yield from iter_strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from iter_strings(inner)


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
