"""Cost answers never echo a variable's value: secrets nowhere, raw values not in names or reasons."""

from __future__ import annotations

import json
from typing import Any

from core.records import DeploymentStatus
from cost import estimate
from functions.dal.objects import StateReader
from functions.logic.costs import project_costs
from functions.logic.projects import ProjectReaders
from tests.support.fakes import FakeArtifactReader, Fakes

DB_PASSWORD = "Db-Pass-Secret-1"
API_TOKEN = "Api-Token-Secret-2"
NESTED = "Nested-Setting-Pw-3"
SECRETS = (DB_PASSWORD, API_TOKEN, NESTED)

CODE = """
variable "db_password" {
  type      = string
  sensitive = true
}
variable "api_token" { type = string }
variable "size" { default = "m9.mega" }
variable "klass" { default = "db.t3.micro" }
variable "engine" { default = "Inhouse-Engine" }
variable "device" { default = "/dev/xvd-private" }
variable "settings" {
  default = { password = "Nested-Setting-Pw-3", tier = "gold-tier" }
}

resource "aws_instance" "tagged" {
  instance_type = "t3.micro"
  tags          = { Owner = var.db_password, Token = var.api_token }
}

resource "aws_instance" "raw_type" {
  instance_type = var.size
  ebs_block_device {
    device_name = var.device
    volume_size = 10
  }
}

resource "aws_instance" "secret_type" {
  instance_type = var.db_password
}

resource "aws_instance" "nested_secret_type" {
  instance_type = "${var.settings.password}.large"
}

resource "aws_db_instance" "db" {
  engine            = var.engine
  instance_class    = var.klass
  allocated_storage = 20
  password          = var.db_password
}

resource "aws_lambda_function" "per_token" {
  for_each      = toset([var.api_token])
  function_name = "fn"
}

resource "aws_lb" "odd" {
  load_balancer_type = var.api_token
}
"""
VARIABLES = {"db_password": DB_PASSWORD, "api_token": API_TOKEN}


def _answer(**kwargs: Any) -> str:
    return json.dumps(estimate(**kwargs).to_dict())


def test_code_estimate_shows_no_secret_anywhere() -> None:
    # Given secrets in a tag, an instance type (an unpriced reason), a for_each key (an address a
    # usage file would name) and a load balancer type (echoed in its reason)
    usage = {f'aws_lambda_function.per_token["{API_TOKEN}"]': {"monthly_requests": 1000000}}

    answer = _answer(files={"main.tf": CODE}, variables=VARIABLES, usage=usage)

    # Then no secret appears, in any case
    assert [s for s in SECRETS if s.lower() in answer.lower()] == []
    # and what does not depend on them is still priced
    report = json.loads(answer)
    addresses = [r["address"] for r in report["resources"]]
    assert "aws_instance.tagged" in addresses
    tagged = next(r for r in report["resources"] if r["address"] == "aws_instance.tagged")
    assert "Instance hours (t3.micro, on-demand, Linux)" in [c["name"] for c in tagged["components"]]
    assert report["costs"]["total"] > 0


def test_raw_variable_values_are_named_not_shown_in_names_and_reasons() -> None:
    report = estimate(files={"main.tf": CODE}, variables=VARIABLES).to_dict()

    texts = json.dumps([report["unpriced"], [r["components"] for r in report["resources"]]])
    for raw in ("m9.mega", "Inhouse-Engine", "inhouse-engine", "/dev/xvd-private"):
        assert raw not in texts
    reasons = {(u["address"], u["component"]): u["reason"] for u in report["unpriced"]}
    assert reasons[("aws_instance.raw_type", "Instance hours (var.size, on-demand, Linux)")] == (
        "no list price in the catalog for ec2:var.size in us-east-1"
    )
    # a catalog term is public vocabulary: shown even though a variable holds it
    assert (
        reasons[("aws_db_instance.db", "Database instance")]
        == "engine var.engine / class db.t3.micro is not known"
    )
    raw_type = next(r for r in report["resources"] if r["address"] == "aws_instance.raw_type")
    assert "EBS volume var.device storage (gp2, 10 GB)" in [c["name"] for c in raw_type["components"]]


def test_region_from_a_variable_is_still_shown() -> None:
    code = 'provider "aws" {\n  region = var.region\n}\nvariable "region" {}\nresource "aws_nat_gateway" "n" {}\n'
    report = estimate(files={"main.tf": code}, variables={"region": "eu-west-1"}).to_dict()
    assert report["region"] == "eu-west-1"
    assert report["resources"][0]["region"] == "eu-west-1"


