"""``.tf.json`` read in every shape terraform accepts, duplicates and lines kept."""

from __future__ import annotations

import json

import pytest

from core.hcl.config import Body, load_configuration
from core.hcl.jsonsyntax import parse_json


def blocks(text: str, kind: str) -> list[tuple[tuple[str, ...], dict[str, object]]]:
    configuration = load_configuration({"main.tf.json": text})
    assert configuration.syntax_errors == []
    return [(b.labels, b.body) for b in configuration.blocks(kind)]


@pytest.mark.parametrize(
    "document",
    [
        {"resource": {"null_resource": {"x": {"count": 1}}}},
        {"resource": [{"null_resource": {"x": {"count": 1}}}]},
        {"resource": [{"null_resource": [{"x": [{"count": 1}]}]}]},
        {"resource": {"null_resource": [{"x": {"count": 1}}]}},
        [{"resource": {"null_resource": {"x": {"count": 1}}}}],
    ],
)
def test_every_array_form_gives_the_same_block(document: object) -> None:
    found = blocks(json.dumps(document), "resource")
    assert [(labels, body["count"]) for labels, body in found] == [(("null_resource", "x"), 1)]


def test_an_array_of_bodies_is_several_blocks() -> None:
    found = blocks(
        json.dumps({"resource": {"null_resource": {"x": [{"count": 1}, {"count": 2}]}}}), "resource"
    )
    assert [body["count"] for _labels, body in found] == [1, 2]


def test_duplicate_keys_are_all_kept() -> None:
    # Given the same block type, label and argument given twice in one object
    text = (
        '{"resource": {"null_resource": {"x": {"count": 1}}},\n'
        ' "resource": {"null_resource": {"y": {}, "y": {"count": 3}}},\n'
        ' "module": {"m": {"source": "./a", "source": "git::https://x"}}}'
    )
    # Then every block is there, and both values of the argument
    assert [labels for labels, _body in blocks(text, "resource")] == [
        ("null_resource", "x"),
        ("null_resource", "y"),
        ("null_resource", "y"),
    ]
    assert blocks(text, "module")[0][1]["source"] == ["./a", "git::https://x"]


def test_comments_are_ignored_in_bodies_only() -> None:
    text = json.dumps(
        {"//": "top", "locals": {"//": "in a body", "a": 1}, "module": {"//": {"source": "./m"}}}
    )
    assert {k: v for k, v in blocks(text, "locals")[0][1].items() if not k.startswith("__")} == {"a": 1}
    # at a label level "//" is a label, as terraform reads it
    assert blocks(text, "module")[0][0] == ("//",)


def test_nested_blocks_take_the_native_shape() -> None:
    text = json.dumps(
        {
            "resource": {
                "null_resource": {
                    "x": {
                        "provisioner": [{"local-exec": {"command": "a"}}, {"file": [{"source": "b"}]}],
                        "dynamic": {"ingress": {"for_each": "${var.x}", "content": {"port": 1}}},
                    }
                }
            }
        }
    )
    body = blocks(text, "resource")[0][1]
    assert [list(entry) for entry in body["provisioner"]] == [["local-exec"], ["file"]]  # type: ignore[attr-defined]
    dynamic = body["dynamic"][0]["ingress"]  # type: ignore[index]
    assert dynamic["content"][0]["port"] == 1


@pytest.mark.parametrize(
    "document",
    [
        {"resource": "x"},
        {"resource": {"null_resource": "x"}},
        {"resource": {"null_resource": {"x": [1]}}},
        {"terraform": [{"backend": {"s3": "x"}}]},
        {"resourcez": {}},
        "not an object",
    ],
)
def test_a_shape_terraform_cannot_read_is_refused(document: object) -> None:
    configuration = load_configuration({"main.tf.json": json.dumps(document)})
    assert [e.code for e in configuration.syntax_errors] == ["json_structure"]


@pytest.mark.parametrize("text", ['{"locals": {"a": NaN}}', '{"locals": {"a": 1}', "[" * 100_000])
def test_invalid_json_is_a_syntax_error(text: str) -> None:
    configuration = load_configuration({"main.tf.json": text})
    assert [e.code for e in configuration.syntax_errors] == ["syntax_error"]


def test_bodies_know_their_lines() -> None:
    text = '{\n  "provider": {\n    "aws": {\n      "region": "x",\n      "access_key": "y"\n    }\n  }\n}\n'
    body = parse_json(text)["provider"][0]["aws"]
    assert isinstance(body, Body)
    assert (body.start_line, body.lines["access_key"]) == (3, 5)
