"""HCL expressions and templates: a parser of their text into nodes, and the nodes' evaluation.

python-hcl2 gives every expression back as text (``"${a * b + c}"``) and its own grammar has no
operator precedence (``a * b + c`` parses as ``a * (b + c)``), so the text is parsed here, by
precedence climbing over HCL's expression grammar (hashicorp/hcl, hclsyntax/spec.md):
literals, templates with ``${}``/``%{if}``/``%{for}`` and strip markers, tuples, objects,
references, function calls (``...`` expansion), index and attribute access, splats, for
expressions, unary, binary and conditional operators. Parsed nodes are cached by their text.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from core.hcl.functions import call as call_function
from core.hcl.values import (
    UNKNOWN,
    Budget,
    EvalError,
    Namespace,
    TfSet,
    Unknowable,
    check_text,
    equal,
    has_unknown,
    is_number,
    normal_number,
    sorted_items,
    to_bool,
    to_number,
    to_string,
    type_name,
)

# Binding power of each binary operator (HCL's spec: higher binds tighter).
_PRECEDENCE: Final = {
    "||": 1,
    "&&": 2,
    "==": 3,
    "!=": 3,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
_IDENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER: Final = re.compile(r"\d+(\.\d+)?([eE][+-]?\d+)?")
_DIGITS: Final = re.compile(r"\d+")
_SPACE: Final = re.compile(r"(?:[ \t\r\n]+|#[^\n]*|//[^\n]*|/\*.*?\*/)+", re.S)
_HEREDOC: Final = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_-]*)\r?\n")
_ESCAPES: Final = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
MAX_NESTING: Final = 100


class Env:
    """What names mean where an expression is evaluated: the roots (``var``, ``local``,
    ``each``...) and the variables of enclosing for expressions; and the evaluation's budget."""

    __slots__ = ("budget", "names", "roots")

    def __init__(
        self, roots: Mapping[str, Any], names: Mapping[str, Any] | None = None, budget: Budget | None = None
    ) -> None:
        self.roots = roots
        self.names: Mapping[str, Any] = names or {}
        self.budget = budget or Budget()

    def bind(self, names: Mapping[str, Any]) -> Env:
        return Env(self.roots, {**self.names, **names}, self.budget)

    def with_root(self, name: str, value: Any) -> Env:
        return Env({**self.roots, name: value}, self.names, self.budget)

    def lookup(self, name: str) -> Any:
        if name in self.names:
            return self.names[name]
        # Resource types, data, self: values known only after apply.
        return self.roots.get(name, UNKNOWN)


class Node:
    __slots__ = ()

    def evaluate(self, env: Env) -> Any:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Any

    def evaluate(self, env: Env) -> Any:
        return self.value


@dataclass(frozen=True, slots=True)
class Name(Node):
    name: str

    def evaluate(self, env: Env) -> Any:
        return env.lookup(self.name)


@dataclass(frozen=True, slots=True)
class Tuple(Node):
    items: tuple[Node, ...]

    def evaluate(self, env: Env) -> Any:
        return env.budget.check([item.evaluate(env) for item in self.items])


@dataclass(frozen=True, slots=True)
class Object(Node):
    items: tuple[tuple[Node, Node], ...]

    def evaluate(self, env: Env) -> Any:
        out: dict[str, Any] = {}
        for key_node, value_node in self.items:
            key = key_node.evaluate(env)
            if key is UNKNOWN:
                return UNKNOWN
            out[to_string(key)] = value_node.evaluate(env)
        return env.budget.check(out)


@dataclass(frozen=True, slots=True)
class GetAttr(Node):
    source: Node
    name: str

    def evaluate(self, env: Env) -> Any:
        return get_attribute(self.source.evaluate(env), self.name)


@dataclass(frozen=True, slots=True)
class Index(Node):
    source: Node
    key: Node

    def evaluate(self, env: Env) -> Any:
        return get_index(self.source.evaluate(env), self.key.evaluate(env))


