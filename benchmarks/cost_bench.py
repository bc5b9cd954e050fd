"""Time the cost estimator on a synthetic 10,000-resource plan and a 2,000-resource HCL config
(written with expressions: for_each, conditionals, locals, functions, templates).

Targets: plan < 0.5 s, HCL < 2 s on the project's 2-core machine. Prints wall time and peak
memory (tracemalloc, measured in a separate run so it does not slow the timed one).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from cost import estimate, load_catalog

TYPES = ("t3.micro", "m5.large", "c5.xlarge", "r6g.large")


def synthetic_plan(count: int) -> dict[str, Any]:
    changes: list[dict[str, Any]] = []
    for i in range(count):
        kind = i % 5
        if kind == 0:
            changes.append(
                _change(
                    f"aws_instance.web[{i}]",
                    "aws_instance",
                    {
                        "instance_type": TYPES[i % len(TYPES)],
                        "root_block_device": [{"volume_size": 20, "volume_type": "gp3"}],
                        "ebs_block_device": [],
                    },
                )
            )
        elif kind == 1:
            changes.append(_change(f"aws_ebs_volume.v[{i}]", "aws_ebs_volume", {"type": "gp3", "size": 100}))
        elif kind == 2:
            changes.append(
                _change(
                    f"aws_db_instance.d[{i}]",
                    "aws_db_instance",
                    {
                        "engine": "postgres",
                        "instance_class": "db.t3.medium",
                        "allocated_storage": 50,
                        "multi_az": i % 2 == 0,
                    },
                )
            )
        elif kind == 3:
            changes.append(
                _change(f"aws_lambda_function.f[{i}]", "aws_lambda_function", {"memory_size": 256})
            )
        else:
            changes.append(_change(f"aws_security_group.s[{i}]", "aws_security_group", {"name": "s"}))
    return {
        "resource_changes": changes,
        "configuration": {
            "provider_config": {
                "aws": {"name": "aws", "expressions": {"region": {"constant_value": "us-east-1"}}}
            }
        },
    }


def _change(address: str, resource_type: str, after: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": resource_type,
        "change": {"actions": ["create"], "before": None, "after": after},
    }


def synthetic_hcl(count: int) -> dict[str, str]:
    """``count`` resource instances written as people write them: typed variables, locals over
    locals, for_each over toset() and over a map of objects, counts from conditionals,
    templates, function calls and a dynamic block."""
    blocks = [
        'provider "aws" {\n  region = local.region\n}\n',
        'variable "size" {\n  type    = number\n  default = "20"\n}\n',
        'variable "env" {\n  default = "prod"\n}\n',
        'variable "types" {\n  type    = list(string)\n  default = ["' + '", "'.join(TYPES) + '"]\n}\n',
        "locals {\n"
        '  tags     = merge({ env = var.env }, { owner = "bench" })\n'
        '  is_prod  = var.env == "prod"\n'
        '  region   = local.is_prod ? "us-east-1" : "us-west-2"\n'
        '  zones    = [for z in ["a", "b"] : "${local.region}${z}"]\n'
        '  db_class = local.is_prod ? "db.t3.micro" : "db.t3.small"\n'
        '  servers  = { api = { type = "m5.large", disk = 30 }, web = { type = "t3.micro", disk = 10 } }\n'
        "}\n",
    ]
    made = 0
    i = 0
    while made < count:
        kind = i % 4
        if kind == 0:  # two instances from a map of objects, a dynamic block and templates
            blocks.append(
                f'resource "aws_instance" "web{i}" {{\n  for_each      = local.servers\n'
                f"  instance_type = each.value.type\n"
                f'  tags          = merge(local.tags, {{ Name = "web-{i}-${{each.key}}" }})\n'
                f"  root_block_device {{\n    volume_size = max(var.size, each.value.disk)\n"
                f'    volume_type = "gp3"\n  }}\n'
                f'  dynamic "ebs_block_device" {{\n    for_each = var.env == "prod" ? [100] : []\n'
                f"    content {{\n      volume_size = ebs_block_device.value\n    }}\n  }}\n}}\n"
            )
            made += 2
        elif kind == 1:  # one volume per zone, from toset()
            blocks.append(
                f'resource "aws_ebs_volume" "v{i}" {{\n  for_each          = toset(local.zones)\n'
                f'  type              = lower("GP3")\n  size              = var.size * 5\n'
                f"  availability_zone = each.key\n}}\n"
            )
            made += 2
        elif kind == 2:  # a count from a conditional
            blocks.append(
                f'resource "aws_db_instance" "d{i}" {{\n  count             = local.is_prod ? 1 : 0\n'
                f'  engine            = "mysql"\n  instance_class    = local.db_class\n'
                f"  allocated_storage = var.size\n}}\n"
            )
            made += 1
        else:
            blocks.append(
                f'resource "aws_security_group" "s{i}" {{\n  name = format("sg-%05d", {i})\n'
                f'  description = "${{upper(var.env)}} group ${{var.types[{i} % length(var.types)]}}"\n}}\n'
            )
            made += 1
        i += 1
    # Split over files of 250 blocks, as a real configuration would be.
    files: dict[str, str] = {}
    per_file = 250
    for start in range(0, len(blocks), per_file):
        files[f"part{start // per_file:03d}.tf"] = "".join(blocks[start : start + per_file])
    return files


def measure(label: str, run: Callable[[], object], target: float) -> None:
    run()  # warm: the catalog is loaded once per process, like a warm Lambda
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    verdict = "ok" if elapsed < target else "OVER TARGET"
    print(f"{label:<34} {elapsed:7.3f} s  (target < {target:.1f} s, {verdict})  peak {peak / 2**20:6.1f} MiB")


def main() -> int:
    started = time.perf_counter()
    catalog = load_catalog()
    print(
        f"catalog load (cold)                {time.perf_counter() - started:7.3f} s  ({len(catalog)} prices)"
    )
    plan = synthetic_plan(10_000)
    files = synthetic_hcl(2_000)
    measure("plan JSON, 10,000 resources", lambda: estimate(plan=plan).to_dict(), 0.5)
    instances = sum(estimate(files=files).resource_counts.values())
    measure(f"HCL (expressions), {instances:,} resources", lambda: estimate(files=files).to_dict(), 2.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
