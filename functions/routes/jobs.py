"""Job status (the seed's shape), job history and the full log."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from core.records import JOB_ID_PATTERN, PROJECT_ID_PATTERN
from core.responses import JobListOut, JobOut, LogOut, PlanOut
from functions.dal.jobs import job_store
from functions.dal.objects import artifact_reader
from functions.dal.projects import project_store
from functions.logic.jobs import get_job, get_plan, list_jobs, read_log
from functions.models.env_vars import JobsEnv
from functions.utils.env import environment
from functions.utils.rest_api_resolver import error_responses, success_response

JobIdPath = Annotated[str, Path(pattern=JOB_ID_PATTERN, description="A job id from a deploy or destroy.")]


def build_router() -> Router:
    """A fresh router per resolver: a router included in two resolvers would share one current event."""
    router = Router()

    @router.get(
        "/api/deploy/status/<jobId>",
        summary="A job's status, progress, phase, result and error",
        responses={**success_response(200, JobOut, "The job"), **error_responses(400, 404, 503)},
        tags=["jobs"],
    )
    def status(jobId: JobIdPath) -> JobOut:
        env = environment(JobsEnv)
        return get_job(job_store(env.JOBS_TABLE), project_store(env.PROJECTS_TABLE), jobId)

    @router.get(
        "/api/deploy/plan/<jobId>",
        summary="A plan as a reviewer reads it",
        description=(
            "Every resource change (attributes, sensitive values redacted), output changes, the "
            "monthly cost before and after, a markdown rendering for a pull-request comment, and what "
            "it was planned against. For a speculative plan or a gated deploy/destroy once planned."
        ),
        responses={**success_response(200, PlanOut, "The plan"), **error_responses(400, 404, 409, 503)},
        tags=["plans"],
    )
    def plan(jobId: JobIdPath) -> PlanOut:
        env = environment(JobsEnv)
        return get_plan(job_store(env.JOBS_TABLE), artifact_reader(env.LOGS_BUCKET), jobId)

    @router.get(
        "/api/deploy/jobs",
        summary="Job history, newest first, a page at a time",
        responses={**success_response(200, JobListOut, "A page of jobs"), **error_responses(400, 503)},
        tags=["jobs"],
    )
    def jobs(
        projectId: Annotated[
            str | None, Query(pattern=PROJECT_ID_PATTERN, description="Only this project's jobs.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=100, description="Jobs per page.")] = 20,
        next: Annotated[
            str | None, Query(max_length=2048, description="The token from the previous page.")
        ] = None,
    ) -> JobListOut:
        return list_jobs(job_store(environment(JobsEnv).JOBS_TABLE), projectId, limit, next)

    @router.get(
        "/api/deploy/logs/<jobId>",
        summary="A job's full log, readable while it runs",
        description="Read from offset 0, then ask again from nextOffset until complete is true.",
        responses={
            **success_response(200, LogOut, "Log text from the offset"),
            **error_responses(400, 404, 503),
        },
        tags=["jobs"],
    )
    def logs(
        jobId: JobIdPath,
        offset: Annotated[int, Query(ge=0, le=2**40, description="Byte offset to read from.")] = 0,
    ) -> LogOut:
        env = environment(JobsEnv)
        return read_log(job_store(env.JOBS_TABLE), artifact_reader(env.LOGS_BUCKET), jobId, offset)

    return router
