"""Inputs: HCL expansion, plan JSON, redacted plans, state, regions, usage, prior/proposed/delta."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cost import estimate, parse_usage
from cost.catalog import load_catalog
from cost.usage import UsageError

H = 730
CONFIG = """
provider "aws" {
  region = var.region
}
variable "region" {
  default = "us-east-1"
}
variable "web_count" {
  default = 2
}
locals {
  type = "t3.small"
}
resource "aws_instance" "web" {
  count         = var.web_count
  instance_type = local.type
  root_block_device {
    volume_size = 20
    volume_type = "gp3"
  }
}
resource "aws_nat_gateway" "nat" {
  subnet_id = "subnet-1"
}
resource "aws_security_group" "sg" {
  name = "sg"
}
resource "aws_glue_job" "job" {
  name = "job"
}
"""
WEB = 0.0208 * H + 20 * 0.08


def plan_for(region: str = "us-east-1", count: int = 2) -> dict[str, Any]:
    """What `terraform show -json` gives for CONFIG (trimmed to what the estimator reads)."""
    changes: list[dict[str, Any]] = [
        {
            "address": f"aws_instance.web[{i}]",
            "mode": "managed",
            "type": "aws_instance",
            "name": "web",
            "index": i,
            "change": {
                "actions": ["create"],
                "before": None,
                "after": {
                    "instance_type": "t3.small",
                    "tenancy": "default",
                    "root_block_device": [{"volume_size": 20, "volume_type": "gp3", "iops": None}],
                    "ebs_block_device": [],
                },
            },
        }
        for i in range(count)
    ]
    changes += [
        {
            "address": "aws_nat_gateway.nat",
            "mode": "managed",
            "type": "aws_nat_gateway",
            "name": "nat",
            "change": {
                "actions": ["create"],
                "before": None,
                "after": {"subnet_id": "subnet-1", "connectivity_type": "public"},
            },
        },
        {
            "address": "aws_security_group.sg",
            "mode": "managed",
            "type": "aws_security_group",
            "name": "sg",
            "change": {"actions": ["create"], "before": None, "after": {"name": "sg"}},
        },
        {
            "address": "aws_glue_job.job",
            "mode": "managed",
            "type": "aws_glue_job",
            "name": "job",
            "change": {"actions": ["create"], "before": None, "after": {"name": "job"}},
        },
    ]
    return {
        "format_version": "1.2",
        "variables": {"region": {"value": region}, "web_count": {"value": count}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": {
                "aws": {"name": "aws", "expressions": {"region": {"references": ["var.region"]}}},
            },
            "root_module": {"resources": []},
        },
    }


def test_count_expands_and_free_and_unpriced_are_listed() -> None:
    # Given two counted instances, a NAT gateway, a security group and a type with no prices
    # When the HCL is estimated
    report = estimate(files={"main.tf": CONFIG}).to_dict()

    # Then each instance is priced, the group is free and the Glue job is unpriced (never $0)
    assert report["costs"]["compute"] == pytest.approx(round(2 * WEB, 2), abs=0.011)
    assert report["costs"]["networking"] == pytest.approx(0.045 * H)
    assert report["costs"]["resourceCounts"] == {
        "aws_glue_job": 1,
        "aws_instance": 2,
        "aws_nat_gateway": 1,
        "aws_security_group": 1,
    }
    assert report["free"] == [{"address": "aws_security_group.sg", "type": "aws_security_group"}]
    assert [u["address"] for u in report["unpriced"]] == ["aws_glue_job.job"]
    assert {r["address"] for r in report["resources"]} == {
        "aws_instance.web[0]",
        "aws_instance.web[1]",
        "aws_nat_gateway.nat",
    }


def test_for_each_and_tfvars() -> None:
    # Given for_each over a variable map, with its value set in terraform.tfvars
    files = {
        "main.tf": 'variable "sizes" {}\nresource "aws_instance" "w" {\n  for_each = var.sizes\n'
        "  instance_type = each.value\n  root_block_device {\n    volume_size = 10\n  }\n}\n",
        "terraform.tfvars": 'sizes = { a = "t3.micro", b = "m5.large" }\n',
    }
    # When estimated
    report = estimate(files=files).to_dict()
    # Then one resource per key, each at its own type's price
    by_address = {r["address"]: r["monthly"] for r in report["resources"]}
    assert by_address == {
        'aws_instance.w["a"]': round(0.0104 * H + 10 * 0.10, 2),
        'aws_instance.w["b"]': round(0.096 * H + 10 * 0.10, 2),
    }


def test_plan_and_hcl_agree_on_the_same_configuration() -> None:
    # Given the same configuration as HCL and as its plan JSON
    from_hcl = estimate(files={"main.tf": CONFIG}).to_dict()
    from_plan = estimate(plan=plan_for()).to_dict()
    # Then the costs and the breakdown agree
    assert from_plan["costs"] == from_hcl["costs"]
    assert from_plan["resources"] == from_hcl["resources"]
    assert from_plan["unpriced"] == from_hcl["unpriced"]


def test_region_switch_from_variable_and_provider() -> None:
    # Given the same configuration in Ireland, as HCL (variables) and as a plan (variable value)
    hcl = estimate(files={"main.tf": CONFIG}, variables={"region": "eu-west-1"}).to_dict()
    plan = estimate(plan=plan_for("eu-west-1")).to_dict()
    # Then instance hours use eu-west-1's price (0.0228 vs 0.0208), in both inputs
    for report in (hcl, plan):
        assert report["region"] == "eu-west-1"
        hours = report["resources"][0]["components"][0]
        assert hours["unitPrice"] == 0.0228
        assert hours["monthly"] == round(0.0228 * H, 2)
    # And the NAT gateway is priced at Ireland's own rate ($0.048/h, AmazonEC2 offer for eu-west-1),
    # not us-east-1's $0.045: every priced component is a row filed under eu-west-1
    nat = next(r for r in hcl["resources"] if r["address"] == "aws_nat_gateway.nat")
    assert nat["components"][0]["unitPrice"] == 0.048
    catalog = load_catalog()
    for resource in hcl["resources"]:
        for component in resource["components"]:
            price = catalog.lookup(component["priceKey"], "eu-west-1")
            assert price is not None and price.region == "eu-west-1", component


def test_resource_region_attribute_wins_over_provider() -> None:
    # Given an AWS provider 6 plan whose resource sets its own region
    plan = plan_for("us-east-1", count=1)
    plan["resource_changes"][0]["change"]["after"]["region"] = "ap-southeast-1"
    # When estimated / Then that resource is priced in Singapore (t3.small $0.0264/h there)
    report = estimate(plan=plan).to_dict()
    instance = next(r for r in report["resources"] if r["type"] == "aws_instance")
    assert instance["region"] == "ap-southeast-1"
    assert instance["components"][0]["unitPrice"] == 0.0264


def test_default_region_applies_without_provider_region() -> None:
    # Given a plan whose provider sets no region / When estimated with an install default
    plan = plan_for()
    plan["configuration"]["provider_config"]["aws"]["expressions"] = {}
    plan.pop("variables")
    report = estimate(plan=plan, default_region="us-west-2").to_dict()
    # Then the default region is used
    assert report["region"] == "us-west-2"


def test_redacted_plan_values_are_unknown_not_errors() -> None:
    # Given a redacted plan (the runner replaces sensitive values with "(sensitive)")
    plan = plan_for(count=1)
    plan["resource_changes"][0]["change"]["after"]["instance_type"] = "(sensitive)"
    # When estimated
    report = estimate(plan=plan).to_dict()
    # Then instance hours are unpriced with a reason and the rest is still priced
    assert {
        "address": "aws_instance.web[0]",
        "type": "aws_instance",
        "component": "Instance hours",
        "reason": "instance type is not known before apply",
    } in report["unpriced"]
    assert report["costs"]["networking"] == pytest.approx(0.045 * H)


def test_deleted_resources_are_not_proposed() -> None:
    # Given a plan that deletes the NAT gateway
    plan = plan_for()
    plan["resource_changes"][2]["change"]["actions"] = ["delete"]
    # When estimated / Then the proposed total no longer includes it
    report = estimate(plan=plan).to_dict()
    assert report["costs"]["networking"] == 0.0


def state_with(count: int) -> dict[str, Any]:
    return {
        "version": 4,
        "terraform_version": "1.5.7",
        "resources": [
            {
                "mode": "managed",
                "type": "aws_instance",
                "name": "web",
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [
                    {
                        "index_key": i,
                        "attributes": {
                            "arn": f"arn:aws:ec2:us-east-1:123456789012:instance/i-{i}",
                            "instance_type": "t3.small",
                            "root_block_device": [{"volume_size": 20, "volume_type": "gp3"}],
                        },
                    }
                    for i in range(count)
                ],
            },
            {"mode": "data", "type": "aws_ami", "name": "x", "instances": [{"attributes": {}}]},
        ],
    }


def test_state_alone_prices_what_is_deployed() -> None:
    # Given a state with one instance / When estimated alone
    report = estimate(state=state_with(1)).to_dict()
    # Then it is priced in the region its ARN names
    assert report["costs"]["total"] == round(WEB, 2)
    assert report["resources"][0]["address"] == "aws_instance.web[0]"
    assert report["resources"][0]["region"] == "us-east-1"


def test_prior_proposed_delta() -> None:
    # Given one instance deployed and a plan for two instances and a NAT gateway
    report = estimate(plan=plan_for(), state=state_with(1)).to_dict()
    # Then prior, proposed and delta are monthly totals
    assert report["prior"] == round(WEB, 2)
    assert report["proposed"] == round(2 * WEB + 0.045 * H, 2)
    assert report["delta"] == pytest.approx(report["proposed"] - report["prior"], abs=0.011)
    # And without a prior there is no delta
    assert "delta" not in estimate(plan=plan_for()).to_dict()


def test_usage_based_components_are_zero_until_usage_is_given() -> None:
    config = 'resource "aws_lambda_function" "api" {\n  function_name = "api"\n  memory_size = 1024\n}\n'
    # Given no usage / When estimated
    without = estimate(files={"main.tf": config}).to_dict()
    # Then the function costs $0 and lists its usage-based components with unit prices
    assert without["costs"]["total"] == 0.0
    assert {(u["component"], u["unitPrice"]) for u in without["usageBased"]} == {
        ("Requests", 0.2),
        ("Duration (x86_64, 1024 MB)", 0.0000166667),
    }
    # Given usage by address, in the usage-file format
    usage = {
        "version": "0.1",
        "resource_usage": {
            "aws_lambda_function.api": {"monthly_requests": 2_000_000, "request_duration_ms": 100}
        },
    }
    # When estimated / Then requests and GB-seconds are priced
    priced = estimate(files={"main.tf": config}, usage=usage).to_dict()
    assert priced["costs"]["total"] == round(2 * 0.20 + 2_000_000 * 0.1 * 1.0 * 0.0000166667, 2)
    assert priced["usageBased"] == []


def test_usage_precedence_address_over_wildcard_over_type() -> None:
    # Given per-type, wildcard and exact usage
    usage = parse_usage(
        {
            "version": "0.1",
            "resource_type_default_usage": {"aws_sqs_queue": {"monthly_requests": 1, "other": 1}},
            "resource_usage": {
                "aws_sqs_queue.q[*]": {"monthly_requests": 2},
                "aws_sqs_queue.q[1]": {"monthly_requests": 3},
            },
        }
    )
    # When looked up / Then the most specific wins and keys merge
    assert usage.for_resource("aws_sqs_queue.q[0]", "aws_sqs_queue") == {"monthly_requests": 2, "other": 1}
    assert usage.for_resource("aws_sqs_queue.q[1]", "aws_sqs_queue") == {"monthly_requests": 3, "other": 1}
    assert usage.for_resource("aws_sqs_queue.other", "aws_sqs_queue") == {"monthly_requests": 1, "other": 1}


def test_bad_usage_is_rejected() -> None:
    # Given an unsupported usage version / When parsed / Then it is refused
    with pytest.raises(UsageError):
        parse_usage({"version": "9", "resource_usage": {}})


def test_estimate_does_not_modify_its_inputs() -> None:
    # Given a plan / When estimated / Then the caller's document is untouched
    plan = plan_for()
    before = copy.deepcopy(plan)
    estimate(plan=plan)
    assert plan == before


def test_nothing_to_estimate_is_an_error() -> None:
    with pytest.raises(ValueError, match="give a plan"):
        estimate()
