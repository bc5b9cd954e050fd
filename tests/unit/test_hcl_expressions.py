"""HCL expressions evaluated as terraform evaluates them: one case per construct, worked by hand."""

from __future__ import annotations

from typing import Any

import pytest

from core.hcl.expression import Env, EvalError, Namespace, ParseError, parse_expression, parse_template
from core.hcl.values import UNKNOWN, TfSet

VARIABLES: dict[str, Any] = {
    "n": 3,
    "name": "web",
    "m": {"b": "y", "a": "x"},
    "servers": [{"id": "i-1", "tags": {"k": "1"}}, {"id": "i-2", "tags": {"k": "2"}}],
    "flag": True,
    "nothing": None,
    "words": ["one", "two", "three"],
}


def env(**names: Any) -> Env:
    roots = {
        "var": Namespace(lambda name: VARIABLES.get(name, UNKNOWN)),
        "count": {"index": 1},
        "each": {"key": "a", "value": {"size": 10}},
    }
    return Env(roots, names)


def value(text: str) -> Any:
    return parse_expression(text).evaluate(env())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # literals
        ("42", 42),
        ("1.5", 1.5),
        ("1e3", 1000),
        ('"plain"', "plain"),
        ('"tab\\there \\"quoted\\" \\u00e9"', 'tab\there "quoted" é'),
        ("true", True),
        ("null", None),
        ('[1, "two", false]', [1, "two", False]),
        ('{a = 1, "b" = 2, c: 3}', {"a": 1, "b": 2, "c": 3}),
        ("{ (var.name) = 1 }", {"web": 1}),
        # precedence: * before +, comparison before &&, && before ||, left associative
        ("2 * 3 + 1", 7),
        ("1 + 2 * 3", 7),
        ("10 - 4 - 3", 3),
        ("(1 + 2) * 3", 9),
        ("12 / 4 / 3", 1),
        ("7 / 2", 3.5),
        ("-7 % 3", -1),  # the sign of the dividend, as in Go
        ("7 % -3", 1),
        ("1 + 2 > 2 && 3 < 2 || true", True),
        ("!var.flag", False),
        ("-var.n", -3),
        ('"5" + 1', 6),  # operands convert to numbers
        ('1 == "1"', False),  # == never converts
        ("1 == 1.0", True),
        ('[1, "a"] == [1, "a"]', True),
        ("var.nothing == null", True),
        # conditionals
        ('var.n > 2 ? "big" : "small"', "big"),
        ('var.n > 5 ? "big" : "small"', "small"),
        ("var.flag ? 1 : aws_instance.x.id", 1),  # the branch not taken may be unknown
        # references, index and attribute access
        ("var.name", "web"),
        ('var.m["a"]', "x"),
        ("var.m.b", "y"),
        ("var.servers[1].id", "i-2"),
        ("var.servers.0.id", "i-1"),  # the legacy index form
        ('var.servers[0].tags["k"]', "1"),
        ("count.index", 1),
        ("each.key", "a"),
        ("each.value.size * 2", 20),
        # splats
        ("var.servers[*].id", ["i-1", "i-2"]),
        ("var.servers.*.id", ["i-1", "i-2"]),
        ('var.servers[*].tags["k"]', ["1", "2"]),
        ("var.nothing[*]", []),
        ("var.m[*]", [{"b": "y", "a": "x"}]),  # a single value splats to a list of one
        # for expressions: maps iterate in key order
        ("[for w in var.words : upper(w)]", ["ONE", "TWO", "THREE"]),
        ('[for i, w in var.words : i if w != "two"]', [0, 2]),
        ("[for k, v in var.m : k]", ["a", "b"]),
        ("{for k, v in var.m : v => k}", {"x": "a", "y": "b"}),
        ("{for w in var.words : length(w) => w...}", {"3": ["one", "two"], "5": ["three"]}),
        ('[for s in var.servers : s.id if s.tags.k == "2"]', ["i-2"]),
        # templates
        ('"${var.name}-${var.n + 1}"', "web-4"),
        ('"${var.n}"', 3),  # a lone interpolation keeps its type
        ('"a-$${literal}"', "a-${literal}"),
        ('"%{ if var.flag }on%{ else }off%{ endif }"', "on"),
        ('"%{ for w in var.words }${w},%{ endfor }"', "one,two,three,"),
        ('"x ${~ "y" ~} z"', "xyz"),
        ('"${true} ${1.5}"', "true 1.5"),
        # function calls, with expansion
        ("max(var.n, 7, 2)", 7),
        ("max([4, 9, 1]...)", 9),
        ("length(var.words)", 3),
    ],
)
def test_each_construct_evaluates_as_terraform_does(text: str, expected: Any) -> None:
    assert value(text) == expected


