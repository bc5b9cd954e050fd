"""What a project looks like now: deployment status, outputs and the (redacted) state."""

from __future__ import annotations

from dataclasses import dataclass

from core.records import DeploymentStatus, stored_json
from core.redaction import redact_state
from core.responses import InfrastructureOut, OutputsOut, PlanSummary, StateOut, StateSummary
from functions.dal.jobs import JobStore
from functions.dal.objects import ArtifactReader, CodeStore, StateReader
from functions.dal.projects import ProjectItem, ProjectStore
from functions.dal.variables import VariableStore
from functions.models.exceptions import NothingToShow, ProjectNotFound


@dataclass(frozen=True)
class ProjectReaders:
    """What the read-only project routes (validate, costs) look at."""

    projects: ProjectStore
    jobs: JobStore
    code: CodeStore
    states: StateReader
    artifacts: ArtifactReader
    variables: VariableStore
    default_region: str


def require_project(projects: ProjectStore, project_id: str) -> ProjectItem:
    item = projects.get(project_id)
    if item is None:
        raise ProjectNotFound(f"no project {project_id}: nothing has been deployed under that id")
    return item


def infrastructure(projects: ProjectStore, project_id: str) -> InfrastructureOut:
    item = projects.get(project_id)
    if item is None:
        # The seed's contract: a project never seen is simply not deployed.
        return InfrastructureOut(
            projectId=project_id, deploymentStatus=DeploymentStatus.NOT_DEPLOYED, deploymentOutputs={}
        )
    summary = item.get("stateSummary")
    plan = item.get("planSummary")
    return InfrastructureOut(
        projectId=project_id,
        deploymentStatus=DeploymentStatus(item.get("deploymentStatus", DeploymentStatus.NOT_DEPLOYED)),
        deploymentJobId=item.get("deploymentJobId"),
        deploymentOutputs=stored_json(item.get("outputsJson"), {}),
        terraformState=StateSummary(**summary) if isinstance(summary, dict) else None,
        lastUpdated=item.get("lastUpdated"),
        activeJobId=item.get("activeJobId"),
        planSummary=PlanSummary(**plan) if isinstance(plan, dict) else None,
    )


def outputs(projects: ProjectStore, project_id: str) -> OutputsOut:
    item = require_project(projects, project_id)
    values = stored_json(item.get("outputsJson"), {})
    status = item.get("deploymentStatus")
    if status == DeploymentStatus.DEPLOYED:
        message = "Terraform outputs retrieved successfully"
    else:
        message = f"The project is {status}; these are the outputs of its last completed job"
    return OutputsOut(projectId=project_id, outputs=values, message=message)


def state(projects: ProjectStore, states: StateReader, project_id: str) -> StateOut:
    item = require_project(projects, project_id)
    document = states.read(project_id)
    if document is None:
        raise NothingToShow(f"project {project_id} has no terraform state yet")
    paths = stored_json(item.get("sensitivePathsJson"), {})
    return StateOut(
        projectId=project_id,
        state=redact_state(document, paths if isinstance(paths, dict) else {}),
        message="Terraform state retrieved successfully",
    )
