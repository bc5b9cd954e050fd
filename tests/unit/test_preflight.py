"""Preflight: every refused construct is found, named and located; allowed code passes."""

from __future__ import annotations

import pytest

from core.hcl.config import load_configuration
from core.hcl.preflight import PreflightPolicy, preflight


def codes(files: dict[str, str], allow_exec: bool = False) -> list[tuple[str, str | None, int | None]]:
    found = preflight(load_configuration(files), PreflightPolicy(allow_exec=allow_exec))
    return [(f.code, f.file, f.line) for f in found]


def test_clean_configuration_passes() -> None:
    # Given ordinary code with a provider region, a module from the registry and a local module
    files = {
        "main.tf": 'provider "aws" {\n  region = "eu-west-1"\n}\n'
        'module "vpc" {\n  source = "terraform-aws-modules/vpc/aws"\n}\n'
        'module "app" {\n  source = "./modules/app"\n}\n'
        'locals {\n  policy = file("${path.module}/policy.json")\n}\n',
        "modules/app/main.tf": 'locals {\n  up = file("${path.module}/../../shared.txt")\n}\n',
    }
    # Then nothing is refused
    assert codes(files) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('terraform {\n  backend "s3" {}\n}\n', ("backend_block", 2)),
        ('terraform {\n  cloud {\n    organization = "x"\n  }\n}\n', ("cloud_block", 2)),
        (
            'resource "null_resource" "n" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n',
            ("local_exec_provisioner", 2),
        ),
        (
            'resource "aws_instance" "n" {\n  ami = "x"\n  provisioner "remote-exec" {\n    inline = []\n  }\n}\n',
            ("remote_exec_provisioner", 3),
        ),
        (
            'resource "aws_instance" "n" {\n  provisioner "file" {\n    source = "a"\n  }\n}\n',
            ("file_provisioner", 2),
        ),
        ('data "external" "e" {\n  program = ["id"]\n}\n', ("external_data_source", 1)),
        ('provider "aws" {\n  region = "us-east-1"\n  access_key = "AKIA"\n}\n', ("provider_credentials", 3)),
        ('provider "aws" {\n  profile = "prod"\n}\n', ("provider_credentials", 2)),
        ('provider "aws" {\n  endpoints {\n    s3 = "http://evil"\n  }\n}\n', ("provider_endpoints", 2)),
        (
            'provider "aws" {\n  assume_role {\n    role_arn = "arn:aws:iam::1:role/x"\n  }\n}\n',
            ("provider_assume_role", 2),
        ),
        ('locals {\n  p = file("/etc/passwd")\n}\n', ("path_outside_workspace", 2)),
        (
            'locals {\n  p = templatefile("${path.module}/../../x.tpl", {})\n}\n',
            ("path_outside_workspace", 2),
        ),
        ('locals {\n  p = filebase64("~/.aws/credentials")\n}\n', ("path_outside_workspace", 2)),
        ('variable "f" {}\nlocals {\n  p = file(var.f)\n}\n', ("dynamic_file_path", 3)),
        ('locals {\n  p = file("${path.module}/${var.name}")\n}\n', ("dynamic_file_path", 2)),
        ('module "m" {\n  source = "../outside"\n}\n', ("module_outside_workspace", 2)),
        ('module "m" {\n  source = "/opt/modules/x"\n}\n', ("module_source", 2)),
    ],
)
def test_refused_construct_is_named_and_located(text: str, expected: tuple[str, int]) -> None:
    # When a configuration holds one refused construct
    found = codes({"main.tf": text})
    # Then exactly that construct is reported, at its line
    assert found == [(expected[0], "main.tf", expected[1])]


def test_exec_constructs_pass_when_the_install_allows_them() -> None:
    files = {
        "main.tf": 'resource "null_resource" "n" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n'
        'data "external" "e" {\n  program = ["id"]\n}\n'
    }
    assert codes(files, allow_exec=True) == []
    # but credentials stay refused whatever the setting
    files["p.tf"] = 'provider "aws" {\n  secret_key = "x"\n}\n'
    assert codes(files, allow_exec=True) == [("provider_credentials", "p.tf", 2)]


def test_module_escape_is_judged_from_the_module_directory() -> None:
    files = {"modules/a/main.tf": 'module "b" {\n  source = "../../../x"\n}\n'}
    assert codes(files) == [("module_outside_workspace", "modules/a/main.tf", 2)]


def test_syntax_errors_are_findings_with_line_and_column() -> None:
    configuration = load_configuration({"main.tf": 'resource "a" "b" {\n  x = \n}\n', "ok.tf": "locals {}\n"})
    assert [(e.check, e.file, e.line) for e in configuration.syntax_errors] == [("syntax", "main.tf", 2)]
    # the column where the missing value was expected: just past "  x = "
    assert configuration.syntax_errors[0].column == len("  x = ") + 1


@pytest.mark.parametrize(
    ("filename", "code"),
    [
        ('"/tmp/pwned"', "path_outside_workspace"),
        ('"${path.module}/../../escape.txt"', "path_outside_workspace"),
        ('"${var.target}"', "dynamic_file_path"),
    ],
)
def test_local_files_may_not_be_written_outside_the_workspace(filename: str, code: str) -> None:
    text = f'resource "local_file" "f" {{\n  content  = "x"\n  filename = {filename}\n}}\n'
    assert codes({"main.tf": text}) == [(code, "main.tf", 3)]


def test_local_files_inside_the_workspace_are_fine() -> None:
    text = (
        'resource "local_file" "f" {\n  content  = "x"\n  filename = "${path.module}/out/rendered.txt"\n}\n'
    )
    assert codes({"main.tf": text}) == []
