"""What needs no server: usage errors (2), an endpoint nobody listens on (3), packing a directory
within the API's limits, variables, and the offline estimate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.prompt import Confirm

from core.requests import MAX_CODE_BYTES, MAX_FILES
from cost.cli import main as estimate_main
from provisioner.cli import app
from provisioner.cli.pack import PackError, merge_variables, pack, parse_assignment
from provisioner.client import ProvisionerClient, ServiceUnreachable
from tests.cli.helpers import invoke, write_tree
from tests.support.local_server import free_port

BUCKET_TF = 'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n'


@pytest.fixture
def nowhere() -> str:
    """An endpoint on this machine where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["deploy", "."],  # no --project
        ["status"],  # no job
        ["jobs", "--limit", "many"],
        ["logs", "JOB", "--offset", "-x"],
        ["--timeout", "soon", "health"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    run = invoke(*argv)
    assert run.code == 2
    assert "usage: provisioner" in run.err


def test_help_exits_0() -> None:
    run = invoke("--help")
    assert run.code == 0 and "deploy" in run.out and "Exit codes" in run.out
    assert invoke("deploy", "--help").code == 0


def test_code_that_cannot_be_sent_is_a_usage_error(tmp_path: Path, nowhere: str) -> None:
    # Nothing is sent: the endpoint is never contacted, so exit 2 and not 3
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke("deploy", str(tmp_path / "missing"), "-p", "x", endpoint=nowhere).code == 2
    run = invoke("deploy", str(empty), "-p", "x", endpoint=nowhere)
    assert run.code == 2 and "no .tf or .tf.json file at the top level" in run.err
    code = write_tree(tmp_path / "code", {"main.tf": BUCKET_TF, "bad.tfvars": "this = = nonsense"})
    run = invoke("deploy", str(code), "-p", "x", "--var", "novalue", endpoint=nowhere)
    assert run.code == 2 and "expected name=value" in run.err
    run = invoke("deploy", str(code), "-p", "x", "--var-file", str(code / "bad.tfvars"), endpoint=nowhere)
    assert run.code == 2 and "not a valid variables file" in run.err
    assert invoke("deploy", str(code), "-p", "x", "--endpoint", "ftp://host/").code == 2


@pytest.mark.parametrize(
    "argv",
    [["health"], ["status", "deploy-1700000000000-abcdef123"], ["jobs"], ["costs", "demo"], ["cancel", "j"]],
)
def test_nothing_listening_exits_3_and_says_what_to_check(argv: list[str], nowhere: str) -> None:
    run = invoke(*argv, endpoint=nowhere)
    assert run.code == 3
    assert f"Cannot reach the provisioner at {nowhere}" in run.err and "connection refused" in run.err
    assert "make local" in run.err and "PROVISIONER_URL" in run.err


def test_the_endpoint_comes_from_provisioner_url(nowhere: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVISIONER_URL", nowhere)
    run = invoke("health", "--json")
    assert run.code == 3 and nowhere in run.err and run.out == ""
    # The command's own --endpoint wins over the variable
    monkeypatch.setenv("PROVISIONER_URL", "http://127.0.0.1:1")
    assert nowhere in invoke("health", "--endpoint", nowhere).err


def test_a_deploy_that_cannot_be_delivered_exits_3(tmp_path: Path, nowhere: str) -> None:
    code = write_tree(tmp_path, {"main.tf": BUCKET_TF})
    assert invoke("deploy", str(code), "-p", "demo", "--wait", endpoint=nowhere).code == 3


def test_the_client_raises_service_unreachable(nowhere: str) -> None:
    with pytest.raises(ServiceUnreachable) as raised:
        ProvisionerClient(nowhere, timeout=2).health()
    assert raised.value.endpoint == nowhere and "refused" in raised.value.reason


def test_pack_sends_the_configuration_and_nothing_else(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "main.tf": BUCKET_TF,
            "versions.tf.json": '{"terraform": {}}',
            "modules/net/main.tf": "# module",
            "modules/net/nested/deep.tf": "# deeper",
            "templates/policy.json.tpl": "{}",
            "terraform.tfvars": 'region = "eu-west-1"\nsize = 2\n',
            "prod.auto.tfvars.json": '{"size": 3}',
            "modules/net/terraform.tfvars": 'ignored = "only the root loads tfvars"\n',
            "other.tfvars": 'not_auto = "only with --var-file"\n',
            ".terraform/providers/x.tf": "# cache",
            ".git/hooks/x.tf": "# git",
            ".hidden.tf": "# hidden file",
            "README.md": "# docs",
            "bad name.tf": "# a name the API refuses",
            "_provisioner_backend.tf": "# a name the service reserves",
            "binary.tf": b"\x00\x01\x02terraform",
            "latin1.tf": "caf\xe9".encode("latin-1"),
        },
    )
    package = pack(root, include=["templates/*.tpl"])
    assert sorted(package.files) == [
        "main.tf",
        "modules/net/main.tf",
        "modules/net/nested/deep.tf",
        "templates/policy.json.tpl",
        "versions.tf.json",
    ]
    # Auto-loaded tfvars become variables (terraform's order), never files
    assert package.variables == {"region": "eu-west-1", "size": 3}
    assert package.variable_files == ["terraform.tfvars", "prod.auto.tfvars.json"]
    skipped = dict(package.skipped)
    assert set(skipped) == {"bad name.tf", "_provisioner_backend.tf", "binary.tf", "latin1.tf"}
    assert "reserved" in skipped["_provisioner_backend.tf"]
    assert skipped["binary.tf"] == "binary content" and skipped["latin1.tf"] == "not UTF-8 text"
    # One file on its own works too
    assert list(pack(root / "main.tf").files) == ["main.tf"]
    with pytest.raises(PackError, match=r"not a \.tf"):
        pack(root / "README.md")


def test_pack_skips_a_file_over_the_limit_and_refuses_too_much(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "big", {"main.tf": BUCKET_TF, "huge.tf": "#" * (MAX_CODE_BYTES + 1)})
    package = pack(root)
    assert list(package.files) == ["main.tf"]
    assert "over the API's 2 MiB code limit" in dict(package.skipped)["huge.tf"]

    many = write_tree(tmp_path / "many", {f"f{i}.tf": "#" for i in range(MAX_FILES + 1)})
    with pytest.raises(PackError, match=f"{MAX_FILES + 1} files; the API takes at most {MAX_FILES}"):
        pack(many)
    half = "#" * (MAX_CODE_BYTES // 2 + 1)
    heavy = write_tree(tmp_path / "heavy", {"a.tf": half, "b.tf": half})
    with pytest.raises(PackError, match="bytes of code; the API takes at most"):
        pack(heavy)


def test_variables_follow_terraforms_precedence(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "main.tf": BUCKET_TF,
            "terraform.tfvars": 'a = "auto"\nb = "auto"\nc = "auto"\n',
            "one.tfvars": 'b = "file"\nc = "file"\nlist = ["x", 2]\n',
            "two.tfvars.json": json.dumps({"map": {"k": "v"}}),
        },
    )
    variables = merge_variables(
        pack(root), [root / "one.tfvars", root / "two.tfvars.json"], ["c=flag", "d==x=y"]
    )
    assert variables == {
        "a": "auto",
        "b": "file",
        "c": "flag",
        "d": "=x=y",
        "list": ["x", 2],
        "map": {"k": "v"},
    }
    # --var values are strings, as terraform's -var, except lists and maps, read as HCL or JSON
    assert parse_assignment("n=3") == ("n", "3")
    assert parse_assignment('l=["a", "b"]') == ("l", ["a", "b"])
    assert parse_assignment('m={ team = "x", n = 1 }') == ("m", {"team": "x", "n": 1})
    assert parse_assignment('j={"team": "x"}') == ("j", {"team": "x"})
    with pytest.raises(PackError, match="not a valid list or map"):
        parse_assignment("l=[unclosed")


def test_estimate_is_the_offline_estimate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVISIONER_URL", "http://127.0.0.1:1")  # never contacted
    root = write_tree(tmp_path, {"main.tf": 'resource "aws_kms_key" "k" {}\n'})
    run = invoke("estimate", str(root), "--json")
    assert run.code == 0, run.err
    assert estimate_main([str(root), "--json"]) == 0
    assert run.json() == json.loads(capsys.readouterr().out)
    assert run.json()["costs"]["total"] == 1.0
    assert invoke("estimate", str(tmp_path / "missing")).code == 2


def test_estimate_before_deploying_shows_the_cost_and_asks_on_a_terminal(
    tmp_path: Path, nowhere: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = write_tree(tmp_path, {"main.tf": 'resource "aws_kms_key" "k" {}\n'})
    # Without a terminal: the cost table, then the deploy goes out (here: to nowhere, so 3)
    run = invoke("deploy", str(code), "-p", "demo", "--estimate", endpoint=nowhere)
    assert run.code == 3
    assert "By category" in run.err and "aws_kms_key.k" in run.err and "1.00" in run.err
    # On a terminal, answering no sends nothing: 1, "Not deployed."
    asked: list[str] = []

    def answer_no(prompt: str, **_: object) -> bool:
        asked.append(prompt)
        return False

    monkeypatch.setattr(app, "interactive", lambda: True)
    monkeypatch.setattr(Confirm, "ask", answer_no)
    run = invoke("deploy", str(code), "-p", "demo", "--estimate", endpoint=nowhere)
    assert run.code == 1 and "Not deployed." in run.err
    assert asked == ["Deploy to project demo?"]
    # --yes does not ask
    assert invoke("deploy", str(code), "-p", "demo", "--estimate", "--yes", endpoint=nowhere).code == 3
    assert len(asked) == 1
