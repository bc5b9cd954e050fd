"""Prices from HCL written as people write it: for_each over toset() and maps of objects, counts
from conditionals, locals in any order, templates, dynamic blocks, child modules, unknown counts
listed with why, and Fargate sizes in AWS's own words. Figures worked by hand from the catalog's
us-east-1 prices: t3.micro $0.0104/h, m5.large $0.096/h, t3.small $0.0208/h, gp3 $0.08/GB-month,
gp2 $0.10/GB-month, NAT gateway $0.045/h, Fargate $0.04048/vCPU-h and $0.004445/GB-h; 730 h a month.
"""

from __future__ import annotations

from typing import Any

import pytest

from cost import estimate

H = 730


def report(main: str, **extra: Any) -> dict[str, Any]:
    files = {"main.tf": main, **extra.pop("files", {})}
    return estimate(files=files, **extra).to_dict()


def monthly(document: dict[str, Any]) -> dict[str, float]:
    return {r["address"]: r["monthly"] for r in document["resources"]}


def test_for_each_over_toset_prices_one_resource_per_element() -> None:
    # Given three instances from toset() of a list with a duplicate
    document = report(
        """
resource "aws_instance" "web" {
  for_each      = toset(["b", "a", "c", "a"])
  instance_type = "t3.micro"
  root_block_device {
    volume_size = 10
    volume_type = "gp3"
  }
  tags = { Name = "web-${each.key}" }
}
"""
    )
    # Then each is priced: 0.0104 x 730 + 10 x 0.08 = 8.392 a month, three of them 25.176
    assert monthly(document) == {
        'aws_instance.web["a"]': 8.39,
        'aws_instance.web["b"]': 8.39,
        'aws_instance.web["c"]': 8.39,
    }
    assert document["costs"]["total"] == pytest.approx(25.18)
    assert document["costs"]["resourceCounts"] == {"aws_instance": 3}


def test_for_each_over_a_map_of_objects_prices_each_with_its_own_type() -> None:
    # Given a typed map of objects whose disk is optional with a default of 8 GB
    document = report(
        """
variable "servers" {
  type = map(object({
    instance_type = string
    disk          = optional(number, 8)
  }))
  default = {
    api = { instance_type = "m5.large", disk = 20 }
    web = { instance_type = "t3.micro" }
  }
}
resource "aws_instance" "srv" {
  for_each      = var.servers
  instance_type = each.value.instance_type
  root_block_device {
    volume_size = each.value.disk
    volume_type = "gp3"
  }
}
"""
    )
    # Then api = 0.096 x 730 + 20 x 0.08 = 71.68 and web = 0.0104 x 730 + 8 x 0.08 = 8.232
    assert monthly(document) == {'aws_instance.srv["api"]': 71.68, 'aws_instance.srv["web"]': 8.23}


NAT_BY_ENV = """
variable "env" {
  default = "prod"
}
locals {
  nat_count = local.is_prod ? length(local.zones) : 0
  is_prod   = var.env == "prod"
  zones     = ["us-east-1a", "us-east-1b"]
}
resource "aws_nat_gateway" "nat" {
  count     = local.nat_count
  subnet_id = "subnet-${count.index}"
}
"""


def test_a_count_from_a_conditional_over_locals_in_any_order() -> None:
    # Given a count decided by locals declared before what they depend on
    prod = report(NAT_BY_ENV)
    dev = report(NAT_BY_ENV, variables={"env": "dev"})
    # Then prod has one NAT gateway per zone (2 x 0.045 x 730 = 65.70) and dev none
    assert monthly(prod) == {"aws_nat_gateway.nat[0]": 32.85, "aws_nat_gateway.nat[1]": 32.85}
    assert prod["costs"]["total"] == pytest.approx(65.70)
    assert dev["resources"] == []
    assert dev["costs"]["total"] == 0