@dataclass(frozen=True, slots=True)
class Splat(Node):
    """``source[*].a.b`` (and the legacy ``source.*.a``): the traversal after it, per element."""

    source: Node
    steps: tuple[tuple[str, Any], ...]  # ("attr", name) or ("index", Node)

    def evaluate(self, env: Env) -> Any:
        value = self.source.evaluate(env)
        if value is UNKNOWN:
            return UNKNOWN
        if value is None:
            return []
        items = list(value) if isinstance(value, list) else [value]
        out: list[Any] = []
        for item in items:
            result = item
            for kind, step in self.steps:
                result = (
                    get_attribute(result, step) if kind == "attr" else get_index(result, step.evaluate(env))
                )
            out.append(result)
        return out


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]
    expand: bool = False  # the last argument was written ``xs...``

    def evaluate(self, env: Env) -> Any:
        if self.name == "try":
            return self._try(env)
        if self.name == "can":
            return self._can(env)
        args = [arg.evaluate(env) for arg in self.args]
        if self.expand and args:
            last = args.pop()
            if last is UNKNOWN:
                return UNKNOWN
            if not isinstance(last, list):
                raise EvalError(f"{self.name}(...): only a list can be expanded, not a {type_name(last)}")
            args.extend(last)
        env.budget.spend()
        return env.budget.check(call_function(self.name, args))

    def _try(self, env: Env) -> Any:
        for arg in self.args:
            try:
                value = arg.evaluate(env)
            except EvalError:
                continue
            # terraform's try() cannot look past an unknown: it might yet fail.
            return value
        raise EvalError("try(): no argument could be evaluated without an error")

    def _can(self, env: Env) -> Any:
        if len(self.args) != 1:
            raise EvalError("can() takes 1 argument")
        try:
            value = self.args[0].evaluate(env)
        except EvalError:
            return False
        return UNKNOWN if has_unknown(value) else True


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str
    operand: Node

    def evaluate(self, env: Env) -> Any:
        value = self.operand.evaluate(env)
        if value is UNKNOWN:
            return UNKNOWN
        if self.op == "!":
            return not to_bool(value)
        return normal_number(-to_number(value))


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str
    left: Node
    right: Node

    def evaluate(self, env: Env) -> Any:
        op = self.op
        if op in ("&&", "||"):
            return self._logical(env)
        left, right = self.left.evaluate(env), self.right.evaluate(env)
        if op in ("==", "!="):
            if has_unknown(left) or has_unknown(right):
                return UNKNOWN
            return equal(left, right) == (op == "==")
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        return _ARITHMETIC[op](to_number(left), to_number(right))

    def _logical(self, env: Env) -> Any:
        # A known side that decides the result makes an unknown other side irrelevant.
        deciding = self.op == "||"
        left = self.left.evaluate(env)
        if left is not UNKNOWN and to_bool(left) == deciding:
            return deciding
        right = self.right.evaluate(env)
        if right is not UNKNOWN and to_bool(right) == deciding:
            return deciding
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        return not deciding


def _divide(a: float, b: float) -> Any:
    if b == 0:
        raise EvalError("division by zero")
    return normal_number(a / b)


def _modulo(a: float, b: float) -> Any:
    if b == 0:
        raise EvalError("modulo by zero")
    # The sign of the dividend, as terraform (Go) has it.
    return normal_number(math.fmod(a, b)) if isinstance(a, float) or isinstance(b, float) else _int_mod(a, b)


def _int_mod(a: int, b: int) -> int:
    remainder = abs(a) % abs(b)
    return -remainder if a < 0 else remainder


_ARITHMETIC: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "+": lambda a, b: normal_number(a + b),
    "-": lambda a, b: normal_number(a - b),
    "*": lambda a, b: normal_number(a * b),
    "/": _divide,
    "%": _modulo,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@dataclass(frozen=True, slots=True)
