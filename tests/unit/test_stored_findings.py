"""GET validate reads the static findings kept at submit; code submitted before they were kept is
parsed once instead. Over in-memory stores."""

from __future__ import annotations

from typing import Any

import pytest

from core.hcl.config import Finding
from core.hcl.preflight import PreflightPolicy
from core.hcl.validation import refused_findings, static_findings
from core.requests import DeployRequest
from functions.logic import validation
from functions.logic.submit import submit_deploy
from functions.logic.validation import MAX_STORED_BYTES, stored_findings, validate_project
from functions.models.exceptions import InvalidConfiguration, WorkflowUnavailable
from tests.support.fakes import FailingStartWorkflow, Fakes

# Two undeclared references: findings, but not refused ones (terraform validate would catch them).
CODE = 'resource "aws_s3_bucket" "b" {\n  bucket = var.name\n  tags   = local.tags\n}\n'
CLEAN = 'resource "aws_s3_bucket" "b" {\n  bucket = "clean"\n}\n'
STRICT = PreflightPolicy()


@pytest.fixture
def no_parsing(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail the test if validate parses the code: what it reports must come from the record."""
    calls: list[Any] = []

    def parse(*args: Any) -> list[Finding]:
        calls.append(args)
        raise AssertionError("validate parsed the code")

    monkeypatch.setattr(validation, "static_findings", parse)
    return calls


def deploy(fakes: Fakes, code: str, project: str = "p") -> str:
    return submit_deploy(DeployRequest(projectId=project, iacCode=code), fakes.submit_stores(STRICT)).jobId


def test_validate_reads_the_findings_kept_at_submit_without_parsing(no_parsing: list[Any]) -> None:
    # Given code with two undeclared references, submitted
    fakes = Fakes()
    job_id = deploy(fakes, CODE)
    kept = fakes.projects.items["p"]["staticFindings"]
    assert (kept["codeJobId"], kept["count"], kept["encoding"]) == (job_id, 2, "json")

    # When validate is asked
    result = validate_project(fakes.readers(), "p", STRICT)

    # Then it answers what a parse finds, without reading or parsing the code
    expected = [f.as_dict() for f in static_findings({"main.tf": CODE}, STRICT)]
    assert [e.model_dump() for e in result.errors] == expected
    assert result.message == "Terraform configuration has 2 errors"
    assert fakes.code.reads == [] and no_parsing == []


def test_code_submitted_before_findings_were_kept_is_parsed_once() -> None:
    # Given a project whose record has no kept findings (submitted by the previous version)
    fakes = Fakes()
    job_id = deploy(fakes, CODE)
    del fakes.projects.items["p"]["staticFindings"]

    # When validate is asked
    result = validate_project(fakes.readers(), "p", STRICT)

    # Then it reads the code once and reports what the parse finds
    assert fakes.code.reads == [("p", job_id)]
    assert [(e.check, e.line) for e in result.errors] == [("references", 2), ("references", 3)]


@pytest.mark.parametrize(
    "change",
    [
        {"codeJobId": "deploy-1700000000000-otherjob1"},  # kept for other code
        {"allowExec": True},  # kept under another policy
        {"version": 0},  # kept by older checks
        {"encoding": "gzip", "data": "not base64!"},  # unreadable
    ],
)
def test_findings_that_do_not_belong_to_this_code_and_policy_are_not_served(change: dict[str, Any]) -> None:
    fakes = Fakes()
    deploy(fakes, CLEAN)
    kept = fakes.projects.items["p"]["staticFindings"]
    # Forge kept findings that would say "2 errors" if they were (wrongly) believed
    forged = stored_findings(static_findings({"main.tf": CODE}, STRICT), kept["codeJobId"], STRICT)
    assert forged is not None
    fakes.projects.items["p"]["staticFindings"] = {**forged, **change}
    result = validate_project(fakes.readers(), "p", STRICT)
    assert result.valid is True and len(fakes.code.reads) == 1


def test_many_findings_are_kept_compressed_and_too_many_are_not_kept() -> None:
    # Given code with hundreds of undeclared references
    many = "".join(
        f'resource "aws_s3_bucket" "b{i}" {{\n  bucket = var.missing_{i}\n}}\n' for i in range(300)
    )
    findings = static_findings({"main.tf": many}, STRICT)
    assert len(findings) == 300

    # Then they are kept gzip-compressed, under the size kept on the record, and read back whole
    kept = stored_findings(findings, "deploy-1700000000000-abcdefghi", STRICT)
    assert kept is not None and kept["encoding"] == "gzip" and len(kept["data"]) <= MAX_STORED_BYTES
    project = {"staticFindings": kept}
    assert validation.kept_findings(project, "deploy-1700000000000-abcdefghi", STRICT) == [
        f.as_dict() for f in findings
    ]
    # and beyond what the record may hold, nothing is kept (validate parses instead)
    huge = [
        Finding("references", f"code_{i}", f"message {i} " + "x" * 200, f"f{i}.tf", i) for i in range(5000)
    ]
    assert stored_findings(huge, "deploy-1700000000000-abcdefghi", STRICT) is None


def test_submit_refuses_exactly_what_it_refused_before() -> None:
    # Given code with a refused construct, a syntax error in another file and a bad reference
    files = {
        "main.tf": 'data "external" "x" {\n  program = ["id"]\n}\nresource "a" "b" {\n  v = var.nope\n}\n',
        "broken.tf": 'resource "a" "c" {\n',
    }
    fakes = Fakes()
    with pytest.raises(InvalidConfiguration) as refused:
        submit_deploy(DeployRequest(projectId="p", files=files), fakes.submit_stores(STRICT))
    assert refused.value.errors == [f.as_dict() for f in refused_findings(files, STRICT)]
    assert refused.value.errors and "p" not in fakes.projects.items


def test_an_undone_submit_puts_the_previous_findings_back() -> None:
    # Given a project whose code has two findings
    fakes = Fakes()
    first = deploy(fakes, CODE)
    fakes.jobs.items[first].update(status="completed")
    fakes.projects.release("p", first)

    # When a new submit of clean code cannot start its workflow
    fakes.workflow = FailingStartWorkflow()
    with pytest.raises(WorkflowUnavailable):
        deploy(fakes, CLEAN)

    # Then the project points at the first code again, with its findings, and validate reads them
    project = fakes.projects.items["p"]
    assert project["codeJobId"] == first and project["staticFindings"]["codeJobId"] == first
    assert validate_project(fakes.readers(), "p", STRICT).message == "Terraform configuration has 2 errors"
    assert fakes.code.reads == []