def test_an_unknown_count_is_listed_with_why_and_left_out_of_the_total() -> None:
    # Given a count known only after apply, beside a resource that is known
    document = report(
        """
data "aws_subnets" "private" {}
resource "aws_nat_gateway" "per_subnet" {
  count     = length(data.aws_subnets.private.ids)
  subnet_id = data.aws_subnets.private.ids[count.index]
}
resource "aws_nat_gateway" "shared" {
  subnet_id = "subnet-1"
}
"""
    )
    # Then the known one is priced, and the unknown one is listed, not priced as one or zero
    assert document["costs"]["total"] == pytest.approx(0.045 * H)
    assert document["costs"]["resourceCounts"] == {"aws_nat_gateway": 1}
    assert document["unpriced"] == [
        {
            "address": "aws_nat_gateway.per_subnet",
            "type": "aws_nat_gateway",
            "component": "instances",
            "reason": "count is unknown until apply (count = length(data.aws_subnets.private.ids)); "
            "one instance would cost 32.85 USD a month, not in the total",
        }
    ]


def test_a_for_each_over_resource_attributes_is_listed_as_unknown() -> None:
    document = report(
        """
resource "aws_subnet" "s" {
  count      = 2
  cidr_block = cidrsubnet("10.0.0.0/16", 8, count.index)
}
resource "aws_eip" "ip" {
  for_each = toset(aws_subnet.s[*].id)
}
"""
    )
    reasons = {u["address"]: u["reason"] for u in document["unpriced"]}
    assert reasons["aws_eip.ip"].startswith(
        "for_each is unknown until apply (for_each = toset(aws_subnet.s[*].id))"
    )


def test_a_for_each_over_a_list_says_to_use_toset() -> None:
    document = report('resource "aws_eip" "ip" {\n  for_each = ["a", "b"]\n}\n')
    [entry] = document["unpriced"]
    assert entry["address"] == "aws_eip.ip"
    assert "not a tuple: use toset()" in entry["reason"]


def test_templates_functions_and_tfvars_decide_the_instance_type() -> None:
    # Given a type built from a template over locals, a size from terraform.tfvars and lookup()
    document = report(
        """
variable "size" {}
variable "disks" {
  default = { small = 10, large = 50 }
}
locals {
  family = lower("M5")
  type   = "${local.family}.${var.size}"
}
resource "aws_instance" "app" {
  instance_type = local.type
  root_block_device {
    volume_size = lookup(var.disks, "large", 8) * 2
    volume_type = "gp3"
  }
}
""",
        files={"terraform.tfvars": 'size = "large"\n'},
    )
    # Then m5.large with a 100 GB root volume: 0.096 x 730 + 100 x 0.08 = 78.08
    assert monthly(document) == {"aws_instance.app": 78.08}


def test_dynamic_blocks_add_their_volumes() -> None:
    document = report(
        """
variable "extra_disks" {
  default = [100, 50]
}
resource "aws_instance" "db" {
  instance_type = "t3.micro"
  dynamic "ebs_block_device" {
    for_each = var.extra_disks
    iterator = disk
    content {
      device_name = "/dev/sd${substr("fg", disk.key, 1)}"
      volume_size = disk.value
      volume_type = "gp3"
    }
  }
}
"""
    )
    # Then 7.592 for the hours, 8 GB gp2 root (0.80) and 150 GB gp3 (12.00): 20.392
    assert monthly(document) == {"aws_instance.db": 20.39}
    names = [c["name"] for c in document["resources"][0]["components"]]
    assert [n for n in names if n.startswith("EBS volume")] == [
        "EBS volume /dev/sdf storage (gp3, 100 GB)",
        "EBS volume /dev/sdg storage (gp3, 50 GB)",
    ]


def test_a_local_child_module_is_evaluated_with_its_inputs() -> None:
    # Given a module called twice by for_each, each instance with its own type and count
    document = report(
        """
module "tier" {
  for_each = { web = "t3.micro", app = "t3.small" }
  source   = "./modules/tier"
  type     = each.value
  size     = each.key == "app" ? 2 : 1
}
resource "aws_nat_gateway" "nat" {
  count     = module.tier["app"].count
  subnet_id = "subnet-1"
}
""",
        files={
            "modules/tier/main.tf": """
variable "type" {}
variable "size" {
  type = number
}
resource "aws_instance" "node" {
  count         = var.size
  instance_type = var.type
}
output "count" {
  value = var.size - 1
}
"""
        },
    )
    # Then web has one t3.micro (7.592 + 8 GB gp2 root 0.80 = 8.392), app two t3.small
    # (15.184 + 0.80 = 15.984 each), and the root reads the module's output (2 - 1 NAT gateways)
    assert monthly(document) == {
        'module.tier["app"].aws_instance.node[0]': 15.98,
        'module.tier["app"].aws_instance.node[1]': 15.98,
        'module.tier["web"].aws_instance.node[0]': 8.39,
        "aws_nat_gateway.nat[0]": 32.85,
    }


