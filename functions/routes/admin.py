"""POST /api/admin/unlock/{projectId}: an operator clears a project's terraform state lock, its
project lock (the job admitted to it), or both."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.metrics import MetricUnit

from core.records import PROJECT_ID_PATTERN
from core.requests import ProjectSettingsRequest, UnlockRequest
from core.responses import ProjectSettingsOut, UnlockOut
from functions.dal.projects import project_store
from functions.logic.locks import force_unlock
from functions.logic.settings import get_settings, put_settings
from functions.logic.wiring import lock_services, schedules_of
from functions.models.env_vars import CancelEnv
from functions.utils.env import environment
from functions.utils.identity import caller
from functions.utils.observability import logger, metrics
from functions.utils.rest_api_resolver import error_responses, success_response


def build_router() -> Router:
    """A fresh router per resolver: a router included in two resolvers would share one current event."""
    router = Router()

    @router.post(
        "/api/admin/unlock/<projectId>",
        summary="Clear a project's terraform state lock, its project lock, or both",
        description='"lock": "state" (the default), "project" or "all". Refuses (409) a lock whose job '
        "may still be running unless forced; a cleared project lock fails its job. Records who and why.",
        responses={
            **success_response(200, UnlockOut, "What was cleared"),
            **error_responses(400, 404, 409, 415, 503),
        },
        tags=["admin"],
    )
    def unlock(
        projectId: Annotated[str, Path(pattern=PROJECT_ID_PATTERN)],
        body: UnlockRequest,
    ) -> UnlockOut:
        who = caller((router.current_event.raw_event.get("requestContext") or {}).get("identity"))
        result = force_unlock(
            lock_services(environment(CancelEnv)),
            projectId,
            by=who,
            reason=body.reason,
            force=body.force,
            lock=body.lock,
        )
        logger.warning(
            "lock force-cleared",
            project_id=projectId,
            lock=body.lock,
            by=who,
            cleared=result.cleared,
            project_job_id=result.projectLock.jobId if result.projectLock else None,
        )
        if result.lockId is not None:
            metrics.add_metric(name="StateLockForceCleared", unit=MetricUnit.Count, value=1)
        if result.projectLock is not None:
            metrics.add_metric(name="ProjectLockForceCleared", unit=MetricUnit.Count, value=1)
        return result

    @router.get(
        "/api/deploy/settings/<projectId>",
        summary="A project's settings: whether its deploys wait for approval by default",
        responses={**success_response(200, ProjectSettingsOut, "The settings"), **error_responses(400, 503)},
        tags=["admin"],
    )
    def settings(projectId: Annotated[str, Path(pattern=PROJECT_ID_PATTERN)]) -> ProjectSettingsOut:
        env = environment(CancelEnv)
        return get_settings(project_store(env.PROJECTS_TABLE), projectId, env.DRIFT_SCHEDULE_DEFAULT)

    @router.put(
        "/api/deploy/settings/<projectId>",
        summary="Set a project's settings",
        description='{"approval": "required"}: every deploy and destroy of the project plans and waits '
        'for approval, unless the request says "approval": "auto". {"driftSchedule": "rate(6 hours)"} '
        'or "off": how often its drift is checked. Records who changed it.',
        responses={
            **success_response(200, ProjectSettingsOut, "The settings now"),
            **error_responses(400, 415, 503),
        },
        tags=["admin"],
    )
    def update_settings(
        projectId: Annotated[str, Path(pattern=PROJECT_ID_PATTERN)], body: ProjectSettingsRequest
    ) -> ProjectSettingsOut:
        who = caller((router.current_event.raw_event.get("requestContext") or {}).get("identity"))
        env = environment(CancelEnv)
        result = put_settings(
            project_store(env.PROJECTS_TABLE),
            projectId,
            who,
            approval=body.approval,
            drift_schedule=body.driftSchedule,
            schedules=schedules_of(env),
            drift_default=env.DRIFT_SCHEDULE_DEFAULT,
        )
        logger.info(
            "project settings changed",
            project_id=projectId,
            approval=body.approval,
            drift_schedule=body.driftSchedule,
            by=who,
        )
        return result

    return router
