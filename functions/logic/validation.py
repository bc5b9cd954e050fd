"""GET validate: static checks of the project's latest code, merged with terraform's own verdict.

The static checks run once, at submit, on the same parse that decides whether the code is
refused; their result is kept on the project record (``staticFindings``) next to ``codeJobId``
and read back here. Code submitted before that was kept (or with too many findings to keep) is
parsed here instead.

Why the project record and not S3: validate reads the record anyway, so a kept result costs no
request at all, and it is set in the same conditional write that takes the project's lock, so it
is always the result of the code ``codeJobId`` names (and an undone submit puts the previous one
back with the rest). The record shares DynamoDB's 400 KB item limit with outputs and summaries,
so the findings are kept compressed above a few KB and not kept at all above ``MAX_STORED_BYTES``.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from collections.abc import Sequence
from typing import Any

from core.hcl.config import Finding
from core.hcl.preflight import PreflightPolicy
from core.hcl.validation import static_findings
from core.records import stored_json
from core.responses import TerraformValidation, ValidationFinding, ValidationOut
from functions.dal.jobs import JobStore
from functions.logic.projects import ProjectReaders, require_project
from functions.models.exceptions import NothingToShow

# The checks whose findings stop a job before it starts (core.hcl.validation.refused_findings).
REFUSING_CHECKS = frozenset({"syntax", "preflight"})
# Bumped when the checks change what they find, so results kept by older code are not served.
FINDINGS_VERSION = 1
PLAIN_MAX_BYTES = 4 * 1024
MAX_STORED_BYTES = 32 * 1024


def stored_findings(
    findings: Sequence[Finding], code_job_id: str, policy: PreflightPolicy
) -> dict[str, Any] | None:
    """The project record's ``staticFindings`` for this code; None when too large to keep."""
    text = json.dumps([finding.as_dict() for finding in findings], separators=(",", ":"))
    encoding, data = "json", text
    if len(text) > PLAIN_MAX_BYTES:
        encoding, data = "gzip", base64.b64encode(gzip.compress(text.encode(), mtime=0)).decode()
    if len(data) > MAX_STORED_BYTES:
        return None
    return {
        "codeJobId": code_job_id,
        "version": FINDINGS_VERSION,
        "allowExec": policy.allow_exec,
        "count": len(findings),
        "encoding": encoding,
        "data": data,
    }


def kept_findings(
    project: dict[str, Any], code_job_id: str, policy: PreflightPolicy
) -> list[dict[str, Any]] | None:
    """The findings kept at submit for this very code under this policy; None if there are none."""
    kept = project.get("staticFindings")
    if not isinstance(kept, dict) or kept.get("codeJobId") != code_job_id:
        return None
    if kept.get("version") != FINDINGS_VERSION or kept.get("allowExec") != policy.allow_exec:
        return None
    data = str(kept.get("data", ""))
    try:
        text = gzip.decompress(base64.b64decode(data)).decode() if kept.get("encoding") == "gzip" else data
        findings = json.loads(text)
    except (ValueError, binascii.Error, OSError, EOFError, zlib.error):
        return None  # unreadable: parse the code instead
    return findings if isinstance(findings, list) else None


def validate_project(readers: ProjectReaders, project_id: str, policy: PreflightPolicy) -> ValidationOut:
    project = require_project(readers.projects, project_id)
    code_job = project.get("codeJobId")
    if not code_job:
        raise NothingToShow(f"project {project_id} has no code to validate")
    findings = kept_findings(project, str(code_job), policy)
    if findings is None:
        files = readers.code.read(project_id, str(code_job))
        findings = [finding.as_dict() for finding in static_findings(files, policy)]
    errors = [ValidationFinding(**finding) for finding in findings]
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