def test_a_module_from_a_registry_adds_nothing_it_cannot_see() -> None:
    document = report('module "vpc" {\n  source = "terraform-aws-modules/vpc/aws"\n}\n')
    assert document["resources"] == []


FARGATE = """
resource "aws_ecs_task_definition" "app" {
  family                   = "app"
  requires_compatibilities = ["FARGATE"]
  cpu                      = %s
  memory                   = %s
}
resource "aws_ecs_service" "app" {
  launch_type     = "FARGATE"
  desired_count   = %d
  task_definition = aws_ecs_task_definition.app.arn
}
"""


@pytest.mark.parametrize(
    ("cpu", "memory", "tasks", "expected"),
    [
        # 2 tasks x 730 h x (1 x 0.04048 + 2 x 0.004445) = 72.0802
        ('"1 vCPU"', '"2 GB"', 2, 72.08),
        ('"1 vcpu"', '"2GB"', 2, 72.08),
        ("1024", "2048", 2, 72.08),
        ('"1024"', '"2048"', 2, 72.08),
        # 1 task x 730 h x (0.25 x 0.04048 + 0.5 x 0.004445) = 9.010025
        ('"0.25 vCPU"', '"0.5 GB"', 1, 9.01),
        ('"256"', "512", 1, 9.01),
    ],
)
def test_fargate_sizes_in_every_form_aws_accepts(cpu: str, memory: str, tasks: int, expected: float) -> None:
    document = report(FARGATE % (cpu, memory, tasks))
    assert monthly(document)["aws_ecs_service.app"] == expected


def test_a_fargate_size_aws_would_not_accept_is_listed_not_guessed() -> None:
    document = report(FARGATE % ('"1 vCPU"', '"512 MiB"', 1))
    [entry] = [u for u in document["unpriced"] if u["address"] == "aws_ecs_service.app"]
    assert "memory is not in a form AWS accepts" in entry["reason"]
    assert document["costs"]["total"] == 0


def test_a_sensitive_variable_stays_unknown_to_the_evaluation() -> None:
    # Given a count driven by a sensitive variable
    document = report(
        """
variable "replicas" {
  sensitive = true
  default   = 3
}
resource "aws_nat_gateway" "nat" {
  count     = var.replicas
  subnet_id = "subnet-1"
}
"""
    )
    # Then the count is unknown, never derived from the secret
    [entry] = document["unpriced"]
    assert entry["reason"].startswith("count is unknown until apply")


def test_expanded_arguments_and_grouped_for_expressions_from_the_source() -> None:
    # Given a count over concat(lists...) and a for_each over a grouped for expression
    document = report(
        """
locals {
  per_tier = [["a", "b"], ["c"]]
  subnets  = concat(local.per_tier...)
  by_zone  = { for s in ["x1", "x2", "y1"] : substr(s, 0, 1) => s... }
}
resource "aws_nat_gateway" "per_subnet" {
  count     = length(local.subnets)
  subnet_id = local.subnets[count.index]
}
resource "aws_eip" "per_zone" {
  for_each = local.by_zone
  tags     = { members = join(",", each.value) }
}
"""
    )
    # Then three NAT gateways (3 x 32.85 = 98.55) and one address per zone (x and y)
    assert document["costs"]["resourceCounts"] == {"aws_eip": 2, "aws_nat_gateway": 3}
    assert document["costs"]["networking"] == pytest.approx(98.55 + 2 * 3.65)


