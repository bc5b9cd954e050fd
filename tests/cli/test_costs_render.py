"""`provisioner costs`: the floor, the coverage, the warnings and the recommendations, as tables."""

from __future__ import annotations

from rich.console import Console

from core.responses import CostsOut
from cost import estimate
from provisioner.cli.render import print_costs_out

HCL = """
resource "aws_instance" "old" { instance_type = "m4.large" }
resource "aws_transfer_server_x" "t" {}
"""


def test_costs_show_the_floor_coverage_and_savings() -> None:
    data = estimate(files={"main.tf": HCL}).to_dict()
    answer = CostsOut.model_validate(
        {"projectId": "p", "estimated": True, "message": "ok", "basis": "code", **data}
    )
    console = Console(record=True, width=200)

    print_costs_out(console, answer)
    out = console.export_text()

    # m4.large 730 x $0.10 + 8 GB x $0.10 = 73.80, a floor: the other resource has no price
    assert "Total ≥ 73.80 a month: 1 of 2 resources priced, 0 free, 1 unpriced." in out
    assert "warning: 1 of 2 resources could not be priced" in out
    # the recommendation, with its saving: 730 x (0.10 - 0.086)
    assert "instance type m4.large → m5a.large" in out
    row = next(line for line in out.splitlines() if "m5a.large" in line)
    assert [cell.strip() for cell in row.split("│")[-4:-1]] == ["73.00", "62.78", "10.22"]
