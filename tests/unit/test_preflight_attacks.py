"""Preflight against the forms an attacker would try: every guard, in every spelling terraform reads."""

from __future__ import annotations

import json

import pytest

from core.hcl.config import load_configuration
from core.hcl.preflight import PreflightPolicy, preflight
from core.hcl.validation import refused_findings

Found = list[tuple[str, str | None, int | None]]


def found(files: dict[str, str], *, allow_exec: bool = False) -> Found:
    return [(f.code, f.file, f.line) for f in refused_findings(files, PreflightPolicy(allow_exec=allow_exec))]


def codes(files: dict[str, str], *, allow_exec: bool = False) -> set[str]:
    return {code for code, _file, _line in found(files, allow_exec=allow_exec)}


J = json.dumps
LOCAL_EXEC = {
    "escaped label": {
        "main.tf": 'resource "null_resource" "x" {\n  provisioner "local\\u002dexec" {\n    command = "id"\n  }\n}\n'
    },
    "long escape": {
        "main.tf": 'resource "null_resource" "x" {\n  provisioner "local\\U0000002dexec" {}\n}\n'
    },
    "unquoted label": {
        "main.tf": "resource null_resource x {\n  provisioner local-exec {\n    command = id\n  }\n}\n"
    },
    "json arrays": {
        "main.tf.json": J(
            {
                "resource": [
                    {"null_resource": [{"x": [{"provisioner": [{"local-exec": [{"command": "id"}]}]}]}]}
                ]
            }
        )
    },
    "json escape": {
        "main.tf.json": '{"resource": {"null_resource": {"x": {"provisioner": {"local\\u002dexec": {}}}}}}'
    },
    "json duplicate resource key": {
        "main.tf.json": '{"resource": {"null_resource": {"x": {"provisioner": {"local-exec": {}}}}},'
        ' "resource": {"null_resource": {"y": {}}}}'
    },
    "json duplicate provisioner key": {
        "main.tf.json": '{"resource": {"null_resource": {"x": {"provisioner": {"file": {}}, "provisioner": {"local-exec": {}}}}}}'
    },
    "json root array": {
        "main.tf.json": J([{"resource": {"null_resource": {"x": {"provisioner": {"local-exec": {}}}}}}])
    },
    "dynamic provisioner": {
        "main.tf": 'resource "null_resource" "x" {\n  dynamic "provisioner" {\n    for_each = [1]\n'
        '    labels   = ["local-exec"]\n    content {\n      command = "id"\n    }\n  }\n}\n'
    },
    "removed block, destroy time": {
        "main.tf": "removed {\n  from = null_resource.x\n  lifecycle {\n    destroy = true\n  }\n"
        '  provisioner "local-exec" {\n    when    = destroy\n    command = "id"\n  }\n}\n'
    },
    "child module": {
        "main.tf": 'module "m" {\n  source = "./m"\n}\n',
        "m/main.tf": 'resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    command = "id"\n  }\n}\n',
    },
    "a data source": {"main.tf": 'data "null_data_source" "x" {\n  provisioner "local-exec" {}\n}\n'},
    "a .tofu file": {"main.tofu": 'resource "null_resource" "x" {\n  provisioner "local-exec" {}\n}\n'},
}


@pytest.mark.parametrize("name", sorted(LOCAL_EXEC))
def test_local_exec_is_refused_in_every_form(name: str) -> None:
    assert "local_exec_provisioner" in codes(LOCAL_EXEC[name])
    # and allowed where the install allows commands
    assert "local_exec_provisioner" not in codes(LOCAL_EXEC[name], allow_exec=True)


def test_a_dynamic_provisioner_of_unknown_type_is_refused() -> None:
    text = (
        'resource "null_resource" "x" {\n  dynamic "provisioner" {\n    for_each = var.p\n'
        "    labels   = [var.kind]\n    content {}\n  }\n}\n"
    )
    assert found({"main.tf": text}) == [("non_literal_label", "main.tf", 5)]


def test_findings_name_the_nested_block_line() -> None:
    text = (
        'resource "null_resource" "x" {\n  triggers = {}\n\n  provisioner "remote-exec" {\n    inline = []\n  }\n'
        '  provisioner "file" {\n    source = "a"\n  }\n}\n'
    )
    assert found({"main.tf": text}) == [
        ("remote_exec_provisioner", "main.tf", 4),
        ("file_provisioner", "main.tf", 7),
    ]


