"""POST /api/deploy/cancel/{jobId}."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.metrics import MetricUnit

from core.records import JOB_ID_PATTERN
from core.requests import DecisionRequest, OverrideRequest
from core.responses import CancelOut, DecisionOut
from functions.dal.jobs import job_store
from functions.dal.projects import project_store
from functions.dal.workflow import workflow
from functions.logic.approvals import approve, discard, override
from functions.logic.cancel import cancel_job
from functions.models.env_vars import CancelEnv
from functions.utils.env import environment
from functions.utils.identity import caller
from functions.utils.observability import metrics
from functions.utils.rest_api_resolver import error_responses, success_response


def build_router() -> Router:
    """A fresh router per resolver: a router included in two resolvers would share one current event."""
    router = Router()

    @router.post(
        "/api/deploy/cancel/<jobId>",
        summary="Cancel a job",
        description="Stops the execution and build; terraform stops safely, keeps state, frees the lock.",
        responses={
            **success_response(202, CancelOut, "Cancellation requested or done"),
            **error_responses(400, 404, 409, 503),
        },
        tags=["jobs"],
    )
    def cancel(
        jobId: Annotated[str, Path(pattern=JOB_ID_PATTERN)],
    ) -> Response[CancelOut]:
        env = environment(CancelEnv)
        identity = (router.current_event.raw_event.get("requestContext") or {}).get("identity")
        result = cancel_job(
            job_store(env.JOBS_TABLE),
            project_store(env.PROJECTS_TABLE),
            workflow(env.STATE_MACHINE_ARN),
            jobId,
            caller(identity),
        )
        metrics.add_metric(name="JobCancelled", unit=MetricUnit.Count, value=1)
        return Response(
            status_code=HTTPStatus.ACCEPTED, content_type=content_types.APPLICATION_JSON, body=result
        )

    def identity() -> str:
        return caller((router.current_event.raw_event.get("requestContext") or {}).get("identity"))

    @router.post(
        "/api/deploy/approve/<jobId>",
        summary="Approve the plan a gated job waits with",
        description="The workflow applies exactly the reviewed plan. Who, when and the comment are recorded.",
        responses={
            **success_response(202, DecisionOut, "Approved: the plan is being applied"),
            **error_responses(400, 403, 404, 409, 503),
        },
        tags=["plans"],
    )
    def approve_plan(
        jobId: Annotated[str, Path(pattern=JOB_ID_PATTERN)], body: DecisionRequest | None = None
    ) -> Response[DecisionOut]:
        env = environment(CancelEnv)
        comment = (body or DecisionRequest()).comment
        result = approve(
            job_store(env.JOBS_TABLE), workflow(env.STATE_MACHINE_ARN), jobId, by=identity(), comment=comment
        )
        metrics.add_metric(name="PlanApproved", unit=MetricUnit.Count, value=1)
        return Response(
            status_code=HTTPStatus.ACCEPTED, content_type=content_types.APPLICATION_JSON, body=result
        )

    @router.post(
        "/api/deploy/discard/<jobId>",
        summary="Discard the plan a gated job waits with",
        description="Nothing is applied: the job ends failed (phase discarded), the project as it was.",
        responses={
            **success_response(200, DecisionOut, "Discarded"),
            **error_responses(400, 404, 409, 503),
        },
        tags=["plans"],
    )
    def discard_plan(
        jobId: Annotated[str, Path(pattern=JOB_ID_PATTERN)], body: DecisionRequest | None = None
    ) -> DecisionOut:
        env = environment(CancelEnv)
        comment = (body or DecisionRequest()).comment
        result = discard(
            job_store(env.JOBS_TABLE),
            project_store(env.PROJECTS_TABLE),
            workflow(env.STATE_MACHINE_ARN),
            jobId,
            by=identity(),
            comment=comment,
        )
        metrics.add_metric(name="PlanDiscarded", unit=MetricUnit.Count, value=1)
        return result

    @router.post(
        "/api/deploy/override/<jobId>",
        summary="Override the soft-mandatory policy failures a job waits with",
        description="Only someone other than the job's submitter (403 otherwise), with a reason; who, "
        "when, why and which policies are recorded on the job's policy check.",
        responses={
            **success_response(
                202, DecisionOut, "Overridden: the plan goes on (or waits for what else it needs)"
            ),
            **error_responses(400, 403, 404, 409, 415, 503),
        },
        tags=["policies"],
    )
    def override_policies(
        jobId: Annotated[str, Path(pattern=JOB_ID_PATTERN)], body: OverrideRequest
    ) -> Response[DecisionOut]:
        env = environment(CancelEnv)
        result = override(
            job_store(env.JOBS_TABLE),
            workflow(env.STATE_MACHINE_ARN),
            jobId,
            by=identity(),
            reason=body.reason,
        )
        metrics.add_metric(name="PolicyOverridden", unit=MetricUnit.Count, value=1)
        return Response(
            status_code=HTTPStatus.ACCEPTED, content_type=content_types.APPLICATION_JSON, body=result
        )

    return router
