"""Terraform's values in Python: the unknown value, sets, and the conversions the language applies.

Strings, numbers, bools, null, lists and maps are Python's own (``str``, ``int``/``float``,
``bool``, ``None``, ``list``, ``dict``); a set is a :class:`TfSet` (a list, so consumers that read
lists read sets too); a value known only after apply is :data:`UNKNOWN`. Conversions follow
terraform's: numbers and bools convert to strings, numeric strings to numbers, "true"/"false" to
bools; anything else is an :class:`EvalError`, the error terraform would stop the plan with.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final


class _Unknown:
    """A value terraform knows only after apply (a resource's id, a data source, ...)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "(known after apply)"

    # One instance only, so ``is UNKNOWN`` holds for copies too.
    def __copy__(self) -> _Unknown:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Unknown:
        return self

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final[Any] = _Unknown()


class EvalError(Exception):
    """An expression terraform would refuse to evaluate (wrong type, missing key, bad argument)."""


class Unknowable(Exception):
    """Raised where a concrete value is needed and an unknown was found: the result is unknown."""


class EvaluationLimit(ValueError):
    """The configuration needs more work or memory to evaluate than any real one does."""


# Far beyond real configurations; they keep a hostile one from taking the service's time or
# memory (a for expression nested three deep over range(1024), a string doubled by each local).
MAX_STEPS: Final = 1_000_000
MAX_ELEMENTS: Final = 100_000
MAX_TEXT: Final = 1_000_000
# terraform's numbers have 512 bits of precision; a whole number squared by each local would
# otherwise grow without end.
MAX_INTEGER_BITS: Final = 1024
# How deep locals (and module outputs) may refer to one another: far beyond real chains, well
# within Python's stack.
MAX_REFERENCE_DEPTH: Final = 48


class Budget:
    """The work one evaluation may do: for-expression iterations, calls, and the size of the
    values it builds (every element, and every 100 characters of text, costs a step)."""

    __slots__ = ("steps",)

    def __init__(self, steps: int = MAX_STEPS) -> None:
        self.steps = steps

    def spend(self, steps: int = 1) -> None:
        self.steps -= steps
        if self.steps < 0:
            raise EvaluationLimit("the configuration takes too much work to evaluate")

    def check(self, value: Any) -> Any:
        """The value itself, once its size (shared parts counted each time) is within the limits."""
        if not isinstance(value, (str, list, dict)):
            return value
        elements = chars = 0
        stack = [value]
        while stack:
            item = stack.pop()
            elements += 1
            if isinstance(item, str):
                chars += len(item)
                self.spend(1 + len(item) // 100)
            else:
                self.spend()
                if isinstance(item, dict):
                    stack.extend(item.values())
                elif isinstance(item, list):
                    stack.extend(item)
            if elements > MAX_ELEMENTS or chars > MAX_TEXT:
                raise EvaluationLimit(
                    f"a value is larger than {MAX_ELEMENTS:,} elements or {MAX_TEXT:,} characters"
                )
        return value


def check_text(length: int) -> None:
    """Refuse to build a string longer than the limit (before building it)."""
    if length > MAX_TEXT:
        raise EvaluationLimit(f"a string would be longer than {MAX_TEXT:,} characters")


class Namespace:
    """A root name whose attributes are looked up on demand (``var``, ``local``, ``module``):
    a missing one is unknown rather than an error."""

    __slots__ = ("_get",)

    def __init__(self, get: Callable[[str], Any]) -> None:
        self._get = get

    def attribute(self, name: str) -> Any:
        return self._get(name)


class TfSet(list[Any]):
    """A set: unique elements, strings in lexical and numbers in numeric order (as terraform
    iterates them)."""


_INTEGER: Final = re.compile(r"^[+-]?\d+$")
_DECIMAL: Final = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def has_unknown(value: Any) -> bool:
    """Whether the value or anything inside it is unknown."""
    stack = [value]
    while stack:
        item = stack.pop()
        if item is UNKNOWN:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def known(value: Any) -> Any:
    """The value itself; Unknowable if it is unknown."""
    if value is UNKNOWN:
        raise Unknowable
    return value


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def normal_number(value: float) -> int | float:
    """Integral results as ints, so 4 / 2 prints "2" as terraform prints it."""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise EvalError("the result is not a finite number")
        if value.is_integer() and abs(value) < 2**63:
            return int(value)
    elif value.bit_length() > MAX_INTEGER_BITS:
        raise EvalError("the number is too large")
    return value


def type_name(value: Any) -> str:  # noqa: PLR0911 - one return per type
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, TfSet):
        return "set"
    if isinstance(value, list):
        return "tuple"
    if isinstance(value, dict):
        return "object"
    return "unknown"


def to_string(value: Any) -> str:
    known(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
    if value is None:
        raise EvalError("a null value cannot be used as a string")
    raise EvalError(f"a {type_name(value)} cannot be used as a string")


def format_number(value: float) -> str:
    number = normal_number(value)
    if isinstance(number, int):
        return str(number)
    text = repr(number)
    if "e" in text:  # terraform never prints exponents
        text = f"{number:.17f}".rstrip("0").rstrip(".")
    return text


def to_number(value: Any) -> int | float:
    known(value)
    if is_number(value):
        return normal_number(value)
    if isinstance(value, str):
        text = value
        if _INTEGER.match(text):
            return int(text)
        if _DECIMAL.match(text):
            return normal_number(float(text))
        raise EvalError(f'cannot convert "{value}" to a number')
    if value is None:
        raise EvalError("a null value cannot be used as a number")
    raise EvalError(f"a {type_name(value)} cannot be used as a number")


def to_bool(value: Any) -> bool:
    known(value)
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    if value is None:
        raise EvalError("a null value cannot be used as a bool")
    raise EvalError(f"a {type_name(value)} cannot be used as a bool")


def to_list(value: Any) -> list[Any]:
    known(value)
    if isinstance(value, list):
        return list(value)
    raise EvalError(f"a {type_name(value)} is not a list")


def to_map(value: Any) -> dict[str, Any]:
    known(value)
    if isinstance(value, dict):
        return dict(value)
    raise EvalError(f"a {type_name(value)} is not a map")


def make_set(items: Iterable[Any]) -> TfSet:
    """A set of the items: unknown if any is unknown (its place in the set is unknown)."""
    unique: list[Any] = []
    for item in items:
        if has_unknown(item):
            raise Unknowable
        if not any(equal(item, other) for other in unique):
            unique.append(item)
    if all(isinstance(item, str) for item in unique) or all(is_number(item) for item in unique):
        unique.sort()
    return TfSet(unique)


def equal(left: Any, right: Any) -> bool:
    """``==`` as terraform has it: no conversion, so 1 != "1" and true != 1."""
    if type_name(left) != type_name(right):
        if isinstance(left, list) and isinstance(right, list):
            pass  # a list and a tuple with equal elements are equal
        else:
            return False
    if isinstance(left, list):
        return len(left) == len(right) and all(equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    return bool(left == right)


def sorted_items(mapping: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A map's entries in terraform's iteration order: lexical by key."""
    return sorted(mapping.items())


def plain(value: Any) -> Any:
    """The value for consumers outside the language: sets as lists, unknown as None."""
    if value is UNKNOWN or isinstance(value, Namespace):
        return None  # a whole resource or module object is not an argument's value
    if isinstance(value, dict):
        return {key: plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [plain(inner) for inner in value]
    return value
