"""Terraform's JSON syntax (``.tf.json``) read as terraform reads it, into python-hcl2's shape.

HCL's JSON rules (hashicorp/hcl json/spec.md): a body is an object or an array of objects; each
label level of a block is an object, or an array of objects, whose keys are the labels; the value
after the labels is one body or an array of bodies; ``null`` means no block; ``"//"`` is a
comment in a body (and a label anywhere else); a key given twice is kept twice. Python's json
keeps only the last of duplicate keys, so objects are read with every pair (duplicates become
a ``Repeated`` list) and with the line of each key, for findings.

Which keys are blocks comes from a schema; terraform's own blocks are listed here. Blocks that
providers define stay JSON values (an object or a list of objects), which the checks read too.
"""

from __future__ import annotations

import bisect
import json
import json.scanner
import re
from collections.abc import Callable, Iterator
from json.decoder import JSONObject  # type: ignore[attr-defined]  # json's own object parser
from typing import Any

from core.hcl.document import END_LINE, START_LINE, Body, SyntaxProblem, check_depth, collection_paused

# (labels, schema of the body) of each block type terraform defines, by the schema of the parent.
_BLOCKS: dict[str, dict[str, tuple[int, str]]] = {
    "root": {
        "resource": (2, "resource"),
        "data": (2, "resource"),
        "ephemeral": (2, "resource"),
        "provider": (1, "provider"),
        "variable": (1, "variable"),
        "output": (1, "output"),
        "module": (1, "plain"),
        "check": (1, "check"),
        "import": (0, "plain"),
        "moved": (0, "plain"),
        "removed": (0, "removed"),
        "locals": (0, "plain"),
        "terraform": (0, "terraform"),
    },
    "resource": {
        "provisioner": (1, "provisioner"),
        "connection": (0, "plain"),
        "lifecycle": (0, "lifecycle"),
    },
    "removed": {"provisioner": (1, "provisioner"), "connection": (0, "plain"), "lifecycle": (0, "plain")},
    "provisioner": {"connection": (0, "plain")},
    "lifecycle": {"precondition": (0, "plain"), "postcondition": (0, "plain")},
    "terraform": {
        "backend": (1, "plain"),
        "cloud": (0, "cloud"),
        "required_providers": (0, "plain"),
        "provider_meta": (1, "plain"),
    },
    "cloud": {"workspaces": (0, "plain")},
    "check": {"data": (2, "resource"), "assert": (0, "plain")},
    "provider": {
        "assume_role": (0, "plain"),
        "assume_role_with_web_identity": (0, "plain"),
        "endpoints": (0, "plain"),
        "default_tags": (0, "plain"),
        "ignore_tags": (0, "plain"),
    },
    "variable": {"validation": (0, "plain")},
    "output": {"precondition": (0, "plain")},
    "plain": {},
}


class JsonObject(dict[str, Any]):
    """A JSON object with every pair kept: where it starts and ends, and the line of each key."""

    __slots__ = ("end_line", "key_lines", "line")

    def __init__(self, line: int, end_line: int) -> None:
        super().__init__()
        self.line = line
        self.end_line = end_line
        self.key_lines: dict[str, int] = {}


class Repeated(list[Any]):
    """Every value of a key given more than once in one object, in order."""