BACKENDS = {
    "escaped": ('terraform {\n  backend "\\u0073\\u0033" {}\n}\n', "main.tf"),
    "json": (J({"terraform": {"backend": {"s3": {}}}}), "main.tf.json"),
    "json arrays": (J({"terraform": [{"backend": [{"s3": [{"key": "x"}]}]}]}), "main.tf.json"),
    "json duplicate terraform key": (
        '{"terraform": {}, "terraform": {"backend": {"s3": {}}}}',
        "main.tf.json",
    ),
    "dynamic": (
        'terraform {\n  dynamic "backend" {\n    for_each = [1]\n    labels = ["s3"]\n    content {}\n  }\n}\n',
        "main.tf",
    ),
    "in a child module": ('terraform {\n  backend "local" {}\n}\n', "m/main.tf"),
}


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_backend_blocks_are_refused_in_every_form(name: str) -> None:
    text, path = BACKENDS[name]
    assert codes({"main.tf": "", path: text}) == {"backend_block"}


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('terraform {\n  cloud {\n    organization = "x"\n  }\n}\n', "main.tf"),
        (J({"terraform": [{"cloud": [{"organization": "x"}]}]}), "main.tf.json"),
        ("terraform {\n  cloud {}\n}\n", "modules/a/main.tf"),
    ],
)
def test_cloud_blocks_are_refused_in_every_form(text: str, path: str) -> None:
    assert codes({"main.tf": "", path: text}) == {"cloud_block"}


REMOTE_STATE = {
    "root": {"main.tf": 'data "terraform_remote_state" "s" {\n  backend = "s3"\n}\n'},
    "escaped": {"main.tf": 'data "terraform\\u005fremote_state" "s" {}\n'},
    "check block": {
        "main.tf": 'check "c" {\n  data "terraform_remote_state" "s" {}\n  assert {\n    condition = true\n    error_message = "x"\n  }\n}\n'
    },
    "json check block": {
        "main.tf.json": J({"check": {"c": {"data": [{"terraform_remote_state": {"s": {}}}]}}})
    },
    "child module": {"main.tf": "", "m/x.tf": 'data "terraform_remote_state" "s" {}\n'},
}


@pytest.mark.parametrize("name", sorted(REMOTE_STATE))
def test_remote_state_is_refused_everywhere(name: str) -> None:
    # whatever the install allows
    assert codes(REMOTE_STATE[name], allow_exec=True) == {"remote_state"}


def test_external_data_in_a_check_block_is_refused() -> None:
    text = 'check "c" {\n  data "external" "e" {\n    program = ["id"]\n  }\n}\n'
    assert found({"main.tf": text}) == [("external_data_source", "main.tf", 2)]
    assert found({"main.tf": text}, allow_exec=True) == []


AWS_PROVIDERS = {
    "plain": 'provider "aws" {\n  access_key = "x"\n}\n',
    "escaped label": 'provider "\\u0061ws" {\n  secret_key = "x"\n}\n',
    "json duplicate provider key": '{"provider": {"aws": {"region": "x"}}, "provider": {"aws": {"token": "t"}}}',
    "other local name": 'terraform {\n  required_providers {\n    myaws = { source = "hashicorp/aws" }\n  }\n}\n'
    'provider "myaws" {\n  access_key = "x"\n}\n',
    "full address, other case": 'terraform {\n  required_providers {\n    w = {\n      source = "Registry.Terraform.io/HashiCorp/AWS"\n'
    '    }\n  }\n}\nprovider "w" {\n  access_key = "x"\n}\n',
    "escaped source": 'terraform {\n  required_providers {\n    w = { source = "hashicorp/\\u0061ws" }\n  }\n}\n'
    'provider "w" {\n  shared_config_files = ["x"]\n}\n',
}


@pytest.mark.parametrize("name", sorted(AWS_PROVIDERS))
def test_credentials_are_refused_under_every_local_name(name: str) -> None:
    text = AWS_PROVIDERS[name]
    path = "main.tf.json" if text.startswith("{") else "main.tf"
    assert codes({path: text}, allow_exec=True) == {"provider_credentials"}