class Conditional(Node):
    condition: Node
    yes: Node
    no: Node

    def evaluate(self, env: Env) -> Any:
        condition = self.condition.evaluate(env)
        if condition is UNKNOWN:
            return UNKNOWN
        return self.yes.evaluate(env) if to_bool(condition) else self.no.evaluate(env)


@dataclass(frozen=True, slots=True)
class For(Node):
    """``[for k, v in xs : value if cond]`` and ``{for k, v in xs : key => value... if cond}``."""

    key_var: str | None
    value_var: str
    collection: Node
    value: Node
    key: Node | None = None  # an object for expression
    condition: Node | None = None
    group: bool = False

    def evaluate(self, env: Env) -> Any:
        collection = self.collection.evaluate(env)
        if collection is UNKNOWN:
            return UNKNOWN
        pairs = iteration_pairs(collection)
        tuple_out: list[Any] = []
        object_out: dict[str, Any] = {}
        for key, value in pairs:
            env.budget.spend()
            names = {self.value_var: value}
            if self.key_var is not None:
                names[self.key_var] = key
            inner = env.bind(names)
            if self.condition is not None:
                keep = self.condition.evaluate(inner)
                if keep is UNKNOWN:
                    return UNKNOWN
                if not to_bool(keep):
                    continue
            if self.key is None:
                tuple_out.append(self.value.evaluate(inner))
                continue
            name = self.key.evaluate(inner)
            if name is UNKNOWN:
                return UNKNOWN
            text = to_string(name)
            if self.group:
                object_out.setdefault(text, []).append(self.value.evaluate(inner))
            elif text in object_out:
                raise EvalError(f'duplicate key "{text}" in a for expression (add "..." to group them)')
            else:
                object_out[text] = self.value.evaluate(inner)
        return env.budget.check(tuple_out if self.key is None else object_out)


def iteration_pairs(collection: Any) -> list[tuple[Any, Any]]:
    """(key, value) as a for expression sees them: index for lists, key for maps, value for sets."""
    if isinstance(collection, TfSet):
        return [(item, item) for item in collection]
    if isinstance(collection, list):
        return list(enumerate(collection))
    if isinstance(collection, dict):
        return sorted_items(collection)
    raise EvalError(f"a for expression needs a collection, not a {type_name(collection)}")


@dataclass(frozen=True, slots=True)
class Template(Node):
    """A string template: literal text, interpolations and directives."""

    parts: tuple[Any, ...]  # str, Node (an interpolation), IfDirective or ForDirective

    def evaluate(self, env: Env) -> Any:
        if len(self.parts) == 1 and isinstance(self.parts[0], Node):
            return self.parts[0].evaluate(env)  # "${x}" is x itself, of whatever type
        return env.budget.check(render(self.parts, env))


@dataclass(frozen=True, slots=True)
class IfDirective:
    condition: Node
    yes: tuple[Any, ...]
    no: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class ForDirective:
    key_var: str | None
    value_var: str
    collection: Node
    body: tuple[Any, ...]


def render(parts: tuple[Any, ...], env: Env) -> Any:
    """The template's text; unknown if any part of it is."""
    out: list[str] = []
    length = 0
    for part in parts:
        if isinstance(part, str):
            piece: Any = part
        elif isinstance(part, Node):
            piece = _interpolate(part.evaluate(env))
        elif isinstance(part, IfDirective):
            condition = part.condition.evaluate(env)
            if condition is UNKNOWN:
                return UNKNOWN
            piece = render(part.yes if to_bool(condition) else part.no, env)
        else:
            piece = _render_for(part, env)
        if piece is UNKNOWN:
            return UNKNOWN
        length += len(piece)
        check_text(length)
        out.append(piece)
    return "".join(out)


