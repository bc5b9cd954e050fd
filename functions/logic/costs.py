"""GET costs: the project's monthly cost through the cost module's one entry point."""

from __future__ import annotations

from core.records import DeploymentStatus, stored_json
from core.responses import CostBreakdown, CostCoverage, CostRecommendation, CostsOut
from cost import estimate
from functions.logic.projects import ProjectReaders, require_project
from functions.models.exceptions import NothingToShow


def project_costs(readers: ProjectReaders, project_id: str) -> CostsOut:
    """Prices the latest plan when it is of the latest code, else the code itself; the deployed
    state, when there is one, gives the prior total and the delta."""
    project = require_project(readers.projects, project_id)
    code_job = project.get("codeJobId")
    if not code_job:
        raise NothingToShow(f"project {project_id} has no code to estimate")
    deployed = project.get("deploymentStatus") == DeploymentStatus.DEPLOYED
    prior_state = readers.states.read(project_id) if deployed else None
    # The raw state holds secrets; the schema's paths let the estimator redact it before reading.
    paths = stored_json(project.get("sensitivePathsJson"), {})
    sensitive_paths = paths if isinstance(paths, dict) else {}
    plan = None
    plan_job = project.get("planJobId")
    if plan_job and plan_job == project.get("deploymentJobId") and project.get("activeAction") is None:
        plan = readers.artifacts.plan(project_id, str(plan_job))
    if plan is not None:
        report = estimate(
            plan=plan,
            state=prior_state,
            default_region=readers.default_region,
            sensitive_paths=sensitive_paths,
        )
        basis = "plan"
    else:
        reference = project.get("variablesRef")
        values = readers.variables.load(reference) if isinstance(reference, dict) else {}
        report = estimate(
            files=readers.code.read(project_id, str(code_job)),
            variables=values,
            state=prior_state,
            default_region=readers.default_region,
            sensitive_paths=sensitive_paths,
        )
        basis = "code"
    data = report.to_dict()
    return CostsOut(
        projectId=project_id,
        estimated=True,
        costs=CostBreakdown(**data["costs"]),
        message="Cost estimation completed",
        basis=basis,
        region=data.get("region"),
        priceDate=data.get("priceDate"),
        resources=data.get("resources", []),
        unpriced=data.get("unpriced", []),
        usageBased=data.get("usageBased", []),
        free=data.get("free", []),
        prior=data.get("prior"),
        proposed=data.get("proposed"),
        delta=data.get("delta"),
        coverage=CostCoverage(**data["coverage"]),
        totalText=data.get("totalText"),
        warnings=data.get("warnings", []),
        recommendations=[CostRecommendation(**r) for r in data.get("recommendations", [])],
    )
