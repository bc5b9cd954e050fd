"""Parsing and preflight grow linearly with the input (the API takes up to 2 MiB of code).

CPU time of four times the input is compared with once the input: linear work gives about 4,
quadratic 16; the bound leaves room for a busy machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from core.hcl.config import load_configuration
from core.hcl.preflight import preflight

RESOURCE = (
    'resource "aws_s3_bucket" "b{i}" {{\n  bucket = "name-{i}-${{var.env}}"\n'
    '  tags = {{\n    Policy = file("${{path.module}}/p{i}.json")\n  }}\n}}\n'
)


def many_resources(count: int) -> dict[str, str]:
    return {"main.tf": "".join(RESOURCE.format(i=i) for i in range(count))}


def many_findings_in_one_block(count: int) -> dict[str, str]:
    return {"main.tf": "locals {\n" + "".join(f'  p{i} = file("/etc/x{i}")\n' for i in range(count)) + "}\n"}


def template_file(count: int) -> dict[str, str]:
    return {"main.tf": "", "t.tpl": 'echo ${name} ${file("/etc/x")}\n' * count}


def json_resources(count: int) -> dict[str, str]:
    body = ",\n".join(
        f'"b{i}": {{"bucket": "n{i}", "tags": {{"p": "${{file(\\"x\\")}}"}}}}' for i in range(count)
    )
    return {"main.tf.json": '{"resource": {"aws_s3_bucket": {' + body + "}}}"}


def cost(files: dict[str, str]) -> float:
    best = float("inf")
    for _ in range(2):
        start = time.process_time()
        preflight(load_configuration(files))
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize(
    ("make", "count"),
    [
        (many_resources, 300),
        (many_findings_in_one_block, 1500),
        (template_file, 4000),
        (json_resources, 1500),
    ],
)
def test_four_times_the_input_costs_about_four_times_as_much(
    make: Callable[[int], dict[str, str]], count: int
) -> None:
    cost(make(count // 4))  # warm the parser's cache
    assert cost(make(count * 4)) < 9 * max(cost(make(count)), 0.01)


def test_an_operator_chain_is_refused_without_quadratic_work() -> None:
    # Given 100,000 chained operators (python-hcl2 copies the text once per level)
    text = "locals {\n  d = 1" + " + 1" * 100_000 + "\n}\n"
    start = time.process_time()
    configuration = load_configuration({"main.tf": text})
    # Then the file is refused as too complex, in about the time it takes to read it
    assert [e.code for e in configuration.syntax_errors] == ["syntax_error"]
    assert time.process_time() - start < 30