def _interpolate(value: Any) -> Any:
    if value is UNKNOWN:
        return UNKNOWN
    if value is None:
        raise EvalError("a template cannot include a null value")
    try:
        return to_string(value)
    except Unknowable:
        return UNKNOWN


def _render_for(part: ForDirective, env: Env) -> Any:
    collection = part.collection.evaluate(env)
    if collection is UNKNOWN:
        return UNKNOWN
    pieces: list[str] = []
    for key, value in iteration_pairs(collection):
        env.budget.spend()
        names = {part.value_var: value}
        if part.key_var is not None:
            names[part.key_var] = key
        piece = render(part.body, env.bind(names))
        if piece is UNKNOWN:
            return UNKNOWN
        pieces.append(env.budget.check(piece))
    return "".join(pieces)


def get_attribute(value: Any, name: str) -> Any:
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, Namespace):
        return value.attribute(name)
    if isinstance(value, dict):
        if name in value:
            return value[name]
        raise EvalError(f'the object has no attribute "{name}"')
    if value is None:
        raise EvalError(f'cannot read "{name}" of a null value')
    raise EvalError(f'cannot read "{name}" of a {type_name(value)}')


def get_index(value: Any, key: Any) -> Any:
    if value is UNKNOWN or key is UNKNOWN:
        return UNKNOWN
    if isinstance(value, Namespace):
        return value.attribute(to_string(key))
    if isinstance(value, dict):
        text = to_string(key)
        if text in value:
            return value[text]
        raise EvalError(f'the map has no element "{text}"')
    if isinstance(value, TfSet):
        raise EvalError("elements of a set cannot be indexed (convert it with tolist())")
    if isinstance(value, list):
        number = to_number(key)
        if not isinstance(number, int) or not 0 <= number < len(value):
            raise EvalError(f"index {key} is outside a list of {len(value)}")
        return value[number]
    if value is None:
        raise EvalError("cannot index a null value")
    raise EvalError(f"cannot index a {type_name(value)}")


# Parsing -----------------------------------------------------------------------------------


class ParseError(EvalError):
    """Expression text this parser cannot read (terraform would refuse it too)."""


@functools.lru_cache(maxsize=8192)
def parse_expression(text: str) -> Node:
    parser = _Parser(text)
    try:
        node = parser.expression()
    except RecursionError:
        raise ParseError("the expression is nested too deeply") from None
    parser.space()
    if parser.pos != len(text):
        raise ParseError(f"unexpected {text[parser.pos : parser.pos + 20]!r} in an expression")
    return node


@functools.lru_cache(maxsize=8192)
def parse_template(text: str) -> Node:
    """A template-form string (a document's strings, a heredoc's body): literal unless it holds
    ``${``/``%{``."""
    if "{" not in text:
        return Literal(text.replace("$${", "${").replace("%%{", "%{"))
    parser = _Parser(text)
    try:
        parts = parser.template_parts(quoted=False)
    except RecursionError:
        raise ParseError("the template is nested too deeply") from None
    if parser.pos != len(text):
        raise ParseError("a template sequence is not closed")
    return _template_node(parts)


def _template_node(flat: list[Any]) -> Node:
    parts = _nest(flat)
    if all(isinstance(p, str) for p in parts):
        return Literal("".join(parts))
    if len(parts) == 1 and isinstance(parts[0], Node):
        return parts[0]  # "${x}" is x itself, of whatever type
    return Template(tuple(parts))


@dataclass
class _Marker:
    """A directive keyword while the flat template parts are nested: if, else, endif, for, endfor."""

    kind: str
    node: Node | None = None
    key_var: str | None = None
    value_var: str = ""


