"""Terraform's built-in functions that need nothing but their arguments, with terraform's semantics.

Each takes its evaluated arguments and returns a value, raises EvalError where terraform reports
an error, and Unknowable where an unknown argument decides the result. Functions that read the
world (file, timestamp, uuid, ...) are not here: a call of them evaluates to unknown.
``try`` and ``can`` evaluate their arguments themselves and live in expression.py.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

from core.hcl.values import (
    UNKNOWN,
    EvalError,
    EvaluationLimit,
    TfSet,
    Unknowable,
    check_text,
    equal,
    format_number,
    has_unknown,
    known,
    make_set,
    normal_number,
    sorted_items,
    to_bool,
    to_list,
    to_map,
    to_number,
    to_string,
    type_name,
)

Function = Callable[[list[Any]], Any]
# terraform's range() refuses to build more elements than this.
MAX_RANGE: Final = 1024


def _arity(name: str, args: list[Any], low: int, high: int | None = None) -> None:
    top = low if high is None else high
    if not low <= len(args) <= top:
        wanted = str(low) if low == top else f"{low} to {top}"
        raise EvalError(f"{name}() takes {wanted} arguments, not {len(args)}")


def _collection(value: Any) -> list[Any]:
    known(value)
    if isinstance(value, list):
        return list(value)
    raise EvalError(f"a list or set is required, not a {type_name(value)}")


def _integer(value: Any, what: str) -> int:
    number = to_number(value)
    if not isinstance(number, int):
        raise EvalError(f"{what} must be a whole number")
    return number


# Collections -------------------------------------------------------------------------------


def _length(args: list[Any]) -> int:
    _arity("length", args, 1)
    value = known(args[0])
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, dict)):
        return len(value)
    raise EvalError(f"length() needs a string, list, set or map, not a {type_name(value)}")


def _one_type(items: list[Any]) -> list[Any]:
    """A list, set or map has one element type: among strings, numbers and bools, strings win
    (``tolist(["a", 1])`` is ``["a", "1"]``); nulls stay null."""
    primitive = all(i is None or isinstance(i, (str, int, float)) for i in items)
    if primitive and any(isinstance(i, str) for i in items):
        return [i if i is None else to_string(i) for i in items]
    return items


def _toset(args: list[Any]) -> TfSet:
    _arity("toset", args, 1)
    return make_set(_one_type(_collection(args[0])))


def _tolist(args: list[Any]) -> list[Any]:
    _arity("tolist", args, 1)
    if args[0] is None:
        return None  # type: ignore[return-value]
    return _one_type(_collection(args[0]))


def _tomap(args: list[Any]) -> dict[str, Any]:
    _arity("tomap", args, 1)
    value = to_map(args[0])
    return dict(zip(value, _one_type(list(value.values())), strict=True))


def _keys(args: list[Any]) -> list[str]:
    _arity("keys", args, 1)
    return [key for key, _ in sorted_items(to_map(args[0]))]


def _values(args: list[Any]) -> list[Any]:
    _arity("values", args, 1)
    return [value for _, value in sorted_items(to_map(args[0]))]


def _lookup(args: list[Any]) -> Any:
    _arity("lookup", args, 2, 3)
    mapping = to_map(args[0])
    key = to_string(args[1])
    if key in mapping:
        return mapping[key]
    if len(args) == 3:
        return args[2]
    raise EvalError(f'lookup(): the map has no key "{key}" and no default was given')


def _merge(args: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for arg in args:
        if arg is None:
            continue
        out.update(to_map(arg))
    return out


def _concat(args: list[Any]) -> list[Any]:
    out: list[Any] = []
    for arg in args:
        out.extend(_collection(arg))
    return out


def _flatten(args: list[Any]) -> list[Any]:
    _arity("flatten", args, 1)
    out: list[Any] = []
    stack: list[Iterator[Any]] = [iter(_collection(args[0]))]
    while stack:
        item: Any = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(known(item), list):
            stack.append(iter(item))
        else:
            out.append(item)
    return out


_END: Final = object()


def _range(args: list[Any]) -> list[int | float]:
    _arity("range", args, 1, 3)
    numbers = [to_number(a) for a in args]
    start, limit = (0, numbers[0]) if len(numbers) == 1 else (numbers[0], numbers[1])
    step = numbers[2] if len(numbers) == 3 else (1 if start <= limit else -1)
    if step == 0:
        raise EvalError("range(): the step must not be zero")
    if (step > 0 and start > limit) or (step < 0 and start < limit):
        raise EvalError("range(): the step must move the start towards the limit")
    out: list[int | float] = []
    value = start
    while (step > 0 and value < limit) or (step < 0 and value > limit):
        if len(out) >= MAX_RANGE:
            raise EvalError(f"range(): more than {MAX_RANGE} values were generated")
        out.append(normal_number(value))
        value += step
    return out


def _zipmap(args: list[Any]) -> dict[str, Any]:
    _arity("zipmap", args, 2)
    keys, values = _collection(args[0]), _collection(args[1])
    if len(keys) != len(values):
        raise EvalError("zipmap(): the lists of keys and values have different lengths")
    return {to_string(k): v for k, v in zip(keys, values, strict=True)}


def _element(args: list[Any]) -> Any:
    _arity("element", args, 2)
    items = _collection(args[0])
    index = _integer(args[1], "element()'s index")
    if not items:
        raise EvalError("element(): the list is empty")
    if index < 0:
        raise EvalError("element(): the index must not be negative")
    return items[index % len(items)]


def _index(args: list[Any]) -> int:
    _arity("index", args, 2)
    for position, item in enumerate(_collection(args[0])):
        if equal(known(item), known(args[1])):
            return position
    raise EvalError("index(): the value is not in the list")


def _coalesce(args: list[Any]) -> Any:
    for arg in args:
        if known(arg) is not None and arg != "":
            return arg
    raise EvalError("coalesce(): no non-null, non-empty-string arguments")


def _coalescelist(args: list[Any]) -> Any:
    for arg in args:
        if _collection(arg):
            return arg
    raise EvalError("coalescelist(): no non-empty list arguments")


def _contains(args: list[Any]) -> bool:
    _arity("contains", args, 2)
    value = known(args[1])
    items = _collection(args[0])
    if any(not has_unknown(i) and equal(i, value) for i in items):
        return True
    if any(has_unknown(i) for i in items):
        raise Unknowable
    return False


def _distinct(args: list[Any]) -> list[Any]:
    _arity("distinct", args, 1)
    out: list[Any] = []
    for item in _collection(args[0]):
        if has_unknown(item):
            raise Unknowable
        if not any(equal(item, seen) for seen in out):
            out.append(item)
    return out


def _sort(args: list[Any]) -> list[str]:
    _arity("sort", args, 1)
    return sorted(to_string(item) for item in _collection(args[0]))


def _reverse(args: list[Any]) -> list[Any]:
    _arity("reverse", args, 1)
    return list(reversed(_collection(args[0])))


def _slice(args: list[Any]) -> list[Any]:
    _arity("slice", args, 3)
    items = _collection(args[0])
    start, end = _integer(args[1], "slice()'s start"), _integer(args[2], "slice()'s end")
    if start < 0 or end > len(items) or start > end:
        raise EvalError(f"slice(): indices {start}..{end} are outside a list of {len(items)}")
    return items[start:end]


def _compact(args: list[Any]) -> list[str]:
    _arity("compact", args, 1)
    return [to_string(i) for i in _collection(args[0]) if i is not None and i != ""]


def _one(args: list[Any]) -> Any:
    _arity("one", args, 1)
    items = _collection(args[0])
    if len(items) > 1:
        raise EvalError("one(): the list has more than one element")
    return items[0] if items else None


def _chunklist(args: list[Any]) -> list[list[Any]]:
    _arity("chunklist", args, 2)
    items, size = _collection(args[0]), _integer(args[1], "chunklist()'s size")
    if size < 0:
        raise EvalError("chunklist(): the size must not be negative")
    if size == 0:
        return [items]
    return [items[i : i + size] for i in range(0, len(items), size)]


def _setunion(args: list[Any]) -> TfSet:
    return make_set(item for arg in args for item in _collection(arg))


def _setintersection(args: list[Any]) -> TfSet:
    if not args:
        raise EvalError("setintersection() needs at least one set")
    first, *rest = (make_set(_collection(a)) for a in args)
    return make_set(i for i in first if all(any(equal(i, o) for o in other) for other in rest))


def _setsubtract(args: list[Any]) -> TfSet:
    _arity("setsubtract", args, 2)
    minus = make_set(_collection(args[1]))
    return make_set(i for i in make_set(_collection(args[0])) if not any(equal(i, o) for o in minus))


def _alltrue(args: list[Any]) -> bool:
    _arity("alltrue", args, 1)
    return all(to_bool(i) for i in _collection(args[0]))


def _anytrue(args: list[Any]) -> bool:
    _arity("anytrue", args, 1)
    return any(to_bool(i) for i in _collection(args[0]))


def _sum(args: list[Any]) -> int | float:
    _arity("sum", args, 1)
    items = _collection(args[0])
    if not items:
        raise EvalError("sum(): the list is empty")
    return normal_number(sum(to_number(i) for i in items))


# Numbers -----------------------------------------------------------------------------------


def _numbers(name: str, args: list[Any]) -> list[int | float]:
    if not args:
        raise EvalError(f"{name}() needs at least one number")
    return [to_number(a) for a in args]


def _unary_number(name: str, op: Callable[[Any], Any]) -> Function:
    def apply(args: list[Any]) -> Any:
        _arity(name, args, 1)
        return normal_number(op(to_number(args[0])))

    return apply


def _pow(args: list[Any]) -> int | float:
    _arity("pow", args, 2)
    return normal_number(float(to_number(args[0])) ** to_number(args[1]))


def _log(args: list[Any]) -> int | float:
    _arity("log", args, 2)
    return normal_number(math.log(to_number(args[0]), to_number(args[1])))


def _parseint(args: list[Any]) -> int:
    _arity("parseint", args, 2)
    try:
        return int(to_string(args[0]), _integer(args[1], "parseint()'s base"))
    except ValueError:
        raise EvalError(f'parseint(): cannot parse "{args[0]}"') from None


# Strings -----------------------------------------------------------------------------------

_VERB = re.compile(r"%(?:(\[\d+\])?([-+ #0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%]))")


def _format(args: list[Any]) -> str:
    if not args:
        raise EvalError("format() needs a format string")
    spec, values = to_string(args[0]), list(args[1:])
    position = 0

    def verb(match: re.Match[str]) -> str:  # noqa: PLR0911 - one return per verb
        nonlocal position
        flags, width, precision, kind = match.group(2), match.group(3), match.group(4), match.group(5)
        if kind == "%":
            return "%"
        if match.group(1):
            position = int(match.group(1)[1:-1]) - 1
        if position >= len(values):
            raise EvalError("format(): not enough arguments for the format string")
        value = known(values[position])
        position += 1
        check_text(int(width if width and width.isdigit() else 0) + int(precision or 0))  # padding
        python = "%" + flags + (width or "") + (f".{precision}" if precision is not None else "")
        if kind in ("s", "v"):
            text = jsonencode(value) if isinstance(value, (list, dict)) and kind == "v" else to_string(value)
            return (python + "s") % text
        if kind == "q":
            return (python + "s") % json.dumps(to_string(value), ensure_ascii=False)
        if kind == "t":
            return (python + "s") % ("true" if to_bool(value) else "false")
        if kind in "dboxX":
            number = to_number(value)
            if not isinstance(number, int):
                raise EvalError(f"format(): %{kind} needs a whole number, not {format_number(number)}")
            if kind == "b":
                return (python + "s") % format(number, "b")
            return (python + kind) % number
        if kind in "eEfFgG":
            return (python + kind) % to_number(value)
        raise EvalError(f"format(): unsupported verb %{kind}")

    return _VERB.sub(verb, spec)


def _formatlist(args: list[Any]) -> list[str]:
    if not args:
        raise EvalError("formatlist() needs a format string")
    lists = [to_list(a) for a in args[1:] if isinstance(known(a), list)]
    lengths = {len(items) for items in lists}
    if len(lengths) > 1:
        raise EvalError("formatlist(): the lists have different lengths")
    count = lengths.pop() if lengths else 1
    check_text(len(to_string(args[0])) * count)
    return [_format([args[0], *(a[i] if isinstance(a, list) else a for a in args[1:])]) for i in range(count)]


def _join(args: list[Any]) -> str:
    if len(args) < 2:
        raise EvalError("join() needs a separator and at least one list")
    separator = to_string(args[0])
    check_text(len(separator) * sum(len(_collection(arg)) for arg in args[1:]))
    return separator.join(to_string(item) for arg in args[1:] for item in _collection(arg))


def _split(args: list[Any]) -> list[str]:
    _arity("split", args, 2)
    separator, text = to_string(args[0]), to_string(args[1])
    if separator == "":
        return list(text)
    return text.split(separator)


def _string_fn(name: str, op: Callable[[str], str]) -> Function:
    def apply(args: list[Any]) -> str:
        _arity(name, args, 1)
        return op(to_string(args[0]))

    return apply


def _go_replacement(text: str) -> str:
    """RE2 replacement ($1, ${name}) in Python's form."""
    out = re.sub(r"\\", r"\\\\", text)
    return re.sub(r"\$\{?(\w+)\}?", lambda m: f"\\g<{m.group(1)}>", out)


