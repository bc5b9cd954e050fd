"""The command line: same JSON as the API, tables for people, exit codes 0 and 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cost.cli import main

HCL = 'provider "aws" {\n  region = "us-east-1"\n}\nresource "aws_nat_gateway" "n" {\n  subnet_id = "s"\n}\n'


def test_json_output_for_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a directory with one NAT gateway and a usage file
    (tmp_path / "main.tf").write_text(HCL)
    usage = tmp_path / "usage.yml"
    usage.write_text(
        "version: 0.1\nresource_usage:\n  aws_nat_gateway.n:\n    monthly_data_processed_gb: 100\n"
    )
    # When the CLI runs with --json
    code = main([str(tmp_path), "--usage", str(usage), "--json"])
    # Then it exits 0 and prints the report
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["costs"]["total"] == round(0.045 * 730 + 100 * 0.045, 2)


def test_plan_file_and_table_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a plan JSON file
    plan = {
        "resource_changes": [
            {
                "address": "aws_eip.e",
                "mode": "managed",
                "type": "aws_eip",
                "change": {"actions": ["create"], "after": {"domain": "vpc"}},
            }
        ]
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    # When the CLI prints tables
    code = main([str(tmp_path), "--plan", str(path)])
    # Then the resource and the total are shown
    out = capsys.readouterr().out
    assert code == 0
    assert "aws_eip.e" in out and "3.65" in out


@pytest.mark.parametrize("argv", [["/no/such/path"], ["--bogus"], []])
def test_usage_errors_exit_2(argv: list[str], tmp_path: Path) -> None:
    # Given bad arguments / When run / Then exit code 2
    assert main(argv) == 2


def test_bad_usage_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(HCL)
    bad = tmp_path / "usage.yml"
    bad.write_text("version: 7\n")
    assert main([str(tmp_path), "--usage", str(bad)]) == 2
