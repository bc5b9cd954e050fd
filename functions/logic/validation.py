"""GET validate: static checks of the project's latest code, merged with terraform's own verdict."""

from __future__ import annotations

from typing import Any

from functions.dal.jobs import JobStore
from functions.logic.projects import ProjectReaders, require_project
from functions.models.exceptions import NothingToShow
from functions.models.output import TerraformValidation, ValidationFinding, ValidationOut
from provisioner.hcl.preflight import PreflightPolicy
from provisioner.hcl.validation import static_findings
from provisioner.records import stored_json


def validate_project(readers: ProjectReaders, project_id: str, policy: PreflightPolicy) -> ValidationOut:
    project = require_project(readers.projects, project_id)
    code_job = project.get("codeJobId")
    if not code_job:
        raise NothingToShow(f"project {project_id} has no code to validate")
    files = readers.code.read(project_id, str(code_job))
    errors = [ValidationFinding(**finding.as_dict()) for finding in static_findings(files, policy)]
    warnings: list[ValidationFinding] = []
    recorded = _recorded_validation(project)
    terraform: TerraformValidation | None = None
    if recorded is not None:
        current = _validated_code(readers.jobs, recorded) == code_job
        terraform = TerraformValidation(
            jobId=str(recorded.get("jobId")),
            checkedAt=str(recorded.get("checkedAt", "")),
            terraformVersion=recorded.get("terraformVersion"),
            current=current,
        )
        if current:
            errors += [_terraform_finding(item, "error") for item in recorded.get("errors") or []]
            warnings += [_terraform_finding(item, "warning") for item in recorded.get("warnings") or []]
    valid = not errors
    if valid:
        message = "Terraform configuration is valid"
        if terraform is None or not terraform.current:
            message += " (static checks; terraform validate runs with the next job)"
    else:
        message = f"Terraform configuration has {len(errors)} error{'s' if len(errors) != 1 else ''}"
    return ValidationOut(
        projectId=project_id,
        valid=valid,
        errors=errors,
        warnings=warnings,
        message=message,
        terraformValidation=terraform,
    )


def _recorded_validation(project: dict[str, Any]) -> dict[str, Any] | None:
    value = stored_json(project.get("validationJson"), {})
    return value or None


def _validated_code(jobs: JobStore, recorded: dict[str, Any]) -> str | None:
    """Which code the recorded validation looked at: a destroy runs the code of an earlier deploy."""
    job = jobs.get(str(recorded.get("jobId", "")))
    return str(job.get("codeJobId") or job["jobId"]) if job else None


def _terraform_finding(item: dict[str, Any], severity: str) -> ValidationFinding:
    detail = str(item.get("detail") or "").strip()
    summary = str(item.get("summary") or severity)
    return ValidationFinding(
        check="terraform",
        code=f"terraform_{severity}",
        message=f"{summary}: {detail}" if detail else summary,
        file=item.get("file"),
        line=item.get("line"),
        column=item.get("column"),
    )