def _replace(args: list[Any]) -> str:
    _arity("replace", args, 3)
    text, search, replacement = (to_string(a) for a in args)
    # What the replacements add, at most (an empty search matches between every character).
    pattern = len(search) > 1 and search.startswith("/") and search.endswith("/")
    matches = len(text) + 1 if pattern or not search else text.count(search)
    check_text(len(text) + matches * len(replacement))
    if pattern:
        try:
            return re.sub(search[1:-1], _go_replacement(replacement), text)
        except re.error as exc:
            raise EvalError(f"replace(): invalid regular expression: {exc}") from None
    return text.replace(search, replacement)


def _substr(args: list[Any]) -> str:
    _arity("substr", args, 3)
    text = to_string(args[0])
    offset, length = _integer(args[1], "substr()'s offset"), _integer(args[2], "substr()'s length")
    if offset < 0:
        offset = max(len(text) + offset, 0)
    if offset > len(text):
        raise EvalError("substr(): the offset is beyond the end of the string")
    return text[offset:] if length < 0 else text[offset : offset + length]


def _trim(args: list[Any]) -> str:
    _arity("trim", args, 2)
    return to_string(args[0]).strip(to_string(args[1]))


def _trimprefix(args: list[Any]) -> str:
    _arity("trimprefix", args, 2)
    return to_string(args[0]).removeprefix(to_string(args[1]))


