"""Time the cost estimator on a synthetic 10,000-resource plan and a 2,000-resource HCL config.

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
    blocks = ['provider "aws" {\n  region = "us-east-1"\n}\n', 'variable "size" {\n  default = 20\n}\n']
    for i in range(count):
        kind = i % 4
        if kind == 0:
            blocks.append(
                f'resource "aws_instance" "web{i}" {{\n  instance_type = "{TYPES[i % len(TYPES)]}"\n'
                f'  root_block_device {{\n    volume_size = var.size\n    volume_type = "gp3"\n  }}\n}}\n'
            )
        elif kind == 1:
            blocks.append(
                f'resource "aws_ebs_volume" "v{i}" {{\n  type = "gp3"\n  size = 100\n'
                f'  availability_zone = "us-east-1a"\n}}\n'
            )
        elif kind == 2:
            blocks.append(
                f'resource "aws_db_instance" "d{i}" {{\n  engine = "mysql"\n'
                f'  instance_class = "db.t3.micro"\n  allocated_storage = 20\n}}\n'
            )
        else:
            blocks.append(f'resource "aws_security_group" "s{i}" {{\n  name = "s{i}"\n}}\n')
    # Split over files of 250 resources, as a real configuration would be.
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
    measure("HCL, 2,000 resources", lambda: estimate(files=files).to_dict(), 2.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
