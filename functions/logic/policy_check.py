"""The workflow's policy step: a job's plan checked against the policy set it was submitted
under, the result kept on the job (and in its plan's review), and the way on decided: apply,
wait for a person, stop, or (a speculative plan) end.

It fails closed throughout: a plan that cannot be read, a policy version gone missing or a
policy that cannot be evaluated stops the job rather than letting its plan through.
"""

from __future__ import annotations

from typing import Any, Literal

from core.plans import render_policies
from core.records import JobAction, iso_now
from core.transitions import job_policy_checked, job_policy_stopped
from functions.dal.jobs import JobItem, JobStore
from functions.dal.objects import ArtifactReader, CodeStore
from functions.dal.policies import PolicyStore
from functions.dal.projects import ProjectStore
from functions.logic.policies import load_snapshot
from functions.logic.review import completed_message, plan_cost
from functions.models.exceptions import JobNotFound
from policy.engine import PolicyCheck, check_plan
from policy.expressions import bare_references
from policy.model import PolicyContext, PolicyError

Next = Literal["apply", "wait", "stop", "end"]


def _failed_closed(message: str) -> dict[str, Any]:
    return {
        "outcome": "failed",
        "message": f"the policies could not be checked: {message}",
        "results": [],
        "requires": [],
        "stoppedBy": ["policy-check"],
        "counts": {},
    }


def _bare_references(code: CodeStore, job: JobItem) -> bool:
    """What the job's code says of the plan's references (policy.expressions); unreadable: False."""
    files = code.read(str(job["projectId"]), str(job.get("codeJobId") or job["jobId"]))
    return bool(files) and bare_references(files)


def evaluate_job(
    jobs: JobStore,
    policies: PolicyStore,
    artifacts: ArtifactReader,
    code: CodeStore,
    job: JobItem,
    *,
    default_region: str,
) -> dict[str, Any]:
    """The policy check of a job's plan, as it is stored on the job."""
    job_id = str(job["jobId"])
    project_id = str(job["projectId"])
    plan_job_id = str(job.get("planJobId") or job_id)
    refs = job.get("policySet") or []
    bare = _bare_references(code, job)
    if not refs:
        return {**PolicyCheck("no_policies", (), message="no policies").as_dict(), "bareReferences": bare}
    plan = artifacts.plan(project_id, plan_job_id)
    if plan is None:
        return _failed_closed(f"job {plan_job_id} has no stored plan")
    cost = _cost(jobs, job, plan_job_id, plan, default_region)
    context = PolicyContext(
        project_id=project_id,
        caller=str(job.get("submittedBy") or "unknown"),
        action=str(job.get("action", "deploy")),
        cost=cost,
        default_region=default_region,
        allow_destroy=bool(job.get("allowDestroy")),
        speculative=job.get("action") == JobAction.PLAN.value,
        bare_references=bare,
    )
    try:
        set_ = load_snapshot(policies, refs)
    except PolicyError as exc:
        return _failed_closed(exc.message)
    # Kept with the result, so a dry run on this plan later reads the code the same way.
    return {**check_plan(set_, plan, context).as_dict(), "bareReferences": bare}


def _cost(
    jobs: JobStore, job: JobItem, plan_job_id: str, plan: dict[str, Any], default_region: str
) -> dict[str, Any]:
    """The review's cost of this plan (the plan job's, for the apply of a saved plan)."""
    source = job if plan_job_id == job.get("jobId") else (jobs.get(plan_job_id) or {})
    cost = source.get("planCost")
    return dict(cost) if isinstance(cost, dict) else plan_cost(plan, default_region)


def check_job_policies(
    jobs: JobStore,
    policies: PolicyStore,
    artifacts: ArtifactReader,
    code: CodeStore,
    job_id: str,
    *,
    default_region: str,
    has_changes: bool,
) -> dict[str, Any]:
    """The workflow step: ``{"next": apply | wait | stop | end}``."""
    job = jobs.get(job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    check = {
        **evaluate_job(jobs, policies, artifacts, code, job, default_region=default_region),
        "evaluatedAt": iso_now(),
    }
    message = None
    if job.get("action") == JobAction.PLAN.value:
        message = completed_message(job.get("planSummary") or {}, has_changes)
        if check["outcome"] not in ("no_policies", "passed"):
            message += f"; policies: {check['outcome']} ({check['message']})"
    jobs.apply(job_policy_checked(job_id, iso_now(), check, completed_message=message))
    _annotate_review(artifacts, job, check)
    return {"next": next_step(job, check, has_changes=has_changes), "outcome": check["outcome"]}


def next_step(job: JobItem, check: dict[str, Any], *, has_changes: bool) -> Next:
    if job.get("action") == JobAction.PLAN.value:
        return "end"
    if check["outcome"] == "failed":
        return "stop"
    if check.get("requires") or (job.get("approvalRequired") and has_changes):
        return "wait"
    return "apply"


def _annotate_review(artifacts: ArtifactReader, job: JobItem, check: dict[str, Any]) -> None:
    """The plan's review (its markdown comment) carries what the policies said of it."""
    if not job.get("reviewKey"):
        return
    project_id, job_id = str(job["projectId"]), str(job["jobId"])
    document = artifacts.review(project_id, job_id)
    if document is None:
        return
    markdown = str(document.get("markdown", "")).split("\n#### Policies\n", 1)[0].rstrip("\n")
    document["markdown"] = markdown + "\n\n" + render_policies(check)
    document["policies"] = check
    artifacts.save_review(project_id, job_id, document)


def stop_for_policy(jobs: JobStore, projects: ProjectStore, job_id: str) -> None:
    """The workflow's stop path: the job ends failed (policy_failed), the project as it was."""
    job = jobs.get(job_id)
    if job is None:
        return
    check = job.get("policyCheck") or {}
    results = [r for r in check.get("results") or [] if r.get("outcome") != "passed"]
    stopped = set(check.get("stoppedBy") or [])
    named = [r for r in results if f"{r.get('scope')}/{r.get('policy')}" in stopped] or results
    detail = "; ".join(
        f"{r.get('scope')}/{r.get('policy')} (v{r.get('version')}, {r.get('level')}): "
        + "; ".join((r.get("messages") or ["failed"])[:3])
        for r in named[:5]
    )
    error = f"stopped by policy: {detail or check.get('message') or 'the policies could not be checked'}"
    jobs.apply(job_policy_stopped(job_id, iso_now(), error[:4000]))
    projects.release(str(job["projectId"]), job_id, restore=job.get("previousProject") or None)