def _trimsuffix(args: list[Any]) -> str:
    _arity("trimsuffix", args, 2)
    return to_string(args[0]).removesuffix(to_string(args[1]))


def _startswith(args: list[Any]) -> bool:
    _arity("startswith", args, 2)
    return to_string(args[0]).startswith(to_string(args[1]))


def _endswith(args: list[Any]) -> bool:
    _arity("endswith", args, 2)
    return to_string(args[0]).endswith(to_string(args[1]))


def _title(text: str) -> str:
    return re.sub(r"(?<![\w'])\w", lambda m: m.group(0).upper(), text)


def _regex(args: list[Any]) -> Any:
    _arity("regex", args, 2)
    pattern, text = to_string(args[0]), to_string(args[1])
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise EvalError(f"regex(): invalid regular expression: {exc}") from None
    match = compiled.search(text)
    if match is None:
        raise EvalError("regex(): the pattern does not match")
    if compiled.groupindex:
        return dict(match.groupdict())
    if compiled.groups:
        return list(match.groups())
    return match.group(0)


def _regexall(args: list[Any]) -> list[Any]:
    _arity("regexall", args, 2)
    pattern, text = to_string(args[0]), to_string(args[1])
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise EvalError(f"regexall(): invalid regular expression: {exc}") from None
    out: list[Any] = []
    for match in compiled.finditer(text):
        if compiled.groupindex:
            out.append(dict(match.groupdict()))
        elif compiled.groups:
            out.append(list(match.groups()))
        else:
            out.append(match.group(0))
    return out