def _nest(flat: list[Any]) -> tuple[Any, ...]:
    stack: list[tuple[_Marker | None, list[Any], list[Any] | None]] = [(None, [], None)]
    for part in flat:
        if not isinstance(part, _Marker):
            target = stack[-1]
            (target[2] if target[2] is not None else target[1]).append(part)
            continue
        if part.kind in ("if", "for"):
            stack.append((part, [], None))
        elif part.kind == "else":
            opener, yes, no = stack[-1]
            if opener is None or opener.kind != "if" or no is not None:
                raise ParseError("%{else} without its %{if}")
            stack[-1] = (opener, yes, [])
        else:
            opener, body, other = stack.pop() if len(stack) > 1 else (None, [], None)
            if opener is None or part.kind != "end" + opener.kind:
                raise ParseError(f"%{{{part.kind}}} without its opening directive")
            assert opener.node is not None
            directive: Any
            if opener.kind == "if":
                directive = IfDirective(opener.node, tuple(body), tuple(other or ()))
            else:
                directive = ForDirective(opener.key_var, opener.value_var, opener.node, tuple(body))
            target = stack[-1]
            (target[2] if target[2] is not None else target[1]).append(directive)
    if len(stack) != 1:
        raise ParseError(f"%{{{stack[-1][0].kind if stack[-1][0] else ''}}} is not closed")
    return tuple(stack[0][1])


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    # Characters ----------------------------------------------------------------------------

    def space(self) -> None:
        match = _SPACE.match(self.text, self.pos)
        if match:
            self.pos = match.end()

    def peek(self, token: str) -> bool:
        self.space()
        return self.text.startswith(token, self.pos)

    def take(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.take(token):
            found = self.text[self.pos : self.pos + 20] or "the end"
            raise ParseError(f"expected {token!r}, found {found!r}")

    def ident(self) -> str:
        self.space()
        match = _IDENT.match(self.text, self.pos)
        if not match:
            raise ParseError(f"expected a name at {self.text[self.pos : self.pos + 20]!r}")
        self.pos = match.end()
        return match.group()

    def peek_keyword(self, word: str) -> bool:
        self.space()
        match = _IDENT.match(self.text, self.pos)
        return match is not None and match.group() == word

    # Expressions ---------------------------------------------------------------------------

    def expression(self) -> Node:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ParseError("the expression is nested too deeply")
        condition = self.binary(1)
        if self.take("?"):
            yes = self.expression()
            self.expect(":")
            no = self.expression()
            condition = Conditional(condition, yes, no)
        self.depth -= 1
        return condition

    def operator(self) -> str | None:
        self.space()
        two = self.text[self.pos : self.pos + 2]
        if two in _PRECEDENCE:
            return two
        one = self.text[self.pos : self.pos + 1]
        if one in _PRECEDENCE and two not in ("=>",):
            return one
        return None

    def binary(self, lowest: int) -> Node:
        left = self.unary()
        while True:
            op = self.operator()
            if op is None or _PRECEDENCE[op] < lowest:
                return left
            self.pos += len(op)
            right = self.binary(_PRECEDENCE[op] + 1)
            left = Binary(op, left, right)

    def unary(self) -> Node:
        if self.peek("!") and not self.peek("!="):
            self.pos += 1
            return Unary("!", self.unary())
        if self.peek("-"):
            self.pos += 1
            operand = self.unary()
            if isinstance(operand, Literal) and is_number(operand.value):
                return Literal(normal_number(-operand.value))
            return Unary("-", operand)
        return self.postfix(self.primary())

    def primary(self) -> Node:  # noqa: PLR0911, PLR0912 - one return per kind of term
        self.space()
        text, pos = self.text, self.pos
        char = text[pos : pos + 1]
        if not char:
            raise ParseError("unexpected end of the expression")
        if char.isdigit():
            match = _NUMBER.match(text, pos)
            assert match is not None
            self.pos = match.end()
            literal = match.group()
            return Literal(
                normal_number(float(literal)) if ("." in literal or "e" in literal.lower()) else int(literal)
            )
        if char == '"':
            self.pos += 1
            parts = self.template_parts(quoted=True)
            return _template_node(parts)
        if char == "<":
            heredoc = _HEREDOC.match(text, pos)
            if heredoc:
                return self.heredoc(heredoc)
        if char == "(":
            self.pos += 1
            inner = self.expression()
            self.expect(")")
            return inner
        if char == "[":
            self.pos += 1
            if self.peek_keyword("for"):
                return self.for_expression(closing="]")
            return self.tuple_items()
        if char == "{":
            self.pos += 1
            if self.peek_keyword("for"):
                return self.for_expression(closing="}")
            return self.object_items()
        name = self.ident()
        if name in ("true", "false"):
            return Literal(name == "true")
        if name == "null":
            return Literal(None)
        if self.peek("::"):
            # provider::NAME::FUNCTION(...): a provider's function, not evaluated here.
            while self.take("::"):
                self.ident()
            return self.call("provider::")
        if self.peek("("):
            return self.call(name)
        return Name(name)

    def call(self, name: str) -> Node:
        self.expect("(")
        args: list[Node] = []
        expand = False
        while not self.take(")"):
            args.append(self.expression())
            if self.take("..."):
                expand = True
                self.expect(")")
                break
            if not self.take(","):
                self.expect(")")
                break
        return Call(name, tuple(args), expand)

    def tuple_items(self) -> Node:
        items: list[Node] = []
        while not self.take("]"):
            items.append(self.expression())
            if not self.take(","):
                self.expect("]")
                break
        return Tuple(tuple(items))

    def object_items(self) -> Node:
        items: list[tuple[Node, Node]] = []
        while not self.take("}"):
            key = self.object_key()
            if not (self.take("=") or self.take(":")):
                raise ParseError("expected '=' or ':' after an object key")
            items.append((key, self.expression()))
            self.take(",")
        return Object(tuple(items))

    def object_key(self) -> Node:
        self.space()
        match = _IDENT.match(self.text, self.pos)
        if match and not self.text.startswith(("(", "::"), match.end()):
            after = _SPACE.match(self.text, match.end())
            rest = self.text[after.end() if after else match.end() :]
            if rest[:1] in ("=", ":") and not rest.startswith("=="):
                self.pos = match.end()
                return Literal(match.group())  # a bare name is the key itself, never a variable
        return self.expression()

    def for_expression(self, closing: str) -> Node:
        self.ident()  # "for"
        first = self.ident()
        key_var: str | None = None
        value_var = first
        if self.take(","):
            key_var, value_var = first, self.ident()
        if self.ident() != "in":
            raise ParseError("expected 'in' in a for expression")
        collection = self.expression()
        self.expect(":")
        key: Node | None = None
        value = self.expression()
        group = False
        if closing == "}":
            self.expect("=>")
            key, value = value, self.expression()
            group = self.take("...")
        condition: Node | None = None
        if self.peek_keyword("if"):
            self.ident()
            condition = self.expression()
        self.expect(closing)
        return For(key_var, value_var, collection, value, key, condition, group)

    def postfix(self, node: Node) -> Node:
        while True:
            if self.peek("[*]"):
                self.pos += 3
                node = Splat(node, tuple(self.splat_steps(full=True)))
            elif self.peek(".*"):
                self.pos += 2
                node = Splat(node, tuple(self.splat_steps(full=False)))
            elif self.peek("["):
                self.pos += 1
                key = self.expression()
                self.expect("]")
                node = Index(node, key)
            elif self.peek(".") and not self.peek("..."):
                self.pos += 1
                digits = _DIGITS.match(self.text, self.pos)
                if digits:
                    self.pos = digits.end()
                    node = Index(node, Literal(int(digits.group())))
                else:
                    node = GetAttr(node, self.ident())
            else:
                return node

    def splat_steps(self, *, full: bool) -> list[tuple[str, Any]]:
        steps: list[tuple[str, Any]] = []
        while True:
            if self.peek(".") and not self.peek("...") and not self.peek(".*"):
                self.pos += 1
                digits = _DIGITS.match(self.text, self.pos)
                if digits:
                    self.pos = digits.end()
                    steps.append(("index", Literal(int(digits.group()))))
                else:
                    steps.append(("attr", self.ident()))
            elif full and self.peek("[") and not self.peek("[*]"):
                self.pos += 1
                key = self.expression()
                self.expect("]")
                steps.append(("index", key))
            else:
                return steps

    def heredoc(self, match: re.Match[str]) -> Node:
        strip, marker = match.group(1) == "-", match.group(2)
        start = match.end()
        lines: list[str] = []
        position = start
        while True:
            newline = self.text.find("\n", position)
            line = self.text[position:] if newline < 0 else self.text[position:newline]
            if line.strip() == marker:
                self.pos = len(self.text) if newline < 0 else newline
                break
            if newline < 0:
                raise ParseError(f"the heredoc {marker} is not closed")
            lines.append(line + "\n")
            position = newline + 1
        if strip:
            indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
            cut = min(indents, default=0)
            lines = [line[cut:] for line in lines]
        return parse_template("".join(lines))

    # Templates -----------------------------------------------------------------------------

    def template_parts(self, *, quoted: bool) -> list[Any]:
        """Flat parts up to the closing quote (quoted) or the end of the text; strip markers applied."""
        text = self.text
        parts: list[Any] = []
        literal: list[str] = []
        strip_next = False

        def flush(strip_before: bool) -> None:
            nonlocal strip_next
            chunk = "".join(literal)
            literal.clear()
            if strip_next:
                chunk = chunk.lstrip()
                strip_next = False
            if strip_before:
                chunk = chunk.rstrip()
            if chunk:
                parts.append(chunk)

        while True:
            if self.pos >= len(text):
                if quoted:
                    raise ParseError("a string is not closed")
                flush(False)
                return parts
            char = text[self.pos]
            if quoted and char == '"':
                self.pos += 1
                flush(False)
                return parts
            if quoted and char == "\\":
                literal.append(self.escape())
                continue
            if char in "$%" and text.startswith(char + char + "{", self.pos):
                literal.append(char + "{")
                self.pos += 3
                continue
            if char in "$%" and text.startswith(char + "{", self.pos):
                self.pos += 2
                strip_before = text.startswith("~", self.pos)
                if strip_before:
                    self.pos += 1
                flush(strip_before)
                parts.append(self.expression() if char == "$" else self.directive())
                self.space()
                if text.startswith("~", self.pos):
                    self.pos += 1
                    strip_next = True
                self.expect("}")
                continue
            literal.append(char)
            self.pos += 1

    def escape(self) -> str:
        selector = self.text[self.pos + 1 : self.pos + 2]
        if selector in _ESCAPES:
            self.pos += 2
            return _ESCAPES[selector]
        if selector in ("u", "U"):
            width = 4 if selector == "u" else 8
            digits = self.text[self.pos + 2 : self.pos + 2 + width]
            try:
                code = int(digits, 16)
                char = chr(code)
            except ValueError:
                raise ParseError(f"invalid escape \\{selector}{digits}") from None
            self.pos += 2 + width
            return char
        raise ParseError(f"invalid escape \\{selector}")

    def directive(self) -> _Marker:
        word = self.ident()
        if word == "if":
            return _Marker("if", self.expression())
        if word in ("else", "endif", "endfor"):
            return _Marker(word)
        if word == "for":
            first = self.ident()
            key_var, value_var = None, first
            if self.take(","):
                key_var, value_var = first, self.ident()
            if self.ident() != "in":
                raise ParseError("expected 'in' in a %{for} directive")
            return _Marker("for", self.expression(), key_var, value_var)
        raise ParseError(f"unknown template directive %{{{word}}}")


__all__ = [
    "UNKNOWN",
    "Env",
    "EvalError",
    "Namespace",
    "Node",
    "ParseError",
    "parse_expression",
    "parse_template",
]
