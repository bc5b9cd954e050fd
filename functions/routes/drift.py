"""Drift checks: start one, read a project's (latest and history), the fleet's, and remediate.

Starting and remediating run in the deploy function (they start workflows); reading runs in the
jobs function, which only reads the tables.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.metrics import MetricUnit

from core.records import PROJECT_ID_PATTERN
from core.requests import RemediateRequest
from core.responses import DeployAccepted, DriftCheckAccepted, DriftFleetOut, DriftOut
from functions.dal.jobs import job_store
from functions.dal.projects import project_store
from functions.logic import drift as drift_logic
from functions.models.env_vars import JobsEnv
from functions.routes.deploy import submit_stores
from functions.utils.env import environment
from functions.utils.identity import caller
from functions.utils.observability import metrics
from functions.utils.rest_api_resolver import error_responses, success_response

ProjectIdPath = Annotated[str, Path(pattern=PROJECT_ID_PATTERN, description="Letters, digits, '-' and '_'.")]
Part = Literal["all", "submit", "read"]


def _accepted(body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=HTTPStatus.ACCEPTED, content_type=content_types.APPLICATION_JSON, body=body)


def build_router(part: Part = "all") -> Router:
    """A fresh router per resolver; ``part`` picks the routes of one function."""
    router = Router()

    def who() -> str:
        return caller((router.current_event.raw_event.get("requestContext") or {}).get("identity"))

    if part in ("all", "submit"):

        @router.post(
            "/api/deploy/drift/<projectId>",
            summary="Check the project for drift now",
            description=(
                "A read-only plan of the deployed code (refresh-only, then normal), never taking the "
                "project's lock. Skipped, and recorded as skipped, while another job runs."
            ),
            responses={
                **success_response(202, DriftCheckAccepted, "Started (or recorded as skipped)"),
                **error_responses(400, 404, 409, 503),
            },
            tags=["drift"],
        )
        def check(projectId: ProjectIdPath) -> Response[dict[str, Any]]:
            accepted = drift_logic.start_check(submit_stores(), projectId, trigger="manual", caller=who())
            metrics.add_metric(name="DriftCheckStarted", unit=MetricUnit.Count, value=1)
            return _accepted(accepted.model_dump())

        @router.post(
            "/api/deploy/drift/<projectId>/remediate",
            summary="Bring the infrastructure back to the deployed code",
            description=(
                '"plan": a speculative plan to review and apply; "apply": a deploy of the deployed code, '
                "through the project's approvals and policies. Refused (409) when the state or the code "
                "moved since the latest check."
            ),
            responses={
                **success_response(202, DeployAccepted, "The remediation job"),
                **error_responses(400, 404, 409, 415, 503),
            },
            tags=["drift"],
        )
        def remediate(projectId: ProjectIdPath, body: RemediateRequest) -> Response[dict[str, Any]]:
            accepted = drift_logic.remediate(submit_stores(), projectId, body, caller=who())
            return _accepted(accepted.model_dump(exclude_none=True))

    if part in ("all", "read"):

        @router.get(
            "/api/deploy/drift",
            summary="Every project's latest drift status",
            responses={**success_response(200, DriftFleetOut, "The fleet"), **error_responses(503)},
            tags=["drift"],
        )
        def fleet() -> DriftFleetOut:
            return drift_logic.fleet(project_store(environment(JobsEnv).PROJECTS_TABLE))

        @router.get(
            "/api/deploy/drift/<projectId>",
            summary="A project's latest drift check, in full, and its checks, a page at a time",
            responses={
                **success_response(200, DriftOut, "The project's drift"),
                **error_responses(400, 404, 503),
            },
            tags=["drift"],
        )
        def project_drift(
            projectId: ProjectIdPath,
            limit: Annotated[int, Query(ge=1, le=100, description="Checks per page.")] = 20,
            next: Annotated[
                str | None, Query(max_length=2048, description="The token from the previous page.")
            ] = None,
        ) -> DriftOut:
            env = environment(JobsEnv)
            return drift_logic.project_drift(
                job_store(env.JOBS_TABLE),
                project_store(env.PROJECTS_TABLE),
                projectId,
                limit=limit,
                token=next,
                install_default=env.DRIFT_SCHEDULE_DEFAULT,
            )

    return router
