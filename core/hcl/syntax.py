"""HCL strings and templates as terraform reads them.

python-hcl2 parses the structure; the text inside strings it leaves half-decoded (no ``\\uNNNN``,
escapes replaced one after another, heredocs decoded like quoted strings). This module decodes
quoted literals exactly as HCL does and scans templates (``${...}``, ``%{...}``, ``$${`` escapes,
nested strings, comments, heredocs) so the checks see what terraform evaluates.

Strings in a parsed document are in *template form*, the form terraform's JSON syntax uses:
literal text with ``$${``/``%%{`` for a literal ``${``/``%{``, and ``${expr}``/``%{...}`` for
what terraform evaluates. Everything here is one left-to-right pass, linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_HEX = re.compile(r"[0-9A-Fa-f]+")
_QUOTED_SPECIAL = re.compile(r'[\\"$%]')
_UNQUOTED_SPECIAL = re.compile(r"[$%]")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_SPACE = re.compile(r"[ \t\r\n]+")
_OTHER = re.compile(r'[^ \t\r\n"{}()#/<,A-Za-z_]+|.', re.S)
_HEREDOC_START = re.compile(r"<<-?([A-Za-z_][A-Za-z0-9_-]*)\r?\n")
_HEREDOC_SPECIAL = re.compile(r"[$%\n]")
_TRAILING = {"$": re.compile(r"\$+$"), "%": re.compile(r"%+$")}


class DecodeError(ValueError):
    """A string terraform would reject, or read differently from python-hcl2."""

    def __init__(self, message: str, *, escape: bool = True) -> None:
        super().__init__(message)
        self.escape = escape  # an invalid escape, rather than a template that is not closed


class Part(NamedTuple):
    """A piece of a template: decoded literal ``text``, or a raw ``${...}``/``%{...}`` sequence."""

    kind: Literal["text", "sequence"]
    text: str


def decode_escapes(raw: str) -> str:
    """The backslash escapes of a quoted literal, as HCL decodes them; anything else is an error."""
    if "\\" not in raw:
        return raw
    out: list[str] = []
    index = 0
    while True:
        slash = raw.find("\\", index)
        if slash < 0:
            out.append(raw[index:])
            return "".join(out)
        out.append(raw[index:slash])
        selector = raw[slash + 1 : slash + 2]
        if selector in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[selector])
            index = slash + 2
        elif selector in ("u", "U"):
            width = 4 if selector == "u" else 8
            digits = raw[slash + 2 : slash + 2 + width]
            if len(digits) != width or not _HEX.fullmatch(digits):
                raise DecodeError(f"invalid escape \\{selector}{digits}: it needs {width} hexadecimal digits")
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise DecodeError(f"invalid escape \\{selector}{digits}: not a Unicode character")
            out.append(chr(code))
            index = slash + 2 + width
        elif selector == "":
            raise DecodeError("a string ends with a lone backslash")
        else:
            raise DecodeError(f"invalid escape sequence \\{selector}")


def render_template(parts: list[Part]) -> str:
    """Parts as a template-form string (what terraform's JSON syntax would hold)."""
    return _render(parts, quote=False)


def quote_template(parts: list[Part]) -> str:
    """Parts as an HCL quoted string literal, for use inside expression text."""
    return '"' + _render(parts, quote=True) + '"'


def _render(parts: list[Part], *, quote: bool) -> str:
    out: list[str] = []
    merged = _merge_text(parts)
    for index, part in enumerate(merged):
        if part.kind == "sequence":
            out.append(part.text)
            continue
        text = part.text
        following = merged[index + 1].text[:1] if index + 1 < len(merged) else ""
        # "$" just before "${" would read as the "$${" escape: such dollars go in an interpolation.
        held = ""
        if following in _TRAILING and text.endswith(following):
            match = _TRAILING[following].search(text)
            if match:
                held, text = match.group(), text[: match.start()]
        if quote:
            text = (
                text.replace("\\", "\\\\")
                .replace('"', '\\"')
                .replace("\n", "\\n")
                .replace("\r", "\\r")
                .replace("\t", "\\t")
            )
        out.append(text.replace("${", "$${").replace("%{", "%%{"))
        if held:
            out.append('${"' + held + '"}')
    return "".join(out)


def _merge_text(parts: list[Part]) -> list[Part]:
    merged: list[Part] = []
    for part in parts:
        if part.kind == "text" and merged and merged[-1].kind == "text":
            merged[-1] = Part("text", merged[-1].text + part.text)
        elif part.kind == "sequence" or part.text:
            merged.append(part)
    return merged


def template_literal(template: str) -> str | None:
    """The literal value of a template-form string, or None when terraform would evaluate part of it."""
    if "{" not in template:
        return template
    parts = template_parts(template, quoted=False)
    if any(part.kind == "sequence" for part in parts):
        return None
    return "".join(part.text for part in parts)


def template_parts(source: str, *, quoted: bool) -> list[Part]:
    """Split template source into decoded text and raw sequences.

    ``quoted`` is the inside of a quoted string (backslash escapes apply); otherwise a heredoc,
    a template file or a template-form string. Raises DecodeError where HCL would refuse it.
    """
    scan = _Scanner(source, quoted=quoted, top_parts=True)
    scan.run()
    if scan.error:
        raise DecodeError(scan.error, escape=False)
    return scan.parts()


@dataclass(frozen=True)
class Call:
    """A call of a named function: where its name starts, and its leading literal arguments.

    ``arguments`` holds the template form of each leading string-literal argument; the first
    argument that is anything else is None, and nothing after it is recorded.
    """

    name: str
    offset: int
    arguments: tuple[str | None, ...]


def find_calls(template: str, names: frozenset[str]) -> Iterator[Call]:
    """Calls of the named functions anywhere terraform would evaluate in a template.

    The text is read as an unquoted template (a template-form string, a heredoc body, a file given
    to templatefile()): only ``${...}``/``%{...}`` are code, and strings nested in them are
    followed to any depth.
    """
    if "{" not in template:
        return
    scan = _Scanner(template, quoted=False, top_parts=False)
    scan.run()
    for tokens in scan.contexts:
        yield from _calls_in(template, tokens, names)


def _calls_in(text: str, tokens: list[_Token], names: frozenset[str]) -> Iterator[Call]:
    for index, token in enumerate(tokens):
        if token.kind != "ident" or token.value not in names:
            continue
        if index + 1 >= len(tokens) or tokens[index + 1].kind != "(":
            continue
        arguments: list[str | None] = []
        position = index + 2
        while len(arguments) < 2:
            argument = tokens[position] if position < len(tokens) else None
            after = tokens[position + 1] if position + 1 < len(tokens) else None
            path = _path_reference(tokens, position)
            if path is not None:
                # path.module, path.root, path.cwd: as "${path.module}" would be.
                arguments.append("${path." + path + "}")
                after = tokens[position + 3] if position + 3 < len(tokens) else None
                position += 2
            elif argument is None or argument.kind != "string":
                arguments.append(None)
                break
            else:
                arguments.append(_string_template(text, argument))
            if after is None or after.kind not in (",", ")"):
                arguments[-1] = None
                break
            if arguments[-1] is None or after.kind == ")":
                break
            position += 2
        yield Call(token.value, token.start, tuple(arguments))


@dataclass
class _Frame:
    """One template being scanned: the top-level text, a quoted string, or a heredoc body."""

    quoted: bool
    start: int
    marker: str | None = None  # heredocs: the closing marker
    keep: bool = True  # whether to record the spans (the pieces of the template)
    closed: bool = False
    line_start: bool = True
    # ("raw", start, end) literal source, ("escape", start, end) "$${"/"%%{", ("seq", start, end).
    spans: list[tuple[str, int, int]] = field(default_factory=list)


@dataclass
class _Token:
    kind: str  # "ident", "string", "heredoc", "(", ")", ",", "other"
    start: int
    value: str = ""
    frame: _Frame | None = None


@dataclass
class _Code:
    """Code inside ``${``/``%{``: its tokens, and how many ``{`` are open in it."""

    tokens: list[_Token]
    start: int
    depth: int = 0


def _path_reference(tokens: list[_Token], position: int) -> str | None:
    """``path.module`` (or root, cwd) as whole tokens at a position; None otherwise."""
    if position + 2 >= len(tokens):
        return None
    head, dot, name = tokens[position : position + 3]
    if (head.kind, head.value, dot.value, name.kind) != ("ident", "path", ".", "ident"):
        return None
    return name.value if name.value in ("module", "root", "cwd") else None


def _frame_parts(text: str, frame: _Frame) -> list[Part]:
    parts: list[Part] = []
    for kind, start, end in frame.spans:
        if kind == "raw":
            raw = text[start:end]
            parts.append(Part("text", decode_escapes(raw) if frame.quoted else raw))
        elif kind == "escape":
            parts.append(Part("text", text[start] + "{"))
        else:
            parts.append(Part("sequence", text[start:end]))
    return parts


def _string_template(text: str, token: _Token) -> str | None:
    """Template form of a quoted string token; None if it cannot be decoded or is not closed."""
    if token.kind != "string" or token.frame is None or not token.frame.closed:
        return None
    try:
        return render_template(_frame_parts(text, token.frame))
    except DecodeError:
        return None


class _Scanner:
    """HCL's template scanner, iterative: strings nest in code and code in strings to any depth."""

    def __init__(self, text: str, *, quoted: bool, top_parts: bool) -> None:
        self.text = text
        self.top = _Frame(quoted=quoted, start=0, keep=top_parts)
        self.stack: list[_Frame | _Code] = [self.top]
        self.contexts: list[list[_Token]] = []
        self.error: str | None = None

    def run(self) -> None:
        length, index = len(self.text), 0
        while index < length and self.error is None:
            frame = self.stack[-1]
            index = self._template(frame, index) if isinstance(frame, _Frame) else self._code(frame, index)
        if self.top.keep and self.error is None:
            if len(self.stack) > 1:
                self.error = "a template sequence or string is not closed"
            else:
                self._flush(self.top, length)

    def parts(self) -> list[Part]:
        return _frame_parts(self.text, self.top)

    def _flush(self, frame: _Frame, at: int) -> None:
        """Record the literal text of a frame up to ``at``, since what was recorded last."""
        if not frame.keep:
            return
        start = frame.spans[-1][2] if frame.spans else frame.start
        if at > start:
            frame.spans.append(("raw", start, at))

    def _template(self, frame: _Frame, index: int) -> int:  # noqa: PLR0911 - a return per token
        text = self.text
        if frame.marker is not None:
            if frame.line_start:
                newline = text.find("\n", index)
                if newline >= 0 and text[index:newline].strip() == frame.marker:
                    frame.closed = True
                    self.stack.pop()
                    return newline
                frame.line_start = False
            special = _HEREDOC_SPECIAL.search(text, index)
        else:
            special = (_QUOTED_SPECIAL if frame.quoted else _UNQUOTED_SPECIAL).search(text, index)
        if special is None:
            return len(text)
        at = special.start()
        char = text[at]
        if char == "\n":
            frame.line_start = True
            return at + 1
        if char == "\\":
            return at + 2
        if char == '"':
            if frame is self.top:
                self.error = "an unescaped quote inside a string"
                return len(text)
            self._flush(frame, at)
            frame.closed = True
            self.stack.pop()
            return at + 1
        if text.startswith(char + char + "{", at):
            self._flush(frame, at)
            if frame.keep:
                frame.spans.append(("escape", at, at + 3))
            return at + 3
        if text.startswith(char + "{", at):
            self._flush(frame, at)
            code = _Code(tokens=[], start=at)
            self.contexts.append(code.tokens)
            self.stack.append(code)
            return at + 2
        return at + 1

    def _code(self, code: _Code, index: int) -> int:  # noqa: PLR0911 - a return per token
        text = self.text
        space = _SPACE.match(text, index)
        if space:
            return space.end()
        char = text[index]
        if char == '"':
            frame = _Frame(quoted=True, start=index + 1)
            code.tokens.append(_Token("string", index, frame=frame))
            self.stack.append(frame)
            return index + 1
        if char == "{":
            code.depth += 1
            code.tokens.append(_Token("other", index, "{"))
            return index + 1
        if char == "}":
            if code.depth:
                code.depth -= 1
                code.tokens.append(_Token("other", index, "}"))
                return index + 1
            self.stack.pop()
            owner = self.stack[-1]
            if isinstance(owner, _Frame) and owner.keep:
                owner.spans.append(("seq", code.start, index + 1))
            return index + 1
        if char == "#" or text.startswith("//", index):
            newline = text.find("\n", index)
            return len(text) if newline < 0 else newline
        if text.startswith("/*", index):
            close = text.find("*/", index + 2)
            return len(text) if close < 0 else close + 2
        if char == "<":
            heredoc = _HEREDOC_START.match(text, index)
            if heredoc:
                frame = _Frame(quoted=False, start=heredoc.end(), marker=heredoc.group(1), keep=False)
                code.tokens.append(_Token("heredoc", index, frame=frame))
                self.stack.append(frame)
                return heredoc.end()
        if char in "(),":
            code.tokens.append(_Token(char, index, char))
            return index + 1
        ident = _IDENT.match(text, index)
        if ident:
            code.tokens.append(_Token("ident", index, ident.group()))
            return ident.end()
        other = _OTHER.match(text, index)
        end = other.end() if other else index + 1
        code.tokens.append(_Token("other", index, text[index:end]))
        return end
