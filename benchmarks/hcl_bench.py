"""Parsing and preflight against input size: linear work costs about 4x for 4x the input, quadratic
16x. Prints CPU seconds and the ratio for each shape of input (the API takes up to 2 MiB)."""

from __future__ import annotations

import time
from collections.abc import Callable

from core.hcl.config import load_configuration
from core.hcl.preflight import preflight
from core.requests import MAX_CODE_BYTES

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


SHAPES: list[tuple[Callable[[int], dict[str, str]], int]] = [
    (many_resources, 300),
    (many_findings_in_one_block, 1500),
    (template_file, 4000),
    (json_resources, 1500),
]


def main() -> None:
    for make, count in SHAPES:
        cost(make(count // 4))  # warm the parser's cache
        once, four = cost(make(count)), cost(make(count * 4))
        size = sum(len(text) for text in make(count * 4).values())
        ratio = four / max(once, 1e-3)
        print(f"hcl {make.__name__:28} {size / 2**20:5.2f} MiB  {four:6.2f} s  4x input: {ratio:4.1f}x")
    limit = many_resources(MAX_CODE_BYTES // len(RESOURCE.format(i=99999)))
    start = time.process_time()
    preflight(load_configuration(limit))
    elapsed = time.process_time() - start
    print(f"hcl at the code limit ({MAX_CODE_BYTES / 2**20:.0f} MiB): {elapsed:.1f} s (target: < 29 s)")


if __name__ == "__main__":
    main()
