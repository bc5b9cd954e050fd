"""Terraform's built-in functions, each against results worked out from terraform's documentation."""

from __future__ import annotations

from typing import Any

import pytest

from core.hcl.expression import Env, EvalError, parse_expression
from core.hcl.functions import FUNCTIONS, MAX_RANGE
from core.hcl.values import UNKNOWN, TfSet


def value(text: str) -> Any:
    return parse_expression(text).evaluate(Env({}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # collections
        ('toset(["b", "a", "b"])', ["a", "b"]),
        ('toset(["a", 1])', ["1", "a"]),  # one element type: strings
        ('tolist(toset(["c", "a"]))', ["a", "c"]),
        ('tomap({a = "x"})', {"a": "x"}),
        ('tolist(["a", 1, true, null])', ["a", "1", "true", None]),  # strings win here too
        ('tomap({a = 1, b = "x"})', {"a": "1", "b": "x"}),
        ("tolist([1, 2])", [1, 2]),
        ("keys({b = 1, a = 2})", ["a", "b"]),
        ("values({b = 1, a = 2})", [2, 1]),
        ('length("héllo")', 5),
        ("length({a = 1, b = 2})", 2),
        ('lookup({a = "x"}, "a", "d")', "x"),
        ('lookup({a = "x"}, "z", "d")', "d"),
        ("merge({a = 1, b = 1}, {b = 2}, null)", {"a": 1, "b": 2}),
        ('concat(["a"], ["b", "c"])', ["a", "b", "c"]),
        ('flatten([["a", ["b"]], [], "c"])', ["a", "b", "c"]),
        ("range(3)", [0, 1, 2]),
        ("range(1, 4)", [1, 2, 3]),
        ("range(10, 0, -4)", [10, 6, 2]),
        ("range(4, 1)", [4, 3, 2]),  # no step: -1 when counting down
        ("range(0, 1, 0.25)", [0, 0.25, 0.5, 0.75]),
        ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
        ('element(["a", "b", "c"], 4)', "b"),  # wraps around
        ('index(["a", "b"], "b")', 1),
        ('coalesce("", null, "x", "y")', "x"),
        ('coalescelist([], ["a"])', ["a"]),
        ('contains(["a", "b"], "b")', True),
        ('contains(["1"], 1)', False),
        ('distinct(["a", "b", "a", "c"])', ["a", "b", "c"]),
        ('sort(["b", "a", "10", "9"])', ["10", "9", "a", "b"]),
        ('reverse(["a", "b"])', ["b", "a"]),
        ('slice(["a", "b", "c", "d"], 1, 3)', ["b", "c"]),
        ('compact(["a", "", null, "b"])', ["a", "b"]),
        ('one(["x"])', "x"),
        ("one([])", None),
        ("chunklist([1, 2, 3], 2)", [[1, 2], [3]]),
        ('setunion(["b"], ["a", "b"])', ["a", "b"]),
        ('setintersection(["a", "b"], ["b", "c"])', ["b"]),
        ('setsubtract(["a", "b"], ["b"])', ["a"]),
        ('alltrue([true, "true"])', True),
        ("anytrue([false])", False),
        ("sum([1, 2.5])", 3.5),
        # numbers
        ("min(3, 1, 2)", 1),
        ("max(3, 1, 2)", 3),
        ("abs(-2.5)", 2.5),
        ("ceil(1.2)", 2),
        ("floor(-1.2)", -2),
        ("signum(-4)", -1),
        ("pow(2, 10)", 1024),
        ("log(8, 2)", 3),
        ('parseint("ff", 16)', 255),
        # strings
        ('format("%s-%03d", "web", 7)', "web-007"),
        ('format("%.2f|%5s|%-3s|", 3.14159, "ab", "c")', "3.14|   ab|c  |"),
        ('format("%v %t %q %x %%", 1.5, true, "hi", 255)', '1.5 true "hi" ff %'),
        ('format("%[2]s %[1]s", "a", "b")', "b a"),
        ('formatlist("%s=%s", ["a", "b"], "x")', ["a=x", "b=x"]),
        ('join("-", ["a", "b"], ["c"])', "a-b-c"),
        ('split(",", "a,b,,c")', ["a", "b", "", "c"]),
        ('split(",", "")', [""]),
        ('lower("AbC")', "abc"),
        ('upper("AbC")', "ABC"),
        ('title("hello world")', "Hello World"),
        ('replace("a-b-c", "-", "_")', "a_b_c"),
        ('replace("web01", "/[0-9]+/", "N")', "webN"),
        ('replace("k=v", "/(\\\\w)=(\\\\w)/", "$2=$1")', "v=k"),
        ('substr("hello world", 1, 4)', "ello"),
        ('substr("hello world", -5, -1)', "world"),
        ('substr("hello", 2, 100)', "llo"),
        ('trimspace("  x \\n")', "x"),
        ('trim("?!x!?", "!?")', "x"),
        ('trimprefix("pre-x", "pre-")', "x"),
        ('trimsuffix("x.tf", ".tf")', "x"),
        ('startswith("abc", "ab")', True),
        ('endswith("abc", "bc")', True),
        ('strrev("abc")', "cba"),
        ('chomp("x\\n\\n")', "x"),
        ('regex("[a-z]+-(\\\\d+)", "web-12")', ["12"]),
        ('regexall("\\\\d", "a1b2")', ["1", "2"]),
        # types and encodings
        ("tostring(1.5)", "1.5"),
        ("tostring(true)", "true"),
        ('tonumber("12")', 12),
        ('tonumber("0.5")', 0.5),
        ("tonumber(null)", None),
        ('tobool("true")', True),
        ('jsonencode({b = [1, true, null], a = "<&>"})', '{"a":"\\u003c\\u0026\\u003e","b":[1,true,null]}'),
        ("jsonencode(2.0)", "2"),
        ('jsondecode("{\\"a\\": [1, 2]}")', {"a": [1, 2]}),
        ('base64encode("hi")', "aGk="),
        ('base64decode("aGk=")', "hi"),
        ('md5("x")', "9dd4e461268c8034f5c8564e155c67a6"),
        ('sha256("")', "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        # networks
        ('cidrsubnet("10.0.0.0/16", 8, 2)', "10.0.2.0/24"),
        ('cidrsubnet("10.1.2.0/24", 4, 15)', "10.1.2.240/28"),
        ('cidrsubnet("fd00:fd12:3456:7890::/56", 16, 162)', "fd00:fd12:3456:7800:a200::/72"),
        (
            'cidrsubnets("10.1.0.0/16", 4, 4, 8, 4)',
            ["10.1.0.0/20", "10.1.16.0/20", "10.1.32.0/24", "10.1.48.0/20"],
        ),
        ('cidrhost("10.12.112.0/20", 16)', "10.12.112.16"),
        ('cidrhost("10.12.112.0/20", -2)', "10.12.127.254"),
        ('cidrnetmask("172.16.0.0/12")', "255.240.0.0"),
    ],
)
def test_each_function_gives_terraforms_documented_result(text: str, expected: Any) -> None:
    assert value(text) == expected


def test_toset_gives_a_set_that_for_each_accepts() -> None:
    result = value('toset(["b", "a"])')
    assert isinstance(result, TfSet)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('lookup({a = 1}, "b")', 'no key "b"'),
        ('coalesce("", null)', "no non-null"),
        ("element([], 0)", "empty"),
        ('element(["a"], -1)', "negative"),
        ('slice(["a"], 0, 2)', "outside"),
        ('index(["a"], "z")', "not in the list"),
        ('zipmap(["a"], [])', "different lengths"),
        ("range(0, 5, -1)", "towards the limit"),
        (f"range({MAX_RANGE + 1})", "more than"),
        ('cidrsubnet("10.0.0.0/16", 8, 256)', "does not fit"),
        ('cidrsubnet("10.0.0.0/30", 8, 0)', "cannot extend"),
        ('cidrhost("10.0.0.0/30", 4)', "no host number"),
        ('tonumber("ten")', 'cannot convert "ten"'),
        ('format("%d", 1.5)', "whole number"),
        ('format("%s %s", "a")', "not enough arguments"),
        ("length(1)", "needs a string, list, set or map"),
        ('one(["a", "b"])', "more than one"),
        ("sum([])", "empty"),
        ("max()", "at least one"),
        ('jsondecode("{")', "not valid JSON"),
        ('merge({a = 1}, ["b"])', "not a map"),
        ("upper(1, 2)", "takes 1 arguments"),
    ],
)
def test_bad_arguments_are_the_error_terraform_reports(text: str, message: str) -> None:
    with pytest.raises(EvalError, match=message):
        value(text)