def test_a_heredoc_is_a_template_and_its_indented_form_loses_the_indentation() -> None:
    # Given a heredoc and an indented heredoc, each interpolating a variable
    plain = parse_expression("<<EOT\nname: ${var.name}\n  kept\nEOT\n").evaluate(env())
    indented = parse_expression("<<-EOT\n    name: ${var.name}\n      two\n    EOT\n").evaluate(env())
    # Then each line is kept with its newline; the indented form strips the common indent
    assert plain == "name: web\n  kept\n"
    assert indented == "name: web\n  two\n"


def test_a_template_form_string_is_read_as_the_document_holds_it() -> None:
    # Given the template form python-hcl2 gives (a document's strings)
    assert parse_template("size-${var.n * 2}").evaluate(env()) == "size-6"
    assert parse_template("no sequences, $${escaped}").evaluate(env()) == "no sequences, ${escaped}"
    assert parse_template("${var.m}").evaluate(env()) == {"b": "y", "a": "x"}


@pytest.mark.parametrize(
    "text",
    [
        "aws_instance.web.id",
        "data.aws_ami.ubuntu.id",
        "var.undeclared",
        "aws_instance.web[*].id",
        '"prefix-${aws_instance.web.id}"',
        'aws_instance.web.id == "x"',
        "length(aws_subnet.all.ids)",
        "var.flag && aws_instance.x.ok",
        "aws_instance.x.ok ? 1 : 2",
        "[for s in aws_subnet.all : s.id]",
        'file("user-data.sh")',  # functions that read the world
        "timestamp()",
    ],
)
def test_what_is_known_only_after_apply_stays_unknown(text: str) -> None:
    assert value(text) is UNKNOWN


def test_unknown_elements_do_not_make_the_collection_unknown() -> None:
    # A list holding an unknown still has a known length and known other elements
    assert value('length(["a", aws_instance.x.id])') == 2
    assert value('["a", aws_instance.x.id][0]') == "a"
    # ...and a known side of && or || that decides the result wins over an unknown one
    assert value("false && aws_instance.x.ok") is False
    assert value("true || aws_instance.x.ok") is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"a" + 1', 'cannot convert "a" to a number'),
        ("var.m.missing", 'no attribute "missing"'),
        ("var.words[5]", "outside a list of 3"),
        ("1 / 0", "division by zero"),
        ('"x-${var.nothing}"', "null value"),
        ('{for w in ["a", "a"] : w => 1}', 'duplicate key "a"'),
        ('toset(["a"])[0]', "cannot be indexed"),
    ],
)
def test_what_terraform_refuses_is_an_error_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(EvalError, match=message):
        value(text)


@pytest.mark.parametrize("text", ["1 +", "(1", "[1, 2", '"open', "a ? b", "{a = }", "%"])
def test_text_that_is_not_an_expression_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_expression(text)


def test_deep_nesting_is_refused_rather_than_exhausting_the_stack() -> None:
    with pytest.raises(ParseError, match="nested too deeply"):
        parse_expression("(" * 500 + "1" + ")" * 500)
    with pytest.raises(ParseError, match="nested too deeply"):
        parse_expression("!" * 5000 + "true")


def test_try_and_can_catch_errors_but_not_unknowns() -> None:
    assert value('try(var.m.missing, "fallback")') == "fallback"
    assert value("try(var.m.a, 1)") == "x"
    assert value("can(var.m.missing)") is False
    assert value("can(var.m.a)") is True
    # terraform cannot tell yet whether an unknown would fail
    assert value('try(aws_instance.x.id, "fallback")') is UNKNOWN
    assert value("can(aws_instance.x.id)") is UNKNOWN


def test_for_expressions_over_sets_yield_each_element_as_key_and_value() -> None:
    names = env(s=TfSet(["a", "b"]))
    assert parse_expression("{for k, v in s : k => v}").evaluate(names) == {"a": "a", "b": "b"}
