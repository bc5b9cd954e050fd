"""The sandboxed Rego worker: ``python -m policy`` reads one JSON request on stdin and writes one
JSON answer on stdout. ``policy.rego`` starts it in a fresh process with resource limits, a
minimal environment and a wall-clock timeout; nothing here is trusted to stop a hostile policy.

Request: ``{"op": "compile" | "evaluate", "policies": [{"name", "source", "syntax"}], "input": {...}}``.
Answer: ``{"results": {name: {"package": str} | {"denies": [...], "warnings": [...]}
| {"error": {"message", "line", "column"}}}}``, or ``{"fatal": message}`` when the worker itself
could not go on (then every policy of the request fails).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

import regorus  # type: ignore[import-untyped]  # the package ships no type information

MAX_SOURCE_BYTES = 256 * 1024
MAX_MESSAGE_CHARS = 1000
MAX_MESSAGES = 100
RESULT_RULES = ("deny", "violation", "warn")
FAILURE_RULES = ("deny", "violation")

# regorus's error text: "\n--> policy.rego:4:5\n  |\n4 | ...\n  |     ^\nerror: expecting ..."
_LOCATION = re.compile(r"-->\s*[^\n]*?:(\d+):(\d+)\s*$", re.MULTILINE)
_ERROR_LINE = re.compile(r"^error:\s*(.*)$", re.MULTILINE)
_POLICY_FILE = "policy.rego"


def error_from_text(text: str) -> dict[str, Any]:
    """A regorus error as a message with the line and column it names (when it names them).
    A nested error ("Compilation error: --> inner location ... error: ...") names the innermost."""
    text = text.split("\nStack backtrace:", 1)[0].split("\nCaused by:", 1)[0].strip()
    locations = _LOCATION.findall(text)
    found = [m for m in _ERROR_LINE.findall(text) if m.strip() and m.strip() != "Compilation error:"]
    message = found[-1].strip() if found else text
    if locations:
        line, column = int(locations[-1][0]), int(locations[-1][1])
        message = f"{line}:{column}: {message}"
        return {"message": message[:MAX_MESSAGE_CHARS], "line": line, "column": column}
    return {"message": message[:MAX_MESSAGE_CHARS], "line": None, "column": None}


def _static_errors(source: str, package: str, defined: set[str]) -> dict[str, Any] | None:
    """What regorus's interpreter checks only when a rule runs (unknown functions, unsafe
    variables), found ahead of time by its RVM compiler; v1 only, since that compiler parses v1.
    Only its "Compilation error"s count: anything else it fails on (a feature it lacks) is no
    reason to refuse a policy the interpreter runs."""
    try:
        regorus.Program.compile_from_modules(
            "{}", [(_POLICY_FILE, source)], [f"{package}.{r}" for r in sorted(defined)]
        )
    except RuntimeError as error:
        if "Compilation error" in str(error):
            return error_from_text(str(error))
    return None


def _head_names(ast: Any) -> Iterator[str]:
    """The first name of every rule head in regorus's AST (``deny`` of ``deny contains m if``,
    ``deny[m] {``, ``deny := [...]``, ``default deny := ...``, ``deny.x contains ...``)."""
    for module in ast if isinstance(ast, list) else [ast]:
        rules = (module.get("ast") or {}).get("rules") or [] if isinstance(module, dict) else []
        for rule in rules:
            yield from _ref_var(rule, depth=0)


def _ref_var(node: Any, *, depth: int) -> Iterator[str]:
    """Descend through ``{Kind: {...}}`` wrappers, ``head`` and ``refr`` to the innermost ``Var``."""
    if depth > 64 or not isinstance(node, dict):
        return
    if "Var" in node and isinstance(node["Var"], dict):
        value = node["Var"].get("value")
        if isinstance(value, str):
            yield value
        return
    for key in ("head", "refr"):
        if key in node:
            yield from _ref_var(node[key], depth=depth + 1)
            return
    if len(node) == 1:
        [inner] = node.values()
        yield from _ref_var(inner, depth=depth + 1)


def _message(item: Any) -> str:
    named = item.get("msg", item.get("message")) if isinstance(item, dict) else None
    if isinstance(item, str):
        text = item
    elif isinstance(named, str):
        text = named
    else:
        text = json.dumps(item, separators=(",", ":"), sort_keys=True, default=str)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 3] + "..."
    return text


def items(value: Any, rule: str) -> list[Any]:
    """A result rule's value as its list of findings: a set or array of strings or objects;
    an object rule's keys (``deny[key] := true``) or values; ``true`` alone is one naming the rule."""
    if value is None or value is False:
        return []
    if value is True:
        return [f"{rule} is true"]
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and not isinstance(value.get("msg", value.get("message")), str):
        if all(isinstance(v, bool) for v in value.values()):
            return [key for key, v in value.items() if v]
        return list(value.values())
    return [value]