def test_a_module_given_an_aliased_provider_prices_in_that_providers_region() -> None:
    document = report(
        """
provider "aws" {
  region = "us-east-1"
}
provider "aws" {
  alias  = "west"
  region = "eu-west-1"
}
module "eu" {
  source    = "./app"
  providers = { aws = aws.west }
}
resource "aws_instance" "home" {
  instance_type = "t3.micro"
}
""",
        files={"app/main.tf": 'resource "aws_instance" "node" {\n  instance_type = "t3.micro"\n}\n'},
    )
    regions = {r["address"]: r["region"] for r in document["resources"]}
    assert regions == {"aws_instance.home": "us-east-1", "module.eu.aws_instance.node": "eu-west-1"}
    hours = {
        r["address"]: r["components"][0]["monthly"] for r in document["resources"]
    }  # t3.micro: 0.0104 and 0.0114 an hour
    assert hours == {"aws_instance.home": 7.59, "module.eu.aws_instance.node": 8.32}


def test_the_json_syntax_evaluates_the_same_way() -> None:
    main = (
        '{"variable": {"n": {"default": 2}}, "locals": {"t": "t3.micro"},'
        ' "resource": {"aws_instance": {"w": {"count": "${var.n}", "instance_type": "${local.t}"}}}}'
    )
    document = estimate(files={"main.tf.json": main}).to_dict()
    # Two t3.micro with the default 8 GB gp2 root volume: 7.592 + 0.80 each
    assert monthly(document) == {"aws_instance.w[0]": 8.39, "aws_instance.w[1]": 8.39}


def test_other_resources_are_known_by_what_their_configuration_sets() -> None:
    # Given counts and a type that follow other resources: their instances and configured
    # arguments are known before apply, their ids are not
    document = report(
        """
resource "aws_subnet" "private" {
  count      = 3
  cidr_block = cidrsubnet("10.0.0.0/16", 8, count.index)
}
resource "aws_nat_gateway" "per_subnet" {
  count     = length(aws_subnet.private)
  subnet_id = aws_subnet.private[count.index].id
}
resource "aws_instance" "primary" {
  instance_type = "m5.large"
}
resource "aws_instance" "standby" {
  instance_type = aws_instance.primary.instance_type
  ami           = aws_instance.primary.ami
}
resource "aws_eip" "by_name" {
  for_each = { for i, s in aws_subnet.private : s.cidr_block => i }
}
"""
    )
    # Then 3 NAT gateways (3 x 32.85), the standby is an m5.large like the primary
    # (70.08 + 8 GB gp2 root 0.80 each), and one EIP per subnet CIDR (3 x 3.65)
    assert document["costs"]["resourceCounts"] == {
        "aws_eip": 3,
        "aws_instance": 2,
        "aws_nat_gateway": 3,
        "aws_subnet": 3,
    }
    assert monthly(document)["aws_instance.standby"] == 70.88
    assert document["costs"]["total"] == pytest.approx(3 * 32.85 + 2 * 70.88 + 3 * 3.65)
    assert document["unpriced"] == []


def test_resources_whose_counts_refer_to_each_other_are_unknown() -> None:
    document = report(
        """
resource "aws_eip" "a" {
  count = length(aws_eip.b)
}
resource "aws_eip" "b" {
  count = length(aws_eip.a)
}
"""
    )
    assert sorted(u["address"] for u in document["unpriced"]) == ["aws_eip.a", "aws_eip.b"]


def test_a_module_whose_for_each_is_unknown_lists_its_resources_not_none() -> None:
    # Given a module per subnet known only after apply, and one per zone known now
    document = report(
        """
data "aws_subnets" "private" {}
module "nat" {
  source   = "./nat"
  for_each = toset(data.aws_subnets.private.ids)
}
module "zone" {
  source   = "./nat"
  for_each = toset(["a", "b"])
}
""",
        files={"nat/main.tf": 'resource "aws_nat_gateway" "n" {\n  subnet_id = "subnet-1"\n}\n'},
    )
    # Then the two known NAT gateways are priced (2 x 0.045 x 730 = 65.70) and the unknown
    # module's is listed with why, out of the total, which is then a floor
    assert monthly(document) == {
        'module.zone["a"].aws_nat_gateway.n': 32.85,
        'module.zone["b"].aws_nat_gateway.n': 32.85,
        "module.nat.aws_nat_gateway.n": 0,
    }
    assert document["costs"]["total"] == pytest.approx(65.70)
    assert document["costs"]["totalIsLowerBound"] is True
    assert document["unpriced"] == [
        {
            "address": "module.nat.aws_nat_gateway.n",
            "type": "aws_nat_gateway",
            "component": "instances",
            "reason": "module.nat: for_each is unknown until apply "
            "(for_each = toset(data.aws_subnets.private.ids)); "
            "one instance would cost 32.85 USD a month, not in the total",
        }
    ]


