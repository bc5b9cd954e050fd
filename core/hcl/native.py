"""HCL native syntax: python-hcl2's grammar and transformer, with strings decoded as terraform does.

python-hcl2's own decoding is lossy (``\\uNNNN`` kept, escapes replaced one after another, heredocs
decoded like quoted strings, nested lists printed as Python reprs). The transformer here keeps its
output shape (``{"resource": [{"type": {"name": {...}}}]}``, expressions as ``${...}`` strings)
and fixes what it gets wrong; see syntax.py for the string forms.

The transformer runs inside the LALR parser (lark's ``transformer=`` option): no parse tree is
built, which is about 2.5 times faster and never recurses, so deep nesting cannot exhaust the
stack. Lines come from the identifier tokens instead of lark's position propagation.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any, NamedTuple

import hcl2
from hcl2.transformer import DictTransformer
from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.visitors import Discard

from core.hcl.document import END_LINE, START_LINE, Body, SyntaxProblem, check_depth, collection_paused
from core.hcl.syntax import (
    DecodeError,
    Part,
    quote_template,
    render_template,
    template_literal,
    template_parts,
)

# Expression text python-hcl2 may build per byte of input: nesting copies text once per level,
# so a chain of operators would otherwise cost quadratic time.
_BUDGET_PER_BYTE = 64
_BUDGET_BASE = 1 << 20
_TYPE_KEYWORDS = frozenset({"bool", "number", "string"})


class _Name(str):
    """An identifier, with the line it is on."""

    line: int

    def __new__(cls, value: str, line: int) -> _Name:
        name = super().__new__(cls, value)
        name.line = line
        return name


class _Quoted(str):
    """A string literal or heredoc: the text is HCL source (for expressions), ``template`` its value."""

    template: str

    def __new__(cls, source: str, template: str) -> _Quoted:
        quoted = super().__new__(cls, source)
        quoted.template = template
        return quoted


class _Interp(NamedTuple):
    expression: str


class _Attribute(NamedTuple):
    key: str
    value: Any
    line: int


class _Block(NamedTuple):
    kind: str
    value: Any
    line: int
    end_line: int


class _Transformer(DictTransformer):
    """python-hcl2's DictTransformer, inline in the parser, decoding strings as terraform does."""

    def __init__(self) -> None:
        super().__init__(with_meta=False)
        self.budget = 0

    def _spend(self, text: str) -> str:
        self.budget -= len(text)
        if self.budget < 0:
            raise SyntaxProblem("an expression is too complex to check (too deeply nested)", None)
        return text

    @staticmethod
    def _strip(args: list[Any]) -> list[Any]:
        return [arg for arg in args if arg is not Discard and not (isinstance(arg, str) and arg == "\n")]

    # Names, strings and templates ----------------------------------------------------------

    def identifier(self, args: list[Any]) -> _Name:
        token = args[0]
        return _Name(str(token), token.line)

    def string_part(self, args: list[Any]) -> list[Part]:  # type: ignore[override]
        part = args[0]
        if isinstance(part, _Interp):
            return [Part("sequence", "${" + part.expression + "}")]
        raw = str(part)
        try:
            if part.type == "ESCAPED_INTERPOLATION":
                # python-hcl2's "$${...}" token runs to the first "}": only "$${" is the escape.
                return [Part("text", "${"), *template_parts(raw[3:], quoted=True)]
            return template_parts(raw, quoted=True)
        except DecodeError as exc:
            code = "invalid_escape" if exc.escape else "syntax_error"
            raise SyntaxProblem(str(exc), part.line, part.column, code) from exc

    def interpolation(self, args: list[Any]) -> _Interp:  # type: ignore[override]
        return _Interp(self._spend(self.to_tf_inline(self._strip(args)[0])))

    def string(self, args: list[Any]) -> _Quoted:
        parts = [part for chunk in args for part in chunk]
        return _Quoted(self._spend(quote_template(parts)), render_template(parts))

    def _heredoc(self, text: str, token: Any) -> _Quoted:
        body = text[1:-1]
        try:
            parts = template_parts(body, quoted=False)
        except DecodeError as exc:
            raise SyntaxProblem(str(exc), getattr(token, "line", None), None) from exc
        return _Quoted(self._spend(quote_template(parts)), render_template(parts))

    def heredoc_template(self, args: list[Any]) -> _Quoted:
        return self._heredoc(super().heredoc_template(args), args[0])

    def heredoc_template_trim(self, args: list[Any]) -> _Quoted:
        return self._heredoc(super().heredoc_template_trim(args), args[0])

    def to_string_dollar(self, value: Any) -> Any:
        if isinstance(value, _Quoted):
            return value.template
        if isinstance(value, str):
            return str(value) if value in _TYPE_KEYWORDS else f"${{{value}}}"
        return value

    def strip_quotes(self, value: Any) -> Any:
        return value.template if isinstance(value, _Quoted) else value

    def process_escape_sequences(self, value: str) -> str:
        return value

    def to_tf_inline(self, value: Any) -> str:
        """Expression text: nested strings as HCL literals, lists and objects as HCL, not reprs."""
        if isinstance(value, str):
            return str(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        if value is None:
            return "null"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, dict):
            items = ", ".join(f"{self._inline_key(k)}: {self._inline_value(v)}" for k, v in value.items())
            # ":" as python-hcl2 prints objects (json.dumps); HCL reads ":" and "=" alike.
            return self._spend("{" + items + "}")
        if isinstance(value, list):
            return self._spend("[" + ", ".join(self._inline_value(v) for v in value) + "]")
        raise SyntaxProblem(f"cannot read an expression of type {type(value).__name__}", None)

    def _inline_value(self, value: Any) -> str:
        """A value already in document form (strings in template form) back as expression text."""
        if isinstance(value, str):
            if value in _TYPE_KEYWORDS:
                return value
            return quote_template(template_parts(value, quoted=False))
        return self.to_tf_inline(value)

    def _inline_key(self, key: str) -> str:
        if key.startswith("${(") and key.endswith(")}"):
            return key[2:-1]
        return quote_template(template_parts(key, quoted=False))

    # Expressions: python-hcl2's, printing sub-expressions as HCL and counting what they cost ----

    def float_lit(self, args: list[Any]) -> float | str:  # type: ignore[override]
        value = "".join(self.to_tf_inline(arg) for arg in args)
        # An exponent has no exact float: keep it as expression text (to_string_dollar wraps it).
        return value if "e" in value.lower() else float(value)

    def expr_term(self, args: list[Any]) -> Any:
        args = self._strip(args)
        first = args[0]
        if isinstance(first, str) and not isinstance(first, _Quoted):
            if first == "true":
                return True
            if first == "false":
                return False
            if first == "null":
                return None
            if first == "(" and len(args) == 3:
                return self._spend("(" + self.to_tf_inline(args[1]) + ")")
        return first

    def conditional(self, args: list[Any]) -> str:
        condition, yes, no = (self.to_tf_inline(arg) for arg in self._strip(args))
        return self._spend(f"{condition} ? {yes} : {no}")

    def binary_op(self, args: list[Any]) -> str:
        return self._spend(
            " ".join(self.unwrap_string_dollar(self.to_tf_inline(arg)) for arg in self._strip(args))
        )

    def binary_term(self, args: list[Any]) -> str:
        return self._spend(" ".join(self.to_tf_inline(arg) for arg in self._strip(args)))

    def unary_op(self, args: list[Any]) -> str:
        return self._spend("".join(self.to_tf_inline(arg) for arg in self._strip(args)))

    def index_expr_term(self, args: list[Any]) -> str:
        args = self._strip(args)
        return self._spend(self.to_tf_inline(args[0]) + str(args[1]))

    def index(self, args: list[Any]) -> str:
        args = self._strip(args)
        if all(isinstance(arg, Token) for arg in args):
            return "[" + "".join(args) + "]"
        return self._spend("[" + self.to_tf_inline(args[0]) + "]")

    def get_attr_expr_term(self, args: list[Any]) -> str:
        return self._spend(self.to_tf_inline(args[0]) + str(args[1]))

    def attr_splat_expr_term(self, args: list[Any]) -> str:
        return self._spend(self.to_tf_inline(args[0]) + str(args[1]))

    def full_splat_expr_term(self, args: list[Any]) -> str:
        return self._spend(self.to_tf_inline(args[0]) + str(args[1]))

    def arguments(self, args: list[Any]) -> list[Any]:
        # A last argument written ``xs...`` (expanded into arguments): keep the "..." on it.
        if len(args) > 1 and isinstance(args[-1], Token) and args[-1].type == "ELLIPSIS":
            return [*args[:-2], self.to_tf_inline(args[-2]) + "..."]
        return list(super().arguments(args))

    def function_call(self, args: list[Any]) -> str:
        return self._spend(str(super().function_call(args)))

    def provider_function_call(self, args: list[Any]) -> str:
        return self._spend(str(super().provider_function_call(args)))

    def for_tuple_expr(self, args: list[Any]) -> str:
        return self._spend(str(super().for_tuple_expr(args)))

    def for_object_expr(self, args: list[Any]) -> str:
        return self._spend(str(super().for_object_expr(args)))

    def for_intro(self, args: list[Any]) -> str:
        return self._spend(str(super().for_intro(args)))

    def for_cond(self, args: list[Any]) -> str:
        return self._spend(str(super().for_cond(args)))

    def object_elem_key_expression(self, args: list[Any]) -> str:
        inner = [
            arg for arg in self._strip(args) if not (isinstance(arg, Token) and arg.type in ("LPAR", "RPAR"))
        ]
        return f"${{({self.to_tf_inline(inner[0])})}}"

    def object_elem(self, args: list[Any]) -> dict[str, Any]:
        key = args[0].children[0]
        text = key.template if isinstance(key, _Quoted) else self.to_tf_inline(key)
        return {text: self.to_string_dollar(args[2])}

    # Structure: attributes and blocks with their lines ---------------------------------------

    def attribute(self, args: list[Any]) -> _Attribute:  # type: ignore[override]
        name = args[0]
        return _Attribute(str(name), self.to_string_dollar(args[2]), name.line)

    def block(self, args: list[Any]) -> _Block:
        kind, *labels, body = self._strip(args)
        names: list[str] = []
        for label in labels:
            if isinstance(label, _Quoted):
                literal = template_literal(label.template)
                if literal is None:
                    raise SyntaxProblem(
                        f'a label of the "{kind}" block is a template ({label}); labels must be literal',
                        kind.line,
                        code="non_literal_label",
                    )
                names.append(literal)
            else:
                names.append(str(label))
        end_line = max(body.end_line, kind.line)
        body[START_LINE] = kind.line
        body[END_LINE] = end_line
        value: Any = body
        for name in reversed(names):
            value = {name: value}
        return _Block(str(kind), value, kind.line, end_line)

    def body(self, args: list[Any]) -> _LinedBody:
        result = _LinedBody()
        attributes: set[str] = set()
        for arg in args:
            if isinstance(arg, _Attribute):
                if arg.key in result:
                    raise SyntaxProblem(f'"{arg.key}" is defined more than once', arg.line)
                result[arg.key] = arg.value
                result.lines[arg.key] = arg.line
                attributes.add(arg.key)
                result.end_line = max(result.end_line, arg.line)
            elif isinstance(arg, _Block):
                if arg.kind in attributes:
                    raise SyntaxProblem(f'"{arg.kind}" is both an argument and a block', arg.line)
                result.setdefault(arg.kind, []).append(arg.value)
                result.lines.setdefault(arg.kind, arg.line)
                result.end_line = max(result.end_line, arg.end_line)
        return result

    def start(self, args: list[Any]) -> Any:
        return self._strip(args)[0]