@pytest.mark.parametrize(
    "text",
    [
        "upper(aws_instance.x.id)",
        'join(",", ["a", aws_instance.x.id])',
        'toset(["a", aws_instance.x.id])',
        'contains(["a", aws_instance.x.id], "b")',
        "jsonencode({a = aws_instance.x.id})",
        'sort(["b", aws_instance.x.id])',
    ],
)
def test_an_unknown_argument_that_decides_the_result_makes_it_unknown(text: str) -> None:
    assert value(text) is UNKNOWN


def test_functions_that_read_only_the_known_parts_stay_known() -> None:
    assert value('length(["a", aws_instance.x.id])') == 2
    assert value('contains(["a", aws_instance.x.id], "a")') is True
    assert value("keys({a = aws_instance.x.id})") == ["a"]
    assert value('lookup({a = aws_instance.x.id, b = "y"}, "b")') == "y"


def test_every_function_the_brief_names_is_built_in() -> None:
    named = [
        "toset",
        "tolist",
        "tomap",
        "keys",
        "values",
        "length",
        "lookup",
        "merge",
        "concat",
        "flatten",
        "range",
        "zipmap",
        "element",
        "coalesce",
        "format",
        "join",
        "split",
        "lower",
        "upper",
        "replace",
        "jsonencode",
        "cidrsubnet",
        "min",
        "max",
        "contains",
        "distinct",
        "sort",
        "slice",
        "substr",
        "trimspace",
        "abs",
        "ceil",
        "floor",
        "tostring",
        "tonumber",
    ]
    assert [name for name in named if name not in FUNCTIONS] == []