def test_a_provider_that_is_not_aws_may_set_a_token() -> None:
    text = 'terraform {\n  required_providers {\n    aws = { source = "evil/aws" }\n    gh = { source = "integrations/github" }\n  }\n}\n'
    text += 'provider "gh" {\n  token = "x"\n}\n'
    assert found({"main.tf": text}) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'provider "aws" {\n  dynamic "assume_role" {\n    for_each = [1]\n    content {\n      role_arn = "x"\n    }\n  }\n}\n',
            ("provider_assume_role", 4),
        ),
        (
            'provider "aws" {\n  dynamic "endpoints" {\n    for_each = [1]\n    content {\n      s3 = "http://x"\n    }\n  }\n}\n',
            ("provider_endpoints", 4),
        ),
        (
            'provider "aws" {\n  assume_role_with_web_identity {\n    role_arn = "x"\n  }\n}\n',
            ("provider_assume_role", 2),
        ),
        ('provider "aws" {\n  region = "x"\n  https_proxy = "http://x"\n}\n', ("provider_endpoints", 3)),
        ('provider "aws" {\n  ec2_metadata_service_endpoint = "http://x"\n}\n', ("provider_endpoints", 2)),
    ],
)
def test_provider_role_and_endpoint_settings_are_refused(text: str, expected: tuple[str, int]) -> None:
    assert found({"main.tf": text}) == [(expected[0], "main.tf", expected[1])]


def test_provider_settings_in_json_arrays_are_refused() -> None:
    document = {
        "provider": [
            {"aws": [{"region": "x", "access_key": "a", "endpoints": [{"s3": "x"}], "assume_role": [{}]}]}
        ],
    }
    assert codes({"main.tf.json": J(document)}) == {
        "provider_credentials",
        "provider_endpoints",
        "provider_assume_role",
    }


def test_dynamic_provider_blocks_in_json_are_refused() -> None:
    document = {
        "provider": {"aws": {"dynamic": {"assume_role": {"for_each": [1], "content": {"role_arn": "x"}}}}}
    }
    assert codes({"main.tf.json": J(document)}) == {"provider_assume_role"}


@pytest.mark.parametrize(
    "files",
    [
        {"main.tf": "", "m/main.tf": 'provider "aws" {\n  region = "x"\n}\n'},
        {"main.tf": "", "m/main.tf.json": J({"provider": [{"random": [{}]}]})},
        {"main.tf": "", "a/b/c.tf": 'provider "myaws" {}\n'},
    ],
)
def test_a_provider_block_in_a_child_module_is_refused(files: dict[str, str]) -> None:
    assert codes(files) == {"child_module_provider"}


def test_a_provider_alias_must_be_literal() -> None:
    assert codes({"main.tf": 'provider "aws" {\n  alias = var.name\n}\n'}) == {"non_literal_argument"}


MODULE_SOURCES_REFUSED = [
    "git::https://example.com/x.git",
    "git::file:///tmp/x",
    "hg::http://example.com/x",
    "s3::https://s3.amazonaws.com/b/x.zip",
    "gcs::https://www.googleapis.com/storage/v1/b/x",
    "http::example.com/x",
    "file:///etc",
    "https://example.com/x.zip",
    "http://example.com/x.zip",
    "github.com/hashicorp/example",
    "github.com/a/b/c",
    "bitbucket.org/a/b",
    "git@github.com:a/b.git",
    "/opt/modules/x",
    "~/modules/x",
    "a/b/aws//../../x",
    "./x?ref=1&y=z::x",
]


@pytest.mark.parametrize("source", MODULE_SOURCES_REFUSED[:-1])
def test_module_sources_other_than_local_or_registry_are_refused(source: str) -> None:
    assert found({"main.tf": f'module "m" {{\n  source = "{source}"\n}}\n'}) == [
        ("module_source", "main.tf", 2)
    ]


@pytest.mark.parametrize(
    "source",
    [
        "./modules/x",
        "../main/x",
        "terraform-aws-modules/vpc/aws",
        "app.terraform.io/org/name/aws",
        "registry.example.com:8443/ns/name/aws",
        "hashicorp/consul/aws//modules/server",
    ],
)
def test_local_and_registry_module_sources_are_allowed(source: str) -> None:
    files = {"main/main.tf": f'module "m" {{\n  source = "{source}"\n}}\n'}
    assert found(files) == []


@pytest.mark.parametrize(
    "files",
    [
        {"main.tf": 'module "m" {\n  source = "./\\u002e\\u002e/x"\n}\n'},
        {"main.tf": 'module "m" {\n  source = ".\\\\..\\\\x"\n}\n'},
        {"main.tf.json": J({"module": [{"m": [{"source": "../x"}]}]})},
        {"a/main.tf": 'module "m" {\n  source = "../../x"\n}\n'},
    ],
)
def test_escaping_local_module_sources_are_refused(files: dict[str, str]) -> None:
    assert codes(files) == {"module_outside_workspace"}