class _LinedBody(Body):
    """A body while it is built: also the last line it is known to reach."""

    __slots__ = ("end_line",)

    def __init__(self) -> None:
        super().__init__()
        self.end_line = 0


def parse_native(text: str) -> Body:
    """A ``.tf`` file as python-hcl2 shapes it, strings decoded; raises SyntaxProblem."""
    parser, transformer, lock = _parser()
    with lock, collection_paused():
        transformer.budget = _BUDGET_PER_BYTE * len(text) + _BUDGET_BASE
        try:
            # A trailing newline, as python-hcl2 adds: its grammar ends every body with one.
            document = parser.parse(text + "\n")
        except UnexpectedInput as exc:
            raise SyntaxProblem(
                _describe(exc), getattr(exc, "line", None), getattr(exc, "column", None)
            ) from exc
        except SyntaxProblem:
            raise
        except RecursionError as exc:
            raise SyntaxProblem("values are nested too deeply to check", None) from exc
        except Exception as exc:  # python-hcl2's transformer raises plain exceptions on what it cannot read
            raise SyntaxProblem(f"cannot parse HCL: {exc}".splitlines()[0], None) from exc
    if not isinstance(document, Body):
        raise SyntaxProblem("cannot parse HCL: the file is not a body", None)
    check_depth(document)
    return document