# Types and encodings -----------------------------------------------------------------------


def _tostring(args: list[Any]) -> str | None:
    _arity("tostring", args, 1)
    return None if args[0] is None else to_string(args[0])


def _tonumber(args: list[Any]) -> int | float | None:
    _arity("tonumber", args, 1)
    return None if args[0] is None else to_number(args[0])


def _tobool(args: list[Any]) -> bool | None:
    _arity("tobool", args, 1)
    return None if args[0] is None else to_bool(args[0])


def jsonencode(value: Any) -> str:
    """Go's encoding as terraform uses it: compact, keys sorted, <, > and & escaped."""
    if has_unknown(value):
        raise Unknowable

    def prepare(item: Any) -> Any:
        if isinstance(item, float):
            return normal_number(item)
        if isinstance(item, dict):
            return {k: prepare(v) for k, v in item.items()}
        if isinstance(item, list):
            return [prepare(v) for v in item]
        return item

    text = json.dumps(prepare(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _jsonencode(args: list[Any]) -> str:
    _arity("jsonencode", args, 1)
    return jsonencode(args[0])


def _jsondecode(args: list[Any]) -> Any:
    _arity("jsondecode", args, 1)
    try:
        return json.loads(to_string(args[0]))
    except ValueError as exc:
        raise EvalError(f"jsondecode(): not valid JSON: {exc}") from None


def _base64encode(args: list[Any]) -> str:
    _arity("base64encode", args, 1)
    return base64.b64encode(to_string(args[0]).encode()).decode()


def _base64decode(args: list[Any]) -> str:
    _arity("base64decode", args, 1)
    try:
        return base64.b64decode(to_string(args[0]), validate=True).decode()
    except ValueError:
        raise EvalError("base64decode(): not valid base64 of UTF-8 text") from None


def _digest(name: str) -> Function:
    def apply(args: list[Any]) -> str:
        _arity(name, args, 1)
        return hashlib.new(name, to_string(args[0]).encode()).hexdigest()

    return apply


# Networks ----------------------------------------------------------------------------------


def _network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(to_string(value), strict=False)
    except ValueError:
        raise EvalError(f'"{value}" is not a CIDR prefix') from None


def _subnet(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network, newbits: int, number: int
) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    prefix = network.prefixlen + newbits
    if newbits < 0 or prefix > network.max_prefixlen:
        raise EvalError(f"cidrsubnet(): cannot extend a /{network.prefixlen} prefix by {newbits} bits")
    if not 0 <= number < 2**newbits:
        raise EvalError(f"cidrsubnet(): {number} does not fit in {newbits} additional bits")
    address = int(network.network_address) + (number << (network.max_prefixlen - prefix))
    return ipaddress.ip_network((address, prefix))


def _cidrsubnet(args: list[Any]) -> str:
    _arity("cidrsubnet", args, 3)
    network = _network(args[0])
    newbits, number = _integer(args[1], "cidrsubnet()'s newbits"), _integer(args[2], "cidrsubnet()'s netnum")
    return str(_subnet(network, newbits, number))


def _cidrsubnets(args: list[Any]) -> list[str]:
    if not args:
        raise EvalError("cidrsubnets() needs a prefix")
    network = _network(args[0])
    out: list[str] = []
    start = int(network.network_address)
    for arg in args[1:]:
        newbits = _integer(arg, "cidrsubnets()'s newbits")
        prefix = network.prefixlen + newbits
        if newbits < 1 or prefix > network.max_prefixlen:
            raise EvalError(f"cidrsubnets(): cannot extend a /{network.prefixlen} prefix by {newbits} bits")
        size = 1 << (network.max_prefixlen - prefix)
        start = -(-start // size) * size  # aligned to its own size
        subnet = ipaddress.ip_network((start, prefix))
        if not subnet.subnet_of(network):  # type: ignore[arg-type]
            raise EvalError("cidrsubnets(): not enough space in the prefix")
        out.append(str(subnet))
        start += size
    return out


def _cidrhost(args: list[Any]) -> str:
    _arity("cidrhost", args, 2)
    network = _network(args[0])
    number = _integer(args[1], "cidrhost()'s hostnum")
    if number < 0:
        number += network.num_addresses
    if not 0 <= number < network.num_addresses:
        raise EvalError(f"cidrhost(): prefix {network} has no host number {args[1]}")
    return str(network.network_address + number)


def _cidrnetmask(args: list[Any]) -> str:
    _arity("cidrnetmask", args, 1)
    network = _network(args[0])
    if network.version != 4:
        raise EvalError("cidrnetmask(): only IPv4 prefixes have a netmask")
    return str(network.netmask)


def _identity(name: str) -> Function:
    def apply(args: list[Any]) -> Any:
        _arity(name, args, 1)
        return args[0]

    return apply


FUNCTIONS: Final[dict[str, Function]] = {
    # collections
    "length": _length,
    "toset": _toset,
    "tolist": _tolist,
    "tomap": _tomap,
    "keys": _keys,
    "values": _values,
    "lookup": _lookup,
    "merge": _merge,
    "concat": _concat,
    "flatten": _flatten,
    "range": _range,
    "zipmap": _zipmap,
    "element": _element,
    "index": _index,
    "coalesce": _coalesce,
    "coalescelist": _coalescelist,
    "contains": _contains,
    "distinct": _distinct,
    "sort": _sort,
    "reverse": _reverse,
    "slice": _slice,
    "compact": _compact,
    "one": _one,
    "chunklist": _chunklist,
    "setunion": _setunion,
    "setintersection": _setintersection,
    "setsubtract": _setsubtract,
    "alltrue": _alltrue,
    "anytrue": _anytrue,
    "sum": _sum,
    # numbers
    "min": lambda args: normal_number(min(_numbers("min", args))),
    "max": lambda args: normal_number(max(_numbers("max", args))),
    "abs": _unary_number("abs", abs),
    "ceil": _unary_number("ceil", math.ceil),
    "floor": _unary_number("floor", math.floor),
    "signum": _unary_number("signum", lambda n: (n > 0) - (n < 0)),
    "pow": _pow,
    "log": _log,
    "parseint": _parseint,
    # strings
    "format": _format,
    "formatlist": _formatlist,
    "join": _join,
    "split": _split,
    "lower": _string_fn("lower", str.lower),
    "upper": _string_fn("upper", str.upper),
    "title": _string_fn("title", _title),
    "trimspace": _string_fn("trimspace", str.strip),
    "chomp": _string_fn("chomp", lambda s: re.sub(r"(\r?\n)+$", "", s)),
    "strrev": _string_fn("strrev", lambda s: s[::-1]),
    "replace": _replace,
    "substr": _substr,
    "trim": _trim,
    "trimprefix": _trimprefix,
    "trimsuffix": _trimsuffix,
    "startswith": _startswith,
    "endswith": _endswith,
    "regex": _regex,
    "regexall": _regexall,
    # types and encodings
    "tostring": _tostring,
    "tonumber": _tonumber,
    "tobool": _tobool,
    "jsonencode": _jsonencode,
    "jsondecode": _jsondecode,
    "base64encode": _base64encode,
    "base64decode": _base64decode,
    "md5": _digest("md5"),
    "sha1": _digest("sha1"),
    "sha256": _digest("sha256"),
    "sha512": _digest("sha512"),
    "sensitive": _identity("sensitive"),
    "nonsensitive": _identity("nonsensitive"),
    # networks
    "cidrsubnet": _cidrsubnet,
    "cidrsubnets": _cidrsubnets,
    "cidrhost": _cidrhost,
    "cidrnetmask": _cidrnetmask,
}


def call(name: str, args: list[Any]) -> Any:
    """A call of a built-in; unknown when the function reads the world or an argument is unknown."""
    function = FUNCTIONS.get(name)
    if function is None or any(arg is UNKNOWN for arg in args):
        return UNKNOWN
    try:
        return function(args)
    except Unknowable:
        return UNKNOWN
    except EvaluationLimit:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise EvalError(f"{name}(): {exc}") from None


__all__ = ["FUNCTIONS", "MAX_RANGE", "call", "jsonencode"]