@pytest.mark.parametrize(
    "files",
    [
        {"main.tf": 'module "m" {\n  source = var.source\n}\n'},
        {"main.tf": 'module "m" {\n  source = "./${var.dir}"\n}\n'},
        {"main.tf.json": '{"module": {"m": {"source": "./a", "source": "git::https://x"}}}'},
    ],
)
def test_a_module_source_that_is_not_one_literal_string_is_refused(files: dict[str, str]) -> None:
    assert codes(files) == {"module_source"}


FILE_READS = {
    "plain": {"main.tf": 'locals {\n  a = file("/etc/passwd")\n}\n'},
    "escaped": {"main.tf": 'locals {\n  a = file("\\u002fetc/passwd")\n}\n'},
    "dollar escape before": {"main.tf": 'locals {\n  a = "\\u0024${file("/etc/passwd")}"\n}\n'},
    "heredoc": {"main.tf": 'locals {\n  a = <<-EOT\n    ${file("/etc/passwd")}\n  EOT\n}\n'},
    "nested in a template": {"main.tf": 'locals {\n  a = format("%s", "${file("/etc/passwd")}")\n}\n'},
    "in a directive": {
        "main.tf": 'locals {\n  a = "%{ if fileexists(var.x) }${file("/etc/passwd")}%{ endif }"\n}\n'
    },
    "object value": {"main.tf": 'locals {\n  a = { k = filebase64("/etc/passwd") }\n}\n'},
    "json": {"main.tf.json": J({"locals": {"a": '${file("/etc/passwd")}'}})},
    "json object key": {"main.tf.json": J({"locals": {"a": {'${file("/etc/passwd")}': 1}}})},
    "removed block": {
        "main.tf": 'removed {\n  from = a.b\n  provisioner "local-exec" {\n    command = file("/etc/passwd")\n  }\n}\n'
    },
    "import block": {"main.tf": 'import {\n  to = aws_s3_bucket.b\n  id = file("/etc/passwd")\n}\n'},
    "check block": {
        "main.tf": 'check "c" {\n  assert {\n    condition = fileexists("/etc/passwd")\n    error_message = "x"\n  }\n}\n'
    },
    "ephemeral block": {
        "main.tf": 'ephemeral "random_password" "p" {\n  length = length(file("/etc/passwd"))\n}\n'
    },
    "relative from a child module": {"m/main.tf": 'locals {\n  a = file("../x")\n}\n'},
    "path.module escaping": {"m/main.tf": 'locals {\n  a = file("${path.module}/../../x")\n}\n'},
    "path.root escaping": {"main.tf": 'locals {\n  a = file("${path.root}/../x")\n}\n'},
    "fileset pattern": {"main.tf": 'locals {\n  a = fileset(path.module, "../**")\n}\n'},
    "heredoc argument": {"main.tf": "locals {\n  a = file(<<EOT\n/etc/passwd\nEOT\n  )\n}\n"},
}


@pytest.mark.parametrize("name", sorted(FILE_READS))
def test_reading_outside_the_workspace_is_refused_in_every_form(name: str) -> None:
    assert "path_outside_workspace" in codes(FILE_READS[name], allow_exec=True)


@pytest.mark.parametrize(
    "text",
    [
        "locals {\n  a = file(var.f)\n}\n",
        'locals {\n  a = file("${var.dir}/x")\n}\n',
        'locals {\n  a = file(("/etc/passwd"))\n}\n',
        'locals {\n  t = "$${file(\\"/etc/passwd\\")}"\n  a = templatestring(local.t, {})\n}\n',
        'locals {\n  a = fileset(".", var.pattern)\n}\n',
    ],
)
def test_a_file_function_argument_that_is_not_a_literal_is_refused(text: str) -> None:
    assert codes({"main.tf": text}) == {"dynamic_file_path"}


def test_files_read_inside_the_workspace_are_fine() -> None:
    files = {
        "main.tf": 'locals {\n  a = file("policy.json")\n  b = file("${path.module}/m/x.txt")\n'
        '  c = fileset(path.module, "m/*.txt")\n  d = "not a call: file(/etc/passwd)"\n'
        '  e = "$${file(\\"/etc/passwd\\")} is only text"\n}\n',
        "m/main.tf": 'locals {\n  a = file("${path.module}/../policy.json")\n  b = file("m/x.txt")\n}\n',
    }
    assert found(files) == []


