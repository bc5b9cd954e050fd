"""A configuration evaluated statically: variables and their types, locals, modules, count and
for_each, dynamic blocks, as terraform would see them before any apply."""

from __future__ import annotations

from typing import Any

import pytest

from core.hcl.config import load_configuration
from core.hcl.evaluate import Instance, module_instance, root_directories
from core.hcl.values import UNKNOWN, EvaluationLimit, TfSet


def instances(files: dict[str, str], inputs: dict[str, Any] | None = None) -> dict[str, Instance]:
    configuration = load_configuration(files)
    root = module_instance(configuration, "", prefix="", inputs=inputs or {}, providers={})
    return {instance.address: instance for instance in root.instances()}


def local_values(text: str, *names: str) -> list[Any]:
    root = module_instance(load_configuration({"main.tf": text}), "", prefix="", inputs={}, providers={})
    return [root.local(name) for name in names]


def test_locals_resolve_in_any_order_and_a_cycle_is_unknown() -> None:
    text = """
locals {
  c = local.b * 2
  b = local.a + 1
  a = 1
  x = local.y
  y = local.x
}
"""
    assert local_values(text, "c", "b", "a") == [4, 2, 1]
    assert local_values(text, "x", "y") == [UNKNOWN, UNKNOWN]


def test_variables_convert_to_their_declared_types() -> None:
    text = """
variable "n" {
  type = number
}
variable "zones" {
  type    = set(string)
  default = ["b", "a", "b"]
}
variable "flags" {
  type    = map(bool)
  default = { on = "true" }
}
variable "nodes" {
  type = list(object({
    name = string
    size = optional(number, 2)
    tags = optional(map(string))
  }))
  default = [{ name = "a" }, { name = "b", size = "4", extra = 1 }]
}
locals {
  all = var.n
}
"""
    configuration = load_configuration({"main.tf": text})
    root = module_instance(configuration, "", prefix="", inputs={"n": "3"}, providers={})
    assert root.variables["n"] == 3
    assert root.variables["zones"] == TfSet(["a", "b"])
    assert root.variables["flags"] == {"on": True}
    # optional() fills its default, or null; attributes the type does not declare are dropped
    assert root.variables["nodes"] == [
        {"name": "a", "size": 2, "tags": None},
        {"name": "b", "size": 4, "tags": None},
    ]


def test_a_value_that_does_not_fit_its_type_is_unknown() -> None:
    configuration = load_configuration({"main.tf": 'variable "n" {\n  type = number\n}\n'})
    root = module_instance(configuration, "", prefix="", inputs={"n": "many"}, providers={})
    assert root.variables["n"] is UNKNOWN


def test_count_and_for_each_name_their_instances_as_terraform_does() -> None:
    found = instances(
        {
            "main.tf": """
resource "aws_eip" "a" {
  count = 2
  tags  = { n = count.index }
}
resource "aws_eip" "b" {
  for_each = { x = 1, y = 2 }
  tags     = { k = each.key, v = each.value }
}
resource "aws_eip" "none" {
  count = 0
}
"""
        }
    )
    assert {a: i.attrs["tags"] for a, i in found.items()} == {
        "aws_eip.a[0]": {"n": 0},
        "aws_eip.a[1]": {"n": 1},
        'aws_eip.b["x"]': {"k": "x", "v": 1},
        'aws_eip.b["y"]': {"k": "y", "v": 2},
    }


def test_an_attribute_terraform_would_refuse_is_unknown_and_the_rest_evaluate() -> None:
    found = instances({"main.tf": 'resource "aws_eip" "a" {\n  domain = "vpc"\n  tags = { a = 1 / 0 }\n}\n'})
    assert found["aws_eip.a"].attrs == {"domain": "vpc", "tags": UNKNOWN}


def test_a_negative_or_fractional_count_is_a_reason_not_instances() -> None:
    found = instances({"main.tf": 'resource "aws_eip" "a" {\n  count = 1.5\n}\n'})
    assert found["aws_eip.a"].unknown == "count must be a whole number, not 1.5 (count = 1.5)"


def test_a_dynamic_block_whose_for_each_is_unknown_adds_no_blocks() -> None:
    found = instances(
        {
            "main.tf": """
resource "aws_instance" "a" {
  dynamic "ebs_block_device" {
    for_each = data.x.y.sizes
    content {
      volume_size = ebs_block_device.value
    }
  }
  root_block_device {
    volume_size = 10
  }
}
"""
        }
    )
    assert found["aws_instance.a"].attrs == {"root_block_device": [{"volume_size": 10}]}


def test_modules_take_inputs_give_outputs_and_carry_their_provider() -> None:
    files = {
        "main.tf": """
module "net" {
  count     = 2
  source    = "./net"
  cidr      = cidrsubnet("10.0.0.0/16", 4, count.index)
  providers = { aws = aws.west }
}
locals {
  cidrs = module.net[*].cidr
}
resource "aws_eip" "summary" {
  tags = { cidrs = join(",", local.cidrs), where = module.net[0].where }
}
""",
        "net/main.tf": """
variable "cidr" {}
resource "aws_eip" "e" {
  tags = { cidr = var.cidr }
}
output "cidr" {
  value = var.cidr
}
output "where" {
  value = path.module
}
""",
    }
    found = instances(files)
    assert found["module.net[1].aws_eip.e"].attrs["tags"] == {"cidr": "10.0.16.0/20"}
    assert found["module.net[0].aws_eip.e"].provider == "aws.west"
    assert found["aws_eip.summary"].attrs["tags"] == {"cidrs": "10.0.0.0/20,10.0.16.0/20", "where": "net"}


