"""Coverage in every answer: N of M priced, K free, U unpriced; a floor marked; a $0 total warned."""

from __future__ import annotations

from typing import Any

import pytest

from core.plans import render_markdown, review_plan
from core.records import DeploymentStatus
from cost import estimate
from functions.logic.costs import project_costs
from functions.logic.review import plan_cost
from tests.support.fakes import Fakes

MIXED = """
resource "aws_instance" "web" { instance_type = "t3.micro" }
resource "aws_instance" "win" { instance_type = "t3.micro" }
resource "aws_iam_role" "r" { name = "r" }
resource "aws_transfer_server_x" "t" {}
"""
WINDOWS = {"aws_instance.win": {"operating_system": "windows"}}


def _answer(hcl: str, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return estimate(files={"main.tf": hcl}, usage=usage).to_dict()


def test_every_resource_is_priced_free_or_unpriced() -> None:
    answer = _answer(MIXED, WINDOWS)
    # web is priced; win's hours are unpriced (Windows), so it counts unpriced; the role is free;
    # the unknown type is unpriced
    assert answer["coverage"] == {
        "resources": 4,
        "priced": 1,
        "free": 1,
        "unpriced": 2,
        "summary": "1 of 4 resources priced, 1 free, 2 unpriced",
    }
    # web 730 x $0.0104 + 8 GB x $0.10, and win's root volume 8 x $0.10: 7.592 + 0.80 + 0.80
    assert answer["costs"]["total"] == 9.19
    assert answer["costs"]["totalIsLowerBound"] is True
    assert answer["totalText"] == "≥ $9.19"
    assert any("2 of 4 resources could not be priced" in w for w in answer["warnings"])


@pytest.mark.parametrize("object_type", ["aws_s3_object", "aws_s3_bucket_object"])
def test_an_object_is_billed_as_its_buckets_storage_not_unpriced(object_type: str) -> None:
    hcl = f"""
resource "aws_s3_bucket" "b" {{ bucket = "b" }}
resource "{object_type}" "o" {{
  bucket  = aws_s3_bucket.b.id
  key     = "index.html"
  content = "hello"
}}
"""
    coverage = _answer(hcl)["coverage"]
    assert (coverage["free"], coverage["unpriced"]) == (1, 0)


def test_a_fully_priced_total_is_not_a_floor() -> None:
    answer = _answer('resource "aws_instance" "web" { instance_type = "t3.micro" }')
    assert answer["coverage"]["summary"] == "1 of 1 resources priced, 0 free, 0 unpriced"
    assert (answer["totalText"], answer["costs"]["totalIsLowerBound"], answer["warnings"]) == (
        "$8.39",
        False,
        [],
    )


@pytest.mark.parametrize(
    ("hcl", "warning"),
    [
        ('resource "aws_transfer_server_x" "t" {}', "Nothing was priced"),
        ('resource "aws_iam_role" "r" { name = "r" }', "Nothing was priced"),
        (
            'resource "aws_lambda_function" "f" { function_name = "f" }',
            "every priced component depends on usage",
        ),
        ('variable "x" { default = 1 }', "No resources were found"),
    ],
)
def test_a_zero_total_always_says_why(hcl: str, warning: str) -> None:
    answer = _answer(hcl)
    assert answer["costs"]["total"] == 0.0
    assert any(warning in w for w in answer["warnings"]), answer["warnings"]


def _plan() -> dict[str, Any]:
    def change(address: str, kind: str, after: dict[str, Any]) -> dict[str, Any]:
        return {
            "address": address,
            "mode": "managed",
            "type": kind,
            "change": {"actions": ["create"], "after": after},
        }

    return {
        "format_version": "1.2",
        "resource_changes": [
            change("aws_instance.a", "aws_instance", {"instance_type": "m4.large"}),
            change("aws_iam_role.r", "aws_iam_role", {"name": "r"}),
            change("aws_transfer_server_x.t", "aws_transfer_server_x", {}),
        ],
    }


def test_the_plan_review_counts_coverage_and_renders_the_floor_and_savings() -> None:
    cost = plan_cost(_plan(), "us-east-1")
    # m4.large 730 x $0.10 + 8 GB x $0.10 = 73.80, a floor: one resource has no price
    assert (cost["priced"], cost["free"], cost["unpriced"], cost["total"]) == (1, 1, 1, 3)
    assert (cost["proposed"], cost["lowerBound"]) == (73.80, True)
    assert (
        cost["recommendations"][0]["rule"] == "ec2-graviton"
        or cost["recommendations"][0]["monthlySaving"] > 0
    )

    markdown = render_markdown(review_plan(_plan()), project_id="p", job_id="j", cost=cost)

    assert "**Monthly cost:** $0.00 → ≥ $73.80 (+$73.80)" in markdown
    assert "1 of 3 resources priced, 1 free, 1 unpriced, so the total is a lower bound." in markdown
    # m4.large -> m5a.large saves 730 x (0.10 - 0.086) = 10.22
    assert "| $10.22 | `aws_instance.a` | `instance type m4.large → m5a.large` |" in markdown


def test_markdown_recommendations_and_warnings_are_not_markup() -> None:
    cost = {
        "prior": 0.0,
        "proposed": 0.0,
        "delta": 0.0,
        "priced": 0,
        "total": 1,
        "free": 0,
        "unpriced": 1,
        "warnings": ["Nothing was priced <script>x</script>"],
        "recommendations": [{"address": 'aws_x.y["|`"]', "change": "a | b", "monthlySaving": 1.5}],
    }
    markdown = render_markdown(review_plan(_plan()), project_id="p", job_id="j", cost=cost)
    assert "<script>" not in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| $1.50"))
    # the cells are code spans: a pipe in them cannot open another column
    assert row.count(" | ") == 2


def test_the_costs_answer_carries_coverage_warnings_and_recommendations() -> None:
    fakes = Fakes()
    fakes.code.put("p", "job-1", {"main.tf": MIXED + '\nresource "aws_eip" "idle" { domain = "vpc" }\n'})
    fakes.projects.items["p"] = {
        "projectId": "p",
        "codeJobId": "job-1",
        "deploymentStatus": DeploymentStatus.FAILED,
    }

    answer = project_costs(fakes.readers(), "p").model_dump(mode="json")

    # no usage file here: both instances are priced (Linux), the unknown type is not
    assert answer["coverage"]["summary"] == "3 of 5 resources priced, 1 free, 1 unpriced"
    assert answer["costs"]["totalIsLowerBound"] is True
    # 2 x (730 x $0.0104 + 8 GB x $0.10) + the idle address 730 x $0.005 = 16.784 + 3.65
    assert answer["totalText"] == "≥ $20.43"
    idle = next(r for r in answer["recommendations"] if r["rule"] == "eip-unattached")
    assert idle == {
        "address": "aws_eip.idle",
        "rule": "eip-unattached",
        "change": "release the Elastic IP (or attach it)",
        "currentMonthly": 3.65,
        "recommendedMonthly": 0.0,
        "monthlySaving": 3.65,
        "reason": idle["reason"],
    }
