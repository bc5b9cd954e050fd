"""A project's infrastructure, outputs, state, validation and costs."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from core.hcl.preflight import PreflightPolicy
from core.records import PROJECT_ID_PATTERN
from core.responses import CostsOut, InfrastructureOut, OutputsOut, StateOut, ValidationOut
from functions.dal.jobs import job_store
from functions.dal.objects import artifact_reader, code_store, state_reader
from functions.dal.projects import project_store
from functions.dal.variables import variable_store
from functions.logic import costs as cost_logic
from functions.logic import projects as project_logic
from functions.logic.projects import ProjectReaders
from functions.logic.validation import validate_project
from functions.models.env_vars import ProjectsEnv
from functions.utils.env import environment
from functions.utils.rest_api_resolver import error_responses, success_response

ProjectIdPath = Annotated[str, Path(pattern=PROJECT_ID_PATTERN, description="Letters, digits, '-' and '_'.")]


def _readers() -> ProjectReaders:
    env = environment(ProjectsEnv)
    return ProjectReaders(
        projects=project_store(env.PROJECTS_TABLE),
        jobs=job_store(env.JOBS_TABLE),
        code=code_store(env.WORKSPACES_BUCKET),
        states=state_reader(env.STATE_BUCKET),
        artifacts=artifact_reader(env.LOGS_BUCKET),
        variables=variable_store(env.SECRETS_KMS_KEY_ID),
        default_region=env.DEFAULT_REGION,
    )


def build_router() -> Router:
    """A fresh router per resolver: a router included in two resolvers would share one current event."""
    router = Router()

    @router.get(
        "/api/deploy/infrastructure/<projectId>",
        summary="Deployment status, outputs and a state summary",
        description="A project never seen answers not_deployed.",
        responses={
            **success_response(200, InfrastructureOut, "The project's deployment"),
            **error_responses(400, 503),
        },
        tags=["projects"],
    )
    def infrastructure(projectId: ProjectIdPath) -> InfrastructureOut:
        return project_logic.infrastructure(_readers().projects, projectId)

    @router.get(
        "/api/deploy/outputs/<projectId>",
        summary='Terraform outputs; sensitive ones as "(sensitive)"',
        responses={**success_response(200, OutputsOut, "The outputs"), **error_responses(400, 404, 503)},
        tags=["projects"],
    )
    def outputs(projectId: ProjectIdPath) -> OutputsOut:
        return project_logic.outputs(_readers().projects, projectId)

    @router.get(
        "/api/deploy/state/<projectId>",
        summary="The terraform state with every sensitive value redacted",
        responses={**success_response(200, StateOut, "The redacted state"), **error_responses(400, 404, 503)},
        tags=["projects"],
    )
    def state(projectId: ProjectIdPath) -> StateOut:
        readers = _readers()
        return project_logic.state(readers.projects, readers.states, projectId)

    @router.get(
        "/api/deploy/validate/<projectId>",
        summary="Validate the project's latest code",
        description="Syntax, refused constructs, undeclared references, and the last terraform validate.",
        responses={
            **success_response(200, ValidationOut, "What the checks found"),
            **error_responses(400, 404, 503),
        },
        tags=["projects"],
    )
    def validate(projectId: ProjectIdPath) -> ValidationOut:
        env = environment(ProjectsEnv)
        return validate_project(_readers(), projectId, PreflightPolicy(allow_exec=env.ALLOW_EXEC_CONSTRUCTS))

    @router.get(
        "/api/deploy/costs/<projectId>",
        summary="Monthly cost estimate from AWS list prices",
        responses={
            **success_response(200, CostsOut, "The monthly estimate"),
            **error_responses(400, 404, 503),
        },
        tags=["projects"],
    )
    def costs(projectId: ProjectIdPath) -> CostsOut:
        return cost_logic.project_costs(_readers(), projectId)

    return router