def test_template_files_are_scanned_with_their_own_lines() -> None:
    files = {
        "main.tf": 'output "o" {\n  value = templatefile("${path.module}/t/user_data.sh", {name = "x"})\n}\n',
        "t/user_data.sh": '#!/bin/sh\necho ${name}\necho $${HOME}\ncat <<X\n${file("/etc/shadow")}\nX\n'
        '%{ for f in fileset("/", "etc/*") }${f}%{ endfor }\n',
        "docs/README.md": "Call file (the function) with ${ var.path }.\n",
        "notes.txt": 'escaped: $${file("/etc/passwd")}\n',
    }
    assert found(files) == [
        ("path_outside_workspace", "t/user_data.sh", 5),
        ("path_outside_workspace", "t/user_data.sh", 7),
    ]


def test_a_configuration_file_given_to_templatefile_is_scanned_as_a_template() -> None:
    files = {
        "main.tf": 'locals {\n  a = templatefile("x.tf", {})\n}\n',
        "x.tf": '# a comment terraform skips, and templatefile renders: ${file("/etc/passwd")}\n',
    }
    assert found(files) == [("path_outside_workspace", "x.tf", 1)]


def test_templatefile_cannot_be_nested_in_a_template() -> None:
    files = {"main.tf": "", "t.tpl": '${templatefile("t.tpl", {})}\n'}
    assert found(files) == [("dynamic_file_path", "t.tpl", 1)]


@pytest.mark.parametrize(
    "path",
    [
        "override.tf",
        "x_override.tf",
        "override.tf.json",
        "a_override.tf.json",
        "m/override.tf",
        "m/n/z_override.tf.json",
        "Override.TF",
    ],
)
def test_override_files_are_refused_in_any_directory(path: str) -> None:
    text = "{}" if path.endswith(".json") else 'resource "null_resource" "x" {}\n'
    assert found({"main.tf": "", path: text}) == [("override_file", path, None)]


def test_a_directive_python_hcl2_cannot_read_as_terraform_does_is_refused() -> None:
    # Given quotes inside a template directive: terraform reads them, python-hcl2 ends the string
    text = 'locals {\n  a = "%{ if fileexists("/etc/passwd") }y%{ endif }"\n}\n'
    # Then the file is refused rather than checked as python-hcl2 misreads it
    assert [code for code, _file, _line in found({"main.tf": text})] == ["syntax_error"]


@pytest.mark.parametrize(
    "path",
    [
        ".terraform/providers/x/terraform-provider-null",
        ".terraform/modules/modules.json",
        "m/.terraform/x.tf",
        "terraform.tfstate",
        "m/prod.tfstate.backup",
        "terraform.tfstate.d/prod/terraform.tfstate",
        ".terraform.tfstate.lock.info",
    ],
)
def test_paths_terraform_keeps_for_itself_are_refused(path: str) -> None:
    assert ("reserved_path", path, None) in found({"main.tf": "", path: "{}"})


def test_names_that_only_look_reserved_are_fine() -> None:
    files = {
        "main.tf": "",
        "overrides.tf": "",
        "terraform.tfvars.example": "",
        ".terraform.lock.hcl": "",
        "m/tfstate.md": "",
    }
    assert found(files) == []


def test_local_file_writes_are_judged_from_the_working_directory() -> None:
    files = {"m/main.tf": 'resource "local_file" "f" {\n  content  = "x"\n  filename = "../out.txt"\n}\n'}
    assert found(files) == [("path_outside_workspace", "m/main.tf", 3)]
    files = {"m/main.tf": 'resource "local_file" "f" {\n  content  = "x"\n  filename = ["a", "b"]\n}\n'}
    assert found(files) == [("dynamic_file_path", "m/main.tf", 3)]


def test_required_provider_sources_must_be_literal() -> None:
    text = 'terraform {\n  required_providers {\n    w = { source = var.src }\n  }\n}\nprovider "w" {\n  token = "x"\n}\n'
    # the source cannot be read, so w may be AWS: its credentials are refused too
    assert codes({"main.tf": text}) == {"non_literal_argument", "provider_credentials"}


def test_preflight_reads_only_parsed_files() -> None:
    # Given one file that does not parse and one refused construct elsewhere
    configuration = load_configuration({"a.tf": "resource {", "b.tf": 'data "external" "e" {}\n'})
    # Then the syntax error is reported apart, and the other file is still checked
    assert [e.file for e in configuration.syntax_errors] == ["a.tf"]
    assert [f.code for f in preflight(configuration)] == ["external_data_source"]