def test_a_module_that_calls_itself_stops() -> None:
    files = {
        "main.tf": 'module "loop" {\n  source = "./loop"\n}\n',
        "loop/main.tf": 'module "again" {\n  source = "../loop"\n}\nresource "aws_eip" "e" {}\n',
    }
    addresses = sorted(instances(files))
    # Each level adds one instance until the depth limit: finite, and the first levels are there
    assert addresses[0] == "module.loop.aws_eip.e"
    assert len(addresses) <= 17


def test_the_root_is_the_top_directory_or_else_each_directory_no_module_calls() -> None:
    together = load_configuration({"main.tf": "", "mod/main.tf": ""})
    apart = load_configuration(
        {"prod/main.tf": 'module "m" {\n  source = "../shared"\n}\n', "shared/main.tf": "", "dev/main.tf": ""}
    )
    assert root_directories(together) == [""]
    assert root_directories(apart) == ["dev", "prod"]


@pytest.mark.parametrize(
    "local",
    [
        # a billion iterations
        "length(flatten([for a in range(1024) : [for b in range(1024) : [for c in range(1024) : 1]]]))",
        # a string doubled by each local
        None,
        # a separator repeated between a thousand elements, a hundred thousand times
        'join(join("", [for i in range(1000) : "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]), range(1000))',
        'replace(join("", [for i in range(1000) : "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]), "", join("", range(1000)))',
        'format("%999999999d", 1)',
    ],
)
def test_a_configuration_that_would_take_the_service_down_is_refused(local: str | None) -> None:
    if local is None:
        doubled = "\n".join(f'  s{i + 1} = "${{local.s{i}}}${{local.s{i}}}"' for i in range(40))
        text = f'locals {{\n  s0 = "xxxxxxxxxx"\n{doubled}\n}}\nresource "aws_eip" "e" {{\n  count = length(local.s40)\n}}\n'
    else:
        text = f'locals {{\n  big = {local}\n}}\nresource "aws_eip" "e" {{\n  count = local.big == 0 ? 0 : 1\n}}\n'
    with pytest.raises(EvaluationLimit):
        instances({"main.tf": text})


def test_a_count_terraform_could_not_evaluate_says_so_rather_than_unknown() -> None:
    found = instances({"main.tf": 'resource "aws_eip" "a" {\n  count = length(1)\n}\n'})
    assert found["aws_eip.a"].unknown == (
        "count cannot be evaluated: length() needs a string, list, set or map, not a number (count = length(1))"
    )


def test_numbers_squared_by_each_local_stop_at_the_limit() -> None:
    squares = "\n".join(f"  n{i + 1} = local.n{i} * local.n{i}" for i in range(40))
    text = f'locals {{\n  n0 = 3\n{squares}\n}}\nresource "aws_eip" "e" {{\n  count = local.n40 > 0 ? 1 : 0\n}}\n'
    found = instances({"main.tf": text})
    # 3^(2^40) has no place in a plan: the local is unknown, so the count is too
    assert found["aws_eip.e"].unknown == "count is unknown until apply (count = local.n40 > 0 ? 1 : 0)"


def test_a_chain_of_locals_deeper_than_any_real_one_is_refused() -> None:
    chain = "\n".join(f"  l{i} = local.l{i + 1}" for i in range(200))
    with pytest.raises(EvaluationLimit, match="more than 48 deep"):
        instances(
            {
                "main.tf": f'locals {{\n{chain}\n  l200 = 1\n}}\nresource "aws_eip" "e" {{\n  count = local.l0\n}}\n'
            }
        )


def test_a_module_whose_count_or_for_each_is_unknown_lists_its_resources_as_unknown() -> None:
    files = {
        "main.tf": """
data "aws_subnets" "s" {}
module "per_subnet" {
  source = "./nat"
  count  = length(data.aws_subnets.s.ids)
  name   = "nat-${count.index}"
}
module "known" {
  source = "./nat"
  count  = 1
  name   = "nat-${count.index}"
}
resource "aws_eip" "summary" {
  count = length(module.per_subnet)
}
""",
        "nat/main.tf": """
variable "name" {}
module "inner" {
  source = "../eip"
}
resource "aws_nat_gateway" "n" {
  tags = { Name = var.name }
}
""",
        "eip/main.tf": 'resource "aws_eip" "e" {}\n',
    }
    found = instances(files)
    why = "module.per_subnet: count is unknown until apply (count = length(data.aws_subnets.s.ids))"
    # Then the unknown module's resources (its nested modules' too) come back once, with why
    unknown = found["module.per_subnet.aws_nat_gateway.n"]
    assert unknown.unknown == why
    assert unknown.attrs["tags"] == {"Name": UNKNOWN}  # count.index is unknown there
    assert found["module.per_subnet.module.inner.aws_eip.e"].unknown == why
    # and the known module's are instances as before; a count over the unknown module is unknown
    assert found["module.known[0].aws_nat_gateway.n"].unknown is None
    assert found["module.known[0].aws_nat_gateway.n"].attrs["tags"] == {"Name": "nat-0"}
    assert (
        found["aws_eip.summary"].unknown == "count is unknown until apply (count = length(module.per_subnet))"
    )