def test_each_root_of_a_workspace_reads_its_own_tfvars() -> None:
    # Given two roots sharing a module, each with its own terraform.tfvars
    shared = 'variable "type" {}\nresource "aws_instance" "node" {\n  instance_type = var.type\n}\n'
    root = 'variable "type" {}\nmodule "app" {\n  source = "../shared"\n  type   = var.type\n}\n'
    document = estimate(
        files={
            "shared/main.tf": shared,
            "dev/main.tf": root,
            "dev/terraform.tfvars": 'type = "t3.micro"\n',
            "prod/main.tf": root,
            "prod/terraform.tfvars": 'type = "m5.large"\n',
            "prod/z.auto.tfvars": 'type = "t3.small"\n',
        }
    ).to_dict()
    # Then dev is 0.0104 x 730 + 8 GB gp2 root 0.80 = 8.392; prod's auto.tfvars wins over its
    # terraform.tfvars: 0.0208 x 730 + 0.80 = 15.984
    assert sorted(r["monthly"] for r in document["resources"]) == [8.39, 15.98]


def test_a_service_per_key_prices_the_task_definition_of_its_own_key() -> None:
    # Given a Fargate service and task definition per key of a map, and per count.index
    document = report(
        """
locals {
  services = {
    api    = { cpu = "1 vCPU", memory = "2 GB", tasks = 2 }
    worker = { cpu = 256, memory = 512, tasks = 1 }
  }
}
resource "aws_ecs_task_definition" "app" {
  for_each = local.services
  family   = each.key
  cpu      = each.value.cpu
  memory   = each.value.memory
}
resource "aws_ecs_service" "app" {
  for_each        = local.services
  launch_type     = "FARGATE"
  desired_count   = each.value.tasks
  task_definition = aws_ecs_task_definition.app[each.key].arn
}
resource "aws_ecs_task_definition" "job" {
  count  = 2
  family = "job"
  cpu    = 512 * (count.index + 1)
  memory = 1024 * (count.index + 1)
}
resource "aws_ecs_service" "job" {
  count           = 2
  launch_type     = "FARGATE"
  desired_count   = 1
  task_definition = aws_ecs_task_definition.job[count.index].arn
}
"""
    )
    # Then each service is priced at its own size, not at the first instance's:
    # api 2 x 730 x (1 x 0.04048 + 2 x 0.004445) = 72.0802; worker 730 x (0.25 x 0.04048 +
    # 0.5 x 0.004445) = 9.010025; job[0] 730 x (0.5 x 0.04048 + 1 x 0.004445) = 18.02005;
    # job[1] 730 x (1 x 0.04048 + 2 x 0.004445) = 36.0401
    assert monthly(document) == {
        'aws_ecs_service.app["api"]': 72.08,
        'aws_ecs_service.app["worker"]': 9.01,
        "aws_ecs_service.job[0]": 18.02,
        "aws_ecs_service.job[1]": 36.04,
    }


def test_where_there_is_a_plan_the_plan_is_the_source_of_truth() -> None:
    # Given HCL that would make three t3.micro and the plan terraform made of it: one m5.large
    files = {
        "main.tf": 'resource "aws_instance" "web" {\n  count         = 3\n  instance_type = "t3.micro"\n}\n'
    }
    after = {"instance_type": "m5.large", "root_block_device": [{"volume_size": 20, "volume_type": "gp3"}]}
    plan = {
        "resource_changes": [
            {
                "address": "aws_instance.web[0]",
                "mode": "managed",
                "type": "aws_instance",
                "change": {"actions": ["create"], "before": None, "after": after},
            }
        ]
    }
    document = estimate(plan=plan, files=files).to_dict()
    # Then the plan's one instance is priced: 0.096 x 730 + 20 x 0.08 = 71.68
    assert monthly(document) == {"aws_instance.web[0]": 71.68}