def parse_json(text: str) -> Body:
    """A ``.tf.json`` file in python-hcl2's shape; raises SyntaxProblem."""
    with collection_paused():
        try:
            value = _decode(text)
        except json.JSONDecodeError as exc:
            raise SyntaxProblem(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from exc
        except RecursionError as exc:
            raise SyntaxProblem("invalid JSON: nested too deeply", None) from exc
        except ValueError as exc:
            raise SyntaxProblem(f"invalid JSON: {exc}", None) from exc
        check_depth(value)
        try:
            return _Shaper().root(value)
        except RecursionError as exc:
            raise SyntaxProblem("blocks are nested too deeply", None, code="json_structure") from exc


def _decode(text: str) -> Any:
    newlines = [match.start() for match in re.finditer("\n", text)]

    def line_at(offset: int) -> int:
        return bisect.bisect_left(newlines, offset) + 1

    def parse_object(  # noqa: PLR0917 - the signature json's scanner calls
        s_and_end: tuple[str, int],
        strict: bool,
        scan_once: Callable[[str, int], tuple[Any, int]],
        object_hook: Any,
        object_pairs_hook: Any,
        memo: dict[str, str] | None = None,
    ) -> tuple[JsonObject, int]:
        start = s_and_end[1]
        positions: list[int] = []

        def scan(string: str, index: int) -> tuple[Any, int]:
            positions.append(index)
            return scan_once(string, index)

        pairs, end = JSONObject(s_and_end, strict, scan, None, list, memo)
        result = JsonObject(line_at(start), line_at(end - 1))
        for (key, value), position in zip(pairs, positions, strict=False):
            if key in result:
                existing = result[key]
                if isinstance(existing, Repeated):
                    existing.append(value)
                else:
                    result[key] = Repeated([existing, value])
            else:
                result[key] = value
                result.key_lines[key] = line_at(position)
        return result, end

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON value")

    decoder = json.JSONDecoder(parse_constant=refuse_constant)
    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    # The pure-Python scanner calls parse_object (the C one does not): a few times slower, linear.
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder.decode(text)


class _Shaper:
    """JSON values to python-hcl2's shape, by terraform's block schema."""

    def root(self, value: Any) -> Body:
        result = Body()
        for obj in self._bodies("the file", value, 1):
            body = self._body(obj, "root")
            for key, entries in body.items():
                if key in (START_LINE, END_LINE):
                    continue
                result.setdefault(key, []).extend(entries)
                result.lines.setdefault(key, body.lines.get(key, obj.line))
        return result

    def _body(self, obj: JsonObject, schema: str) -> Body:
        body = Body()
        body[START_LINE] = obj.line
        body[END_LINE] = obj.end_line
        blocks = _BLOCKS[schema]
        for key, value in obj.items():
            if key == "//":
                continue
            line = obj.key_lines.get(key, obj.line)
            if key == "dynamic" and schema != "root":
                entries = self._dynamic(value, blocks, line)
            elif key in blocks:
                labels, child = blocks[key]
                entries = self._blocks(key, value, labels, child, line)
            elif schema == "root":
                raise SyntaxProblem(
                    f'"{key}" is not a block type terraform knows', line, code="json_structure"
                )
            else:
                body[key] = value
                body.lines[key] = line
                continue
            if entries:
                body[key] = entries
                body.lines[key] = line
        return body

    def _dynamic(self, value: Any, blocks: dict[str, tuple[int, str]], line: int) -> list[Any]:
        """``"dynamic": {"X": {"for_each": ..., "content": {...}}}``: content is read as an X block."""
        entries: list[Any] = []
        for labels, inner in self._labels("dynamic", value, 1, line):
            generated = blocks.get(labels[0], (0, "plain"))[1]
            for obj in self._bodies("dynamic", inner, line):
                body = self._body(obj, "plain")
                content = obj.get("content")
                if content is not None:
                    body.pop("content", None)
                    body["content"] = [
                        self._body(c, generated) for c in self._bodies("content", content, line)
                    ]
                entries.append({labels[0]: body})
        return entries

    def _blocks(self, kind: str, value: Any, labels: int, schema: str, line: int) -> list[Any]:
        entries: list[Any] = []
        for names, inner in self._labels(kind, value, labels, line):
            for obj in self._bodies(kind, inner, line):
                entry: Any = self._body(obj, schema)
                for name in reversed(names):
                    entry = {name: entry}
                entries.append(entry)
        return entries

    def _labels(self, kind: str, value: Any, count: int, line: int) -> list[tuple[tuple[str, ...], Any]]:
        level: list[tuple[tuple[str, ...], Any]] = [((), value)]
        for _ in range(count):
            level = [
                ((*names, key), inner)
                for names, outer in level
                for key, inner in self._pairs(kind, outer, line)
            ]
        return level

    def _pairs(self, kind: str, value: Any, line: int) -> Iterator[tuple[str, Any]]:
        """The properties of a label level (an object or array of objects), "//" included."""
        for obj in self._objects(kind, value, line, "labels"):
            for key, inner in obj.items():
                for each in inner if isinstance(inner, Repeated) else [inner]:
                    yield key, each

    def _bodies(self, kind: str, value: Any, line: int) -> list[JsonObject]:
        return list(self._objects(kind, value, line, "a body"))

    def _objects(self, kind: str, value: Any, line: int, what: str) -> Iterator[JsonObject]:
        if value is None:
            return
        if isinstance(value, JsonObject):
            yield value
            return
        if isinstance(value, list):
            for item in value:
                if isinstance(item, Repeated | list) and isinstance(value, Repeated):
                    yield from self._objects(kind, item, line, what)
                elif isinstance(item, JsonObject):
                    yield item
                else:
                    raise SyntaxProblem(
                        f'"{kind}" must be given as objects ({what}); an array holds {_type(item)}',
                        line,
                        code="json_structure",
                    )
            return
        raise SyntaxProblem(
            f'"{kind}" must be an object or an array of objects ({what}), not {_type(value)}',
            line,
            code="json_structure",
        )


def _type(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    return "null" if value is None else "an object"
