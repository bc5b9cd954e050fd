"""The command line against make local's server, over HTTP: deploy a directory and watch it, read the
project back, fail the way CI needs to see, follow logs and destroy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.toolchain import Toolchain
from provisioner.client import ApiError, ProvisionerClient
from tests.cli.helpers import Run, invoke, write_tree
from tests.support.local_server import LocalServer

pytestmark = pytest.mark.terraform

PROJECT = "cli-app"
MAIN_TF = """
variable "prefix" { type = string }
variable "suffix" { type = string }
variable "tags" {
  type    = map(string)
  default = {}
}

module "logs" {
  source = "./modules/store"
  name   = "${var.prefix}-logs-${var.suffix}"
}

resource "aws_s3_bucket" "assets" {
  bucket = "${var.prefix}-assets-${var.suffix}"
  tags   = var.tags
}

resource "aws_kms_key" "key" {
  description             = "cli test key"
  deletion_window_in_days = 7
}

output "assets" { value = aws_s3_bucket.assets.bucket }
output "logs" { value = module.logs.bucket }
output "team" { value = var.tags["team"] }
"""
MODULE_TF = """
variable "name" { type = string }
resource "aws_s3_bucket" "this" { bucket = var.name }
output "bucket" { value = aws_s3_bucket.this.bucket }
"""
NOT_TERRAFORM = "this is { not terraform"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Iterator[LocalServer]:
    running = LocalServer(tmp_path_factory.mktemp("cli-local") / "data")
    running.start()
    yield running
    running.stop()


@dataclass
class Deployed:
    run: Run
    job_id: str


@pytest.fixture(scope="module")
def deployed(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    root = write_tree(
        tmp_path_factory.mktemp("infra"),
        {
            "main.tf": MAIN_TF,
            "modules/store/main.tf": MODULE_TF,
            "terraform.tfvars": 'prefix = "cli"\n',
            "extra.tfvars": 'suffix = "file"\ntags = { team = "platform" }\n',
            # Never sent: terraform's own directory, hidden ones, other files, names the API refuses.
            ".terraform/modules/cached.tf": NOT_TERRAFORM,
            ".hidden/extra.tf": NOT_TERRAFORM,
            "notes.md": NOT_TERRAFORM,
            "bad name.tf": NOT_TERRAFORM,
        },
    )
    run = invoke(
        "deploy",
        str(root),
        "--project",
        PROJECT,
        "--var-file",
        str(root / "extra.tfvars"),
        "--var",
        "suffix=one",
        "--wait",
        endpoint=server.url,
    )
    assert run.code == 0, (run.out, run.err, server.log()[-3000:])
    return Deployed(run, run.job_id())


def test_deploy_waits_for_the_job_and_prints_the_outputs(deployed: Deployed, server: LocalServer) -> None:
    # Then the outputs come as a table, with the variables merged in terraform's order:
    # terraform.tfvars, then --var-file, then --var
    out = deployed.run.out
    assert "Infrastructure deployed successfully" in out
    for name, value in (("assets", "cli-assets-one"), ("logs", "cli-logs-one"), ("team", "platform")):
        assert name in out and value in out
    # And the progress went through the phases to the end, one line each (no terminal here)
    err = deployed.run.err
    assert f"{deployed.job_id}: processing" in err and f"{deployed.job_id}: completed done 100%" in err
    assert "skipped bad name.tf" in err and "variables from terraform.tfvars" in err
    # And exactly the configuration's files went out, the module included
    log = server.get(f"/api/deploy/logs/{deployed.job_id}").body["content"]
    assert "workspace: 2 file(s): main.tf, modules/store/main.tf" in log


@pytest.mark.parametrize(
    ("argv", "path"),
    [
        (["status", "{job}"], "/api/deploy/status/{job}"),
        (["jobs", "--project", PROJECT], f"/api/deploy/jobs?projectId={PROJECT}"),
        (["logs", "{job}"], "/api/deploy/logs/{job}?offset=0"),
        (["outputs", PROJECT], f"/api/deploy/outputs/{PROJECT}"),
        (["state", PROJECT], f"/api/deploy/state/{PROJECT}"),
        (["infra", PROJECT], f"/api/deploy/infrastructure/{PROJECT}"),
        (["validate", PROJECT], f"/api/deploy/validate/{PROJECT}"),
        (["costs", PROJECT], f"/api/deploy/costs/{PROJECT}"),
        (["health"], "/api/health"),
    ],
)
def test_json_is_the_apis_answer(deployed: Deployed, server: LocalServer, argv: list[str], path: str) -> None:
    run = invoke(*(arg.format(job=deployed.job_id) for arg in argv), "--json", endpoint=server.url)
    assert run.code == 0, run.err
    assert run.json() == server.get(path.format(job=deployed.job_id)).body


def test_costs_are_a_table_by_category_and_by_resource(deployed: Deployed, server: LocalServer) -> None:
    run = invoke("costs", PROJECT, endpoint=server.url)
    assert run.code == 0, run.err
    assert "By category" in run.out and "By resource" in run.out
    # The key is the one resource with a fixed price: $1 a month, under "other"
    assert any(line.split() == ["│", "other", "│", "1.00", "│"] for line in run.out.splitlines()), run.out
    assert any(line.split()[:3] == ["│", "total", "│"] and "1.00" in line for line in run.out.splitlines())
    for address in ("aws_kms_key.key", "aws_s3_bucket.assets", "module.logs.aws_s3_bucket.this"):
        assert address in run.out
    assert "Customer managed key" in run.out


def test_the_project_reads_back_as_tables(deployed: Deployed, server: LocalServer) -> None:
    status = invoke("status", deployed.job_id, endpoint=server.url)
    assert status.code == 0 and "completed" in status.out
    assert "3 to add, 0 to change, 0 to destroy" in status.out
    assert "Timings" in status.out and "apply " in status.out.split("Timings", 1)[1]
    outputs = invoke("outputs", PROJECT, endpoint=server.url)
    assert outputs.code == 0 and "cli-assets-one" in outputs.out
    state = invoke("state", PROJECT, endpoint=server.url)
    assert state.code == 0
    for address in ("aws_s3_bucket.assets", "aws_kms_key.key", "module.logs.aws_s3_bucket.this"):
        assert address in state.out
    infra = invoke("infra", PROJECT, endpoint=server.url)
    assert infra.code == 0 and "deployed" in infra.out and "3 resources" in infra.out
    validate = invoke("validate", PROJECT, endpoint=server.url)
    assert validate.code == 0 and "valid" in validate.out
    jobs = invoke("jobs", "--project", PROJECT, endpoint=server.url)
    assert jobs.code == 0 and deployed.job_id in jobs.out
    logs = invoke("logs", deployed.job_id, endpoint=server.url)
    assert logs.code == 0 and "Apply complete! Resources: 3 added" in logs.out


def test_follow_a_deploy_then_destroy_it_with_wait(server: LocalServer, tmp_path: Path) -> None:
    # Given a deploy sent without --wait
    root = write_tree(tmp_path, {"main.tf": 'resource "aws_s3_bucket" "b" { bucket = "cli-followed" }\n'})
    accepted = invoke("deploy", str(root), "-p", "cli-follow", "--json", endpoint=server.url)
    assert accepted.code == 0, accepted.err
    job_id = accepted.json()["jobId"]
    assert server.get(f"/api/deploy/status/{job_id}").body["status"] in ("pending", "processing")

    # When its log is followed, the command ends when the job does, with the whole log
    follow = invoke("logs", job_id, "--follow", endpoint=server.url)
    assert follow.code == 0, follow.err
    assert follow.out.startswith("[") and "--- init ---" in follow.out
    assert "Apply complete! Resources: 1 added" in follow.out
    assert follow.out == server.get(f"/api/deploy/logs/{job_id}").body["content"]
    assert server.get(f"/api/deploy/status/{job_id}").body["status"] == "completed"

    # And destroy --wait takes it all down
    destroy = invoke("destroy", "cli-follow", "--wait", endpoint=server.url)
    assert destroy.code == 0, (destroy.out, destroy.err)
    assert "destroy" in destroy.err and "completed done 100%" in destroy.err
    infra = invoke("infra", "cli-follow", "--json", endpoint=server.url)
    assert infra.json()["deploymentStatus"] == "destroyed"


def test_a_failing_deploy_exits_1_with_the_terraform_error(server: LocalServer, tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"main.tf": 'resource "aws_s3_bucket" "b" { bucket = "Not_Valid!" }\n'})
    run = invoke("deploy", str(root), "--project", "cli-bad", "--wait", "--logs", endpoint=server.url)
    assert run.code == 1, (run.out, run.err)
    # With --logs the log went by as it was written, to the very last line (the last status line
    # may come before or after it: the log can be whole a moment before the job is recorded failed),
    # the runner's timings line after the failure
    log_lines = [line for line in run.err.splitlines() if not line.startswith(run.job_id())]
    assert "--- init ---" in run.err and log_lines[-2].endswith("(main.tf:1)")
    assert "] timings: " in log_lines[-1] and "apply " in log_lines[-1]
    # The error, then the log's last lines, where terraform says it
    assert "failed: terraform apply failed: Error validating S3 bucket name" in run.out
    assert "the log's last lines" in run.out and "Error: Error validating S3 bucket name" in run.out
    assert "Not_Valid!" in run.out
    # And status says so too, in its exit code
    status = invoke("status", run.job_id(), "--json", endpoint=server.url)
    assert status.code == 1 and status.json()["status"] == "failed"
    assert status.json() == server.get(f"/api/deploy/status/{run.job_id()}").body


def test_code_the_service_refuses_exits_1_with_every_problem(server: LocalServer, tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"main.tf": 'resource "aws_s3_bucket" "b" {\n  bucket = \n}\n'})
    run = invoke("deploy", str(root), "--project", "cli-syntax", "--wait", endpoint=server.url)
    assert run.code == 1
    assert "invalid_configuration" in run.err and "main.tf:2" in run.err
    assert server.get("/api/deploy/jobs?projectId=cli-syntax").body["jobs"] == []


def test_api_errors_keep_their_body_and_map_to_exit_codes(server: LocalServer) -> None:
    unknown = "deploy-1700000000000-abcdef123"
    # An unknown job: 1, and with --json the API's error body as it is
    run = invoke("status", unknown, "--json", endpoint=server.url)
    assert run.code == 1 and "job_not_found" in run.err
    assert run.json() == server.get(f"/api/deploy/status/{unknown}").body
    # A malformed id is the caller's mistake: 2
    assert invoke("status", "not-a-job", endpoint=server.url).code == 2
    assert invoke("outputs", "no-such-project", endpoint=server.url).code == 1

    # The client raises the same as a typed exception
    client = ProvisionerClient(server.url)
    with pytest.raises(ApiError) as raised:
        client.status(unknown)
    assert raised.value.status == 404 and raised.value.error == "job_not_found"
    assert raised.value.body == server.get(f"/api/deploy/status/{unknown}").body
    assert client.health().status == "ok"


def test_cancelling_a_finished_job_is_refused(deployed: Deployed, server: LocalServer) -> None:
    run = invoke("cancel", deployed.job_id, endpoint=server.url)
    assert run.code == 1 and "conflict" in run.err and "nothing to cancel" in run.err
