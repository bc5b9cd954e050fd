"""Strings and templates decoded as terraform decodes them, where python-hcl2 alone does not."""

from __future__ import annotations

import pytest
from hcl2.api import loads

from core.hcl.config import load_configuration
from core.hcl.native import parse_native
from core.hcl.syntax import (
    DecodeError,
    decode_escapes,
    find_calls,
    quote_template,
    render_template,
    template_literal,
    template_parts,
)

FILE = frozenset({"file", "fileset", "templatefile"})


def test_python_hcl2_alone_leaves_unicode_escapes_undecoded() -> None:
    # Given python-hcl2's own output, the reason this module exists
    raw = loads('resource "a" "b" {\n  provisioner "local\\u002dexec" {}\n  s = "./\\u002e\\u002e/x"\n}\n')
    body = raw["resource"][0]["a"]["b"]
    # Then the label and the string keep their escapes, so a comparison with "local-exec" fails
    assert next(iter(body["provisioner"][0])) == "local\\u002dexec"
    assert body["s"] == "./\\u002e\\u002e/x"
    # and an escaped backslash before "u" comes out the same as an escape: the text is ambiguous
    assert loads('s = "\\\\u002d"\n')["s"] == "\\u002d"


def test_labels_and_strings_are_decoded_as_terraform_does() -> None:
    document = parse_native(
        'resource "a" "b" {\n'
        '  provisioner "local\\u002dexec" {}\n'
        '  s = "./\\u002e\\u002e/x"\n'
        '  t = "\\\\u002d"\n'
        '  u = "tab\\t\\"q\\" \\U0001F600 $${lit} %%{lit}"\n'
        "}\n"
    )
    body = document["resource"][0]["a"]["b"]
    assert list(body["provisioner"][0]) == ["local-exec"]
    assert body["s"] == "./../x"
    # an escaped backslash followed by "u002d" is those characters, not an escape
    assert body["t"] == "\\u002d"
    # template escapes stay in template form: literal "${" reads "$${"
    assert body["u"] == 'tab\t"q" \U0001f600 $${lit} %%{lit}'
    assert template_literal(body["u"]) == 'tab\t"q" \U0001f600 ${lit} %{lit}'


@pytest.mark.parametrize("escape", ["\\q", "\\u12", "\\U0001F6", "\\uD800", "\\U00110000"])
def test_an_undecodable_escape_is_refused(escape: str) -> None:
    with pytest.raises(DecodeError):
        decode_escapes(f"a{escape}")
    configuration = load_configuration({"main.tf": f'locals {{\n  a = "x{escape}"\n}}\n'})
    assert [(e.code, e.line) for e in configuration.syntax_errors] == [("invalid_escape", 2)]


def test_a_lone_backslash_is_refused() -> None:
    with pytest.raises(DecodeError):
        decode_escapes("a\\")


@pytest.mark.parametrize(
    "label",
    ['"${var.kind}"', '"local-${x}"', '"%{ if true }local-exec%{ endif }"'],
)
def test_a_template_in_a_label_is_refused(label: str) -> None:
    configuration = load_configuration(
        {"main.tf": f'resource "null_resource" "x" {{\n  provisioner {label} {{}}\n}}\n'}
    )
    assert [e.code for e in configuration.syntax_errors] == ["non_literal_label"]


def test_a_label_escape_for_a_dollar_sign_is_a_literal_label() -> None:
    document = parse_native('resource "a" "$${x}" {}\n')
    assert list(document["resource"][0]["a"]) == ["${x}"]


def test_an_escaped_dollar_before_an_interpolation_is_still_an_interpolation() -> None:
    # Given "\u0024${...}": terraform reads a literal "$" and then evaluates the interpolation
    document = parse_native('a = "\\u0024${file("/etc/passwd")}"\nb = "\\u0024{file(\\"x\\")}"\n')
    # Then the template form keeps the interpolation evaluated, and the other one literal
    assert [c.arguments for c in find_calls(document["a"], FILE)] == [("/etc/passwd",)]
    assert template_literal(document["b"]) == '${file("x")}'
    assert list(find_calls(document["b"], FILE)) == []


def test_heredocs_have_no_backslash_escapes() -> None:
    document = parse_native('a = <<EOT\nx\\n ${var.y} "q"\nEOT\n')
    assert document["a"] == 'x\\n ${var.y} "q"'


def test_nested_values_print_as_hcl_not_python() -> None:
    document = parse_native(
        'a = var.c ? ["x"] : []\nb = templatefile("t", {k = "v\\"w", f = file("q")})\nc = 1.5e3\n'
    )
    assert document["a"] == '${var.c ? ["x"] : []}'
    assert document["b"] == '${templatefile("t", {"k": "v\\"w", "f": "${file("q")}"})}'
    assert document["c"] == "${1.5e3}"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('${file("/etc/passwd")}', [("file", ("/etc/passwd",))]),
        ('${format("%s", "${file("x")}")}', [("file", ("x",))]),
        ('${file("a" + "b")}', [("file", (None,))]),
        ("${file(var.x)}", [("file", (None,))]),
        ('${fileset("a", "../*")}', [("fileset", ("a", "../*"))]),
        ('${file("\\u002e\\u002e/x")}', [("file", ("../x",))]),
        ('${ # a comment " \n file("y") }', [("file", ("y",))]),
        ('${<<EOT\n${file("z")} "\nEOT\n} ${file("w")}', [("file", ("z",)), ("file", ("w",))]),
        ('$${file("escaped")}', []),
        ('$$${file("after two dollars")}', []),
        ('${core::file("/x")}', [("file", ("/x",))]),
        ('${file /* gap */ ("/x")}', [("file", ("/x",))]),
        (
            '%{ for f in fileset("x", "*") }${file(f)}%{ endfor }',
            [("fileset", ("x", "*")), ("file", (None,))],
        ),
        ('plain text file("not code")', []),
        ('${my-file("x")}', []),
    ],
)
def test_calls_are_found_wherever_terraform_evaluates(
    template: str, expected: list[tuple[str, tuple[str | None, ...]]]
) -> None:
    assert [(c.name, c.arguments) for c in find_calls(template, FILE)] == expected


def test_template_parts_round_trip_through_quoting() -> None:
    parts = template_parts('a\\"b $${x} ${f("y\\"z")} \\u0024${v}', quoted=True)
    assert render_template(parts) == 'a"b $${x} ${f("y\\"z")} ${"$"}${v}'
    # quoting then reading again gives the same template (the held "$" as an interpolation)
    assert render_template(template_parts(quote_template(parts)[1:-1], quoted=True)) == render_template(parts)