def _plan_with_secrets() -> dict[str, Any]:
    """A plan as the command line may hand it over: not redacted."""
    return {
        "variables": {
            "db_password": {"value": DB_PASSWORD},
            "api_token": {"value": API_TOKEN},
            "size": {"value": "m9.mega"},
        },
        "configuration": {
            "root_module": {"variables": {"db_password": {"sensitive": True}, "api_token": {}, "size": {}}}
        },
        "resource_changes": [
            {
                "address": "aws_db_instance.db",
                "mode": "managed",
                "type": "aws_db_instance",
                "change": {
                    "actions": ["create"],
                    "after": {
                        "engine": "postgres",
                        "instance_class": DB_PASSWORD,
                        "allocated_storage": 20,
                        "password": DB_PASSWORD,
                    },
                    "after_sensitive": {"instance_class": True, "password": True},
                },
            },
            {
                "address": "aws_instance.web",
                "mode": "managed",
                "type": "aws_instance",
                "change": {
                    "actions": ["create"],
                    "after": {"instance_type": "m9.mega", "tags": {"Token": API_TOKEN}},
                    "after_sensitive": {},
                },
            },
            {
                "address": "aws_lb.odd",
                "mode": "managed",
                "type": "aws_lb",
                "change": {
                    "actions": ["create"],
                    "after": {"load_balancer_type": API_TOKEN},
                    "after_sensitive": {},
                },
            },
        ],
    }


def test_plan_estimate_redacts_what_terraform_marked_and_secret_names() -> None:
    answer = _answer(plan=_plan_with_secrets())

    assert [s for s in SECRETS if s.lower() in answer.lower()] == []
    assert "m9.mega" not in answer
    assert "var.size" in answer
    report = json.loads(answer)
    db = next(r for r in report["resources"] if r["address"] == "aws_db_instance.db")
    assert db["monthly"] > 0  # the storage is still priced


def test_state_estimate_reads_redacted_state() -> None:
    state = {
        "version": 4,
        "resources": [
            {
                "mode": "managed",
                "type": "aws_instance",
                "name": "web",
                "instances": [
                    {
                        "attributes": {
                            "instance_type": DB_PASSWORD,
                            "arn": "arn:aws:ec2:us-east-1:1:instance/i-1",
                        },
                        "sensitive_attributes": [[{"type": "get_attr", "value": "instance_type"}]],
                    }
                ],
            },
            {
                "mode": "managed",
                "type": "aws_lb",
                "name": "odd",
                "instances": [{"attributes": {"load_balancer_type": API_TOKEN}}],
            },
        ],
    }
    answer = _answer(state=state, sensitive_paths={"aws_lb": [["load_balancer_type"]]})
    assert [s for s in SECRETS if s.lower() in answer.lower()] == []
    assert "instance type is not known" in answer


class _State(StateReader):
    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def read(self, project_id: str) -> dict[str, Any] | None:
        return self.state


class _Artifacts(FakeArtifactReader):
    def __init__(self, plan: dict[str, Any] | None) -> None:
        super().__init__()
        self._plan = plan

    def plan(self, project_id: str, job_id: str) -> dict[str, Any] | None:
        return self._plan


def _readers(fakes: Fakes, state: dict[str, Any], plan: dict[str, Any] | None) -> ProjectReaders:
    base = fakes.readers()
    return ProjectReaders(
        projects=base.projects,
        jobs=base.jobs,
        code=base.code,
        states=_State(state),
        artifacts=_Artifacts(plan),
        variables=base.variables,
        default_region="us-east-1",
    )


def _deployed_state() -> dict[str, Any]:
    # A schema-sensitive attribute terraform 1.0 does not list in sensitive_attributes
    return {
        "version": 4,
        "resources": [
            {
                "mode": "managed",
                "type": "aws_lb",
                "name": "odd",
                "instances": [{"attributes": {"load_balancer_type": API_TOKEN}}],
            }
        ],
    }


def test_the_costs_route_logic_keeps_variables_out_of_the_answer() -> None:
    # Given a deployed project whose code and variables hold secrets, priced from the code
    fakes = Fakes()
    reference = fakes.variables.save("p", VARIABLES)
    fakes.code.put("p", "job-1", {"main.tf": CODE})
    fakes.projects.items["p"] = {
        "projectId": "p",
        "codeJobId": "job-1",
        "variablesRef": reference,
        "deploymentStatus": DeploymentStatus.DEPLOYED,
        "deploymentJobId": "job-0",
        "sensitivePathsJson": json.dumps({"aws_lb": [["load_balancer_type"]]}),
    }

    answer = project_costs(_readers(fakes, _deployed_state(), None), "p").model_dump_json()

    assert [s for s in SECRETS if s.lower() in answer.lower()] == []
    assert "m9.mega" not in answer
    assert '"basis":"code"' in answer.replace(" ", "")


def test_the_costs_route_logic_on_a_recorded_plan() -> None:
    fakes = Fakes()
    fakes.projects.items["p"] = {
        "projectId": "p",
        "codeJobId": "job-1",
        "planJobId": "job-1",
        "deploymentJobId": "job-1",
        "deploymentStatus": DeploymentStatus.DEPLOYED,
    }

    answer = project_costs(_readers(fakes, _deployed_state(), _plan_with_secrets()), "p").model_dump_json()

    assert [s for s in SECRETS if s.lower() in answer.lower()] == []
    assert "postgres" in answer  # the engine terraform did not mark is still read
