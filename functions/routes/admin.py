"""POST /api/admin/unlock/{projectId}: an operator clears a project's terraform state lock, its
project lock (the job admitted to it), or both."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.metrics import MetricUnit

from core.records import PROJECT_ID_PATTERN
from core.requests import UnlockRequest
from core.responses import UnlockOut
from functions.logic.locks import force_unlock
from functions.logic.wiring import lock_services
from functions.models.env_vars import CancelEnv
from functions.routes.cancel import caller
from functions.utils.env import environment
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

    return router
