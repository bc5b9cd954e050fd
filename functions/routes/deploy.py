"""POST /api/deploy and POST /api/deploy/destroy, with optional Idempotency-Key."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from core.hcl.preflight import PreflightPolicy
from core.records import JOB_ID_PATTERN
from core.requests import ApplyRequest, DeployRequest, DestroyRequest, PlanRequest
from core.responses import DeployAccepted
from functions.dal.jobs import job_store
from functions.dal.objects import code_store, state_reader
from functions.dal.policies import policy_store
from functions.dal.projects import project_store
from functions.dal.variables import variable_store
from functions.dal.workflow import workflow
from functions.logic.drift import keep_schedule
from functions.logic.submit import SubmitStores, submit_apply, submit_deploy, submit_destroy, submit_plan
from functions.logic.wiring import lock_services, schedules_of
from functions.models.env_vars import DeployEnv
from functions.utils.env import environment
from functions.utils.identity import caller
from functions.utils.observability import metrics
from functions.utils.rest_api_resolver import error_responses, success_response

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Repeat a POST with the same key and get the same response; nothing new starts.",
        max_length=255,
    ),
]
ACCEPTED = success_response(
    202, DeployAccepted, "Accepted: follow the job with GET /api/deploy/status/{jobId}"
)


def submit_stores() -> SubmitStores:
    env = environment(DeployEnv)
    return SubmitStores(
        jobs=job_store(env.JOBS_TABLE),
        projects=project_store(env.PROJECTS_TABLE),
        code=code_store(env.WORKSPACES_BUCKET),
        variables=variable_store(env.SECRETS_KMS_KEY_ID),
        workflow=workflow(env.STATE_MACHINE_ARN),
        run_timeout_seconds=env.RUN_TIMEOUT_SECONDS,
        policy=PreflightPolicy(allow_exec=env.ALLOW_EXEC_CONSTRUCTS),
        locks=lock_services(env),
        policies=policy_store(env.POLICIES_TABLE),
        states=state_reader(env.STATE_BUCKET),
        approval_timeout_seconds=env.APPROVAL_TIMEOUT_SECONDS,
        plan_expiry_seconds=env.PLAN_EXPIRY_SECONDS,
        queue_poll_seconds=env.QUEUE_POLL_SECONDS,
    )


def _submit(route: str, body: dict[str, Any], who: str) -> dict[str, Any]:
    stores = submit_stores()
    if route == "deploy":
        request = DeployRequest.model_validate(body)
        accepted = submit_deploy(request, stores, caller=who)
        _keep_drift_schedule(stores, request.projectId)
    elif route == "destroy":
        # A destroyed project's schedule goes when it next fires and finds nothing deployed.
        accepted = submit_destroy(DestroyRequest.model_validate(body), stores, caller=who)
    elif route == "plan":
        accepted = submit_plan(PlanRequest.model_validate(body), stores, caller=who)
    else:
        plan_job_id = route.removeprefix("apply/")
        accepted = submit_apply(plan_job_id, ApplyRequest.model_validate(body), stores, caller=who)
        # A deploy of the plan's project: the job it started names it.
        job = stores.jobs.get(accepted.jobId) or {}
        _keep_drift_schedule(stores, str(job.get("projectId") or ""))
    return accepted.model_dump(exclude_none=True)


def _keep_drift_schedule(stores: SubmitStores, project_id: str) -> None:
    """Every deployed project is checked for drift on its schedule."""
    env = environment(DeployEnv)
    if project_id:
        keep_schedule(
            schedules_of(env),
            stores.projects.get(project_id),
            project_id,
            env.DRIFT_SCHEDULE_DEFAULT,
        )


@cache
def _idempotent_submit(table_name: str) -> tuple[IdempotencyConfig, Callable[..., dict[str, Any]]]:
    config = IdempotencyConfig(
        event_key_jmespath="[key, route]",
        payload_validation_jmespath="body",
        expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
        raise_on_no_idempotency_key=True,
    )
    persistence = DynamoDBPersistenceLayer(table_name=table_name)

    @idempotent_function(data_keyword_argument="request", config=config, persistence_store=persistence)
    def submit(request: dict[str, Any]) -> dict[str, Any]:
        return _submit(request["route"], request["body"], str(request.get("caller") or "unknown"))

    return config, submit


def _accept(
    route: str, body: BaseModel, key: str | None, context: LambdaContext, who: str
) -> Response[dict[str, Any]]:
    payload = body.model_dump(mode="json")
    if key:
        config, submit = _idempotent_submit(environment(DeployEnv).IDEMPOTENCY_TABLE)
        # The in-progress record expires with the invocation, so a crashed request can be retried.
        config.register_lambda_context(context)
        result = submit(request={"key": key, "route": route, "body": payload, "caller": who})
    else:
        result = _submit(route, payload, who)
    metrics.add_metric(
        name=f"{route.split('/', maxsplit=1)[0].capitalize()}Accepted", unit=MetricUnit.Count, value=1
    )
    accepted = DeployAccepted.model_validate(result)
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        # Only what applies: queuePosition and waitingFor appear when the job is queued.
        body=accepted.model_dump(exclude_none=True),
    )


def build_router() -> Router:
    """A fresh router per resolver: a router included in two resolvers would share one current event."""
    router = Router()

    def who() -> str:
        return caller((router.current_event.raw_event.get("requestContext") or {}).get("identity"))

    @router.post(
        "/api/deploy",
        summary="Deploy a project's Terraform code",
        description="Stores the code, takes the project lock, starts the job. One active job per project.",
        responses={**ACCEPTED, **error_responses(400, 409, 413, 415, 422, 503)},
        tags=["deploy"],
    )
    def deploy(body: DeployRequest, idempotency_key: IdempotencyKey = None) -> Response[dict[str, Any]]:
        return _accept("deploy", body, idempotency_key, router.lambda_context, who())

    @router.post(
        "/api/deploy/destroy",
        summary="Destroy everything a project deployed",
        responses={**ACCEPTED, **error_responses(400, 404, 409, 415, 422, 503)},
        tags=["deploy"],
    )
    def destroy(body: DestroyRequest, idempotency_key: IdempotencyKey = None) -> Response[dict[str, Any]]:
        return _accept("destroy", body, idempotency_key, router.lambda_context, who())

    @router.post(
        "/api/deploy/plan",
        summary="Plan a project's Terraform code without applying it",
        description=(
            "A speculative plan: no project lock, no change to the project; the result (GET "
            "/api/deploy/plan/{jobId}) lists every change, redacted, with its monthly cost and a "
            "markdown rendering. Its saved plan can be applied with POST /api/deploy/apply/{jobId}."
        ),
        responses={**ACCEPTED, **error_responses(400, 413, 415, 422, 503)},
        tags=["plans"],
    )
    def plan(body: PlanRequest, idempotency_key: IdempotencyKey = None) -> Response[dict[str, Any]]:
        return _accept("plan", body, idempotency_key, router.lambda_context, who())

    @router.post(
        "/api/deploy/apply/<planJobId>",
        summary="Apply exactly the plan a speculative plan saved",
        description=(
            "Starts a deploy job that applies the saved plan file unchanged, never a re-plan. "
            "Refused with 409 stale_plan (and the reasons) if the state moved, the project's code "
            "or variables changed, or the plan expired."
        ),
        responses={**ACCEPTED, **error_responses(400, 404, 409, 503)},
        tags=["plans"],
    )
    def apply(
        planJobId: Annotated[str, Path(pattern=JOB_ID_PATTERN)],
        body: ApplyRequest | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[dict[str, Any]]:
        return _accept(
            f"apply/{planJobId}", body or ApplyRequest(), idempotency_key, router.lambda_context, who()
        )

    return router
