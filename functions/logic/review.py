"""The review of a plan, made once by the workflow after the plan build: every resource and
output change (redacted: the runner stored the plan after redaction), the monthly cost before and
after, and a markdown rendering for a pull-request comment. The job then carries the summary and
the cost (the status answer shows them); the whole review is one document beside the plan.
"""

from __future__ import annotations

from typing import Any

from core.plans import render_markdown, review_plan
from core.records import JobMode, iso_after, iso_now
from core.transitions import ACTIVE, Update, job_reviewed, one_of, present
from cost import estimate
from functions.dal.jobs import JobItem, JobStore
from functions.dal.objects import ArtifactReader
from functions.models.exceptions import JobNotFound, PlanNotReady

PLAN_CREATED = "Plan created successfully"


MAX_PLAN_RECOMMENDATIONS = 5


def plan_cost(plan: dict[str, Any], default_region: str) -> dict[str, Any]:
    """The plan's monthly cost: prior (its prior state; none is $0), proposed, delta, coverage,
    what makes the total less than an estimate, and the largest savings found."""
    report = estimate(plan=plan, default_region=default_region).to_dict()
    proposed = float(report["costs"]["total"])
    had_state = bool((plan.get("prior_state") or {}).get("values"))
    prior = float(report["prior"]) if "prior" in report else (None if had_state else 0.0)
    coverage = report["coverage"]
    return {
        "prior": prior,
        "proposed": proposed,
        "delta": None if prior is None else round(proposed - prior, 2),
        "currency": report["costs"].get("currency", "USD"),
        "priced": coverage["priced"],
        "free": coverage["free"],
        "unpriced": coverage["unpriced"],
        "total": coverage["resources"],
        # An unpriced resource never counts as $0: the totals are a floor.
        "lowerBound": bool(report["costs"]["totalIsLowerBound"]),
        "warnings": list(report.get("warnings", [])),
        "recommendations": list(report.get("recommendations", []))[:MAX_PLAN_RECOMMENDATIONS],
    }


def review_job_plan(
    jobs: JobStore, artifacts: ArtifactReader, job_id: str, *, default_region: str, plan_expiry_seconds: int
) -> dict[str, Any]:
    """Review a job's saved plan and record it; returns ``{"hasChanges": ...}`` for the workflow."""
    job = jobs.get(job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    project_id = str(job["projectId"])
    plan = artifacts.plan(project_id, job_id)
    if plan is None:
        raise PlanNotReady(f"job {job_id} has no stored plan")
    review = review_plan(plan)
    cost = plan_cost(plan, default_region)
    document = review.to_dict()
    saved = dict(job.get("savedPlan") or {})
    created = str(saved.get("createdAt") or iso_now())
    basis = {
        "stateSerial": saved.get("stateSerial"),
        "stateLineage": saved.get("stateLineage"),
        "terraformVersion": saved.get("terraformVersion") or plan.get("terraform_version"),
        "codeHash": saved.get("codeHash") or job.get("codeHash"),
        "createdAt": created,
        "expiresAt": iso_after(created, plan_expiry_seconds),
    }
    document |= {
        "cost": cost,
        "markdown": render_markdown(review, project_id=project_id, job_id=job_id, cost=cost),
        "basis": basis,
    }
    key = artifacts.save_review(project_id, job_id, document)
    # A speculative plan's job ends once its policies are checked (functions/logic/policy_check).
    jobs.apply(job_reviewed(job_id, iso_now(), document["summary"], cost, key))
    if job.get("mode") == JobMode.GATED.value and not review.has_changes:
        jobs.apply(_not_needed(job))
    return {"hasChanges": review.has_changes}


def completed_message(summary: dict[str, Any], has_changes: bool) -> str:
    # The review's own verdict: an import or a forget is a change terraform counts apart.
    if not has_changes:
        return f"{PLAN_CREATED}: no changes"
    counts = [
        f"{summary.get('add', 0)} to add",
        f"{summary.get('change', 0)} to change",
        f"{summary.get('destroy', 0)} to destroy",
        *(f"{summary[k]} to {k}" for k in ("import", "forget") if summary.get(k)),
    ]
    return f"{PLAN_CREATED}: " + ", ".join(counts)


def _not_needed(job: JobItem) -> Update:
    """A gated plan with nothing to change goes on without waiting: the record says why."""
    now = iso_now()
    return Update(
        {"jobId": str(job["jobId"])},
        {
            "approval": {
                "required": True,
                "state": "not_needed",
                "decidedAt": now,
                "comment": "the plan has no changes",
            },
            "updatedAt": now,
        },
        # Only a job still active: a job cancelled meanwhile keeps its record as it was closed.
        conditions=(present("jobId"), one_of("status", ACTIVE)),
    )


def read_review(jobs: JobStore, artifacts: ArtifactReader, job_id: str) -> tuple[JobItem, dict[str, Any]]:
    job = jobs.get(job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    key = job.get("reviewKey")
    document = artifacts.review(str(job["projectId"]), job_id) if key else None
    if document is None:
        status = job.get("status")
        raise PlanNotReady(
            f"job {job_id} has no reviewed plan yet (status {status}, phase {job.get('phase')})"
        )
    return job, document