def _describe(exc: UnexpectedInput) -> str:
    if isinstance(exc, UnexpectedEOF):
        return "unexpected end of file: a block or expression is not closed"
    if isinstance(exc, UnexpectedToken):
        token = str(exc.token).strip() or exc.token.type
        return f"unexpected {token[:40]!r}"
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected character {exc.char!r}"
    return "invalid HCL syntax"


def warm_parser() -> None:
    """Build the parser now (a process's first parse otherwise pays ~0.1 s from lark's cache,
    ~1.5 s without it): for a long-lived process before its first request."""
    _parser()


@functools.lru_cache(maxsize=1)
def _parser() -> tuple[Lark, _Transformer, threading.Lock]:
    grammar = (Path(hcl2.__file__).parent / "hcl2.lark").read_text(encoding="utf-8")
    # python-hcl2 drops the "..." of an expanded last argument; a named terminal keeps it.
    grammar = grammar.replace('("," | "...")?', '("," | ELLIPSIS)?') + '\nELLIPSIS : "..."\n'
    transformer = _Transformer()
    cache = _cache_file(grammar)
    parser = Lark(grammar, parser="lalr", transformer=transformer, cache=cache if cache else False)
    # The transformer holds the budget of the parse under way: one parse at a time.
    return parser, transformer, threading.Lock()


def _cache_file(grammar: str) -> str | None:
    """lark's cache is a pickle: keep it where only this user can write, or do without it.
    Named by the grammar's digest: lark rebuilds (~1.5 s) a cache of another grammar, so two
    releases (or python-hcl2 versions) sharing one file would rebuild it on every start."""
    directory = Path(tempfile.gettempdir()) / f"provisioner-hcl-{os.getuid()}"
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        info = directory.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    digest = hashlib.sha256(grammar.encode()).hexdigest()[:16]
    return str(directory / f"hcl2-inline-{digest}.lark-cache")