def capped(found: list[Any]) -> list[str]:
    """Findings as messages (``msg`` or ``message`` of an object, else compact JSON), each at most
    MAX_MESSAGE_CHARS, at most MAX_MESSAGES of them with the rest counted in the last."""
    texts = sorted(_message(item) for item in found)  # sets come back in no promised order
    if len(texts) > MAX_MESSAGES:
        extra = len(texts) - (MAX_MESSAGES - 1)
        texts = [*texts[: MAX_MESSAGES - 1], f"... {extra} more"]
    return texts


def _engine(base: Any | None, syntax: str) -> Any:
    engine = base.clone() if base is not None else regorus.Engine()
    engine.set_rego_v0(syntax == "v0")
    engine.set_gather_prints(True)
    engine.set_policy_length_config(
        max_col=MAX_SOURCE_BYTES, max_file_bytes=MAX_SOURCE_BYTES, max_lines=100_000
    )
    return engine


def _load(engine: Any, source: str) -> tuple[str, set[str]]:
    """Parse one policy into its engine: its package and the result rules it defines."""
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise ValueError(f"policy is {len(source.encode())} bytes, over the limit of {MAX_SOURCE_BYTES}")
    package = engine.add_policy(_POLICY_FILE, source)
    defined = set(_head_names(json.loads(engine.get_ast_as_json()))) & set(RESULT_RULES)
    return str(package), defined


def _first_result(answer: str) -> Any:
    results = json.loads(answer).get("result") or []
    if not results:
        return None  # undefined
    expressions = results[0].get("expressions") or []
    return expressions[0].get("value") if expressions else None


def _run_one(base: Any | None, policy: dict[str, Any], evaluate: bool) -> dict[str, Any]:
    engine = _engine(base, str(policy.get("syntax", "v1")))
    try:
        package, defined = _load(engine, str(policy["source"]))
    except ValueError as error:
        return {"error": {"message": str(error), "line": None, "column": None}}
    except RuntimeError as error:
        return {"error": error_from_text(str(error))}
    if not defined:
        return {
            "error": {
                "message": f"{package} defines none of the result rules {', '.join(RESULT_RULES)}",
                "line": None,
                "column": None,
            }
        }
    if not evaluate:
        syntax_v1 = str(policy.get("syntax", "v1")) == "v1"
        static = _static_errors(str(policy["source"]), package, defined) if syntax_v1 else None
        return {"error": static} if static else {"package": package}
    denies: list[Any] = []
    warnings: list[Any] = []
    for rule in RESULT_RULES:
        if rule not in defined:
            continue
        try:
            value = _first_result(engine.eval_query_as_json(f"{package}.{rule}"))
        except RuntimeError as error:
            return {"error": error_from_text(str(error))}
        (denies if rule in FAILURE_RULES else warnings).extend(items(value, rule))
    return {"denies": capped(denies), "warnings": capped(warnings)}


def run(request: dict[str, Any]) -> dict[str, Any]:
    evaluate = request.get("op") == "evaluate"
    base = None
    if evaluate:
        # The input is parsed into a Rego value once; every policy's engine is a clone of this
        # engine, which holds the input and nothing else, so no policy sees another's rules or data.
        base = regorus.Engine()
        base.set_input_json(json.dumps(request.get("input") or {}, separators=(",", ":")))
    results: dict[str, Any] = {}
    for policy in request.get("policies") or []:
        results[str(policy["name"])] = _run_one(base, policy, evaluate)
    return {"results": results}


def main() -> int:
    # The answer goes to a private copy of stdout; anything the engine or a policy writes to fd 1
    # lands on stderr instead, so it cannot forge or corrupt the answer.
    answer_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        request = json.loads(sys.stdin.buffer.read())
        answer = run(request)
    except MemoryError:
        answer = {"fatal": "out of memory"}
    except Exception as error:  # anything else is reported, never a pass
        answer = {"fatal": f"{type(error).__name__}: {str(error)[:MAX_MESSAGE_CHARS]}"}
    data = json.dumps(answer, separators=(",", ":")).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(answer_fd, view) :]
    return 0


if __name__ == "__main__":
    sys.exit(main())
