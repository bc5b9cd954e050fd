"""Root-module AWS provider configurations, under any local name and in every syntax."""

from __future__ import annotations

import json

import pytest

from core.hcl.config import load_configuration
from core.hcl.providers import aws_local_names, aws_provider_configurations, parse_provider_source

REQUIRED = 'terraform {{\n  required_providers {{\n    {name} = {{ source = "{source}" }}\n  }}\n}}\n'


@pytest.mark.parametrize(
    "source",
    [
        "hashicorp/aws",
        "HashiCorp/AWS",
        "registry.terraform.io/hashicorp/aws",
        "REGISTRY.TERRAFORM.IO/hashicorp/aws",
        "registry.opentofu.org/hashicorp/aws",
        "hashicorp/\\u0061ws",
    ],
)
def test_a_local_name_whose_source_is_hashicorp_aws_is_an_aws_name(source: str) -> None:
    configuration = load_configuration({"main.tf": REQUIRED.format(name="myaws", source=source)})
    assert aws_local_names(configuration) == {"aws", "myaws"}


@pytest.mark.parametrize("source", ["evil/aws", "hashicorp/awscc", "example.com/hashicorp/aws", "a/b/c/d"])
def test_other_sources_are_not_aws(source: str) -> None:
    configuration = load_configuration({"main.tf": REQUIRED.format(name="myaws", source=source)})
    assert aws_local_names(configuration) == {"aws"}


def test_child_module_requirements_do_not_name_root_providers() -> None:
    configuration = load_configuration({"m/main.tf": REQUIRED.format(name="myaws", source="hashicorp/aws")})
    assert aws_local_names(configuration) == {"aws"}


def test_configurations_by_local_name_and_alias() -> None:
    # Given AWS configurations under two local names, one of them only aliased, and other providers
    files = {
        "main.tf": REQUIRED.format(name="myaws", source="hashicorp/aws")
        + 'provider "aws" {\n  region = "eu-west-1"\n}\n'
        + 'provider "aws" {\n  alias = "w\\u0065st"\n}\n'
        + 'provider "myaws" {\n  alias = "east"\n}\n'
        + 'provider "random" {}\n',
        "m/main.tf": 'provider "aws" {\n  alias = "child"\n}\n',
    }
    configuration = load_configuration(files)
    # Then each root AWS configuration is listed once; the default of myaws is not declared
    assert aws_provider_configurations(configuration) == [("aws", None), ("aws", "west"), ("myaws", "east")]


def test_configurations_in_json_arrays_and_duplicates() -> None:
    document = (
        '{"terraform": [{"required_providers": [{"w": {"source": "hashicorp/aws"}}]}],'
        ' "provider": [{"w": [{"region": "x"}, {"alias": "b"}]}],'
        ' "provider": {"aws": {"alias": "c"}}}'
    )
    configuration = load_configuration({"main.tf.json": document})
    assert configuration.syntax_errors == []
    assert aws_local_names(configuration) == {"aws", "w"}
    assert aws_provider_configurations(configuration) == [("w", None), ("w", "b"), ("aws", "c")]


def test_no_configuration_declared_means_none_listed() -> None:
    configuration = load_configuration({"main.tf": 'resource "aws_s3_bucket" "b" {}\n'})
    assert aws_provider_configurations(configuration) == []
    assert aws_local_names(configuration) == {"aws"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aws", ("registry.terraform.io", "hashicorp", "aws")),
        ("Foo/Bar", ("registry.terraform.io", "foo", "bar")),
        ("Example.COM:443/ns/t", ("example.com", "ns", "t")),
    ],
)
def test_provider_sources_are_normalised_as_terraform_does(text: str, expected: tuple[str, str, str]) -> None:
    source = parse_provider_source(text)
    assert source is not None
    assert (source.hostname, source.namespace, source.type) == expected


def test_json_and_native_agree() -> None:
    native = load_configuration({"main.tf": 'provider "aws" {\n  alias = "x"\n}\n'})
    as_json = load_configuration({"main.tf.json": json.dumps({"provider": {"aws": [{"alias": "x"}]}})})
    assert aws_provider_configurations(native) == aws_provider_configurations(as_json) == [("aws", "x")]
