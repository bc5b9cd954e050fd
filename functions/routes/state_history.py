"""A project's state history and its rollback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.metrics import MetricUnit

from core.records import PROJECT_ID_PATTERN
from core.requests import RollbackRequest
from core.responses import RollbackOut, StateVersionsOut, StateVersionStateOut
from functions.dal.jobs import job_store
from functions.dal.projects import project_store
from functions.dal.state_history import state_history
from functions.logic import state_history as history_logic
from functions.logic.state_history import HistoryStores
from functions.models.env_vars import ProjectsEnv
from functions.utils.env import environment
from functions.utils.identity import caller
from functions.utils.observability import logger, metrics
from functions.utils.rest_api_resolver import error_responses, success_response

ProjectIdPath = Annotated[str, Path(pattern=PROJECT_ID_PATTERN, description="Letters, digits, '-' and '_'.")]
# What runs once a rollback has written its version and freed the project (a drift check, say).
PostRollback = Callable[[RollbackOut, str], RollbackOut]


def history_stores() -> HistoryStores:
    env = environment(ProjectsEnv)
    return HistoryStores(
        projects=project_store(env.PROJECTS_TABLE),
        jobs=job_store(env.JOBS_TABLE),
        history=state_history(env.STATE_BUCKET, env.LOCK_TABLE),
    )


def build_router(post_rollback: PostRollback | None = None) -> Router:
    """A fresh router per resolver. ``post_rollback``: called with the rollback's result after the
    project lock is released, so whatever it starts may take the lock itself."""
    router = Router()

    @router.get(
        "/api/deploy/state/<projectId>/versions",
        summary="Every version of the project's terraform state, newest first",
        description="Serial, lineage, the job (or rollback) that wrote it, time, terraform version, "
        "resource count, size and S3 version id. Old versions expire after the install's retention.",
        responses={
            **success_response(200, StateVersionsOut, "A page of versions"),
            **error_responses(400, 404, 503),
        },
        tags=["state"],
    )
    def versions(
        projectId: ProjectIdPath,
        limit: Annotated[int, Query(ge=1, le=100, description="Versions per page.")] = 20,
        next: Annotated[
            str | None, Query(max_length=2048, description="The token from the previous page.")
        ] = None,
    ) -> StateVersionsOut:
        return history_logic.list_versions(history_stores(), projectId, limit, next)

    @router.get(
        "/api/deploy/state/<projectId>/versions/<serial>",
        summary="One version of the terraform state, every sensitive value redacted",
        responses={
            **success_response(200, StateVersionStateOut, "The redacted version"),
            **error_responses(400, 404, 503),
        },
        tags=["state"],
    )
    def version(
        projectId: ProjectIdPath,
        serial: Annotated[int, Path(ge=0, le=2**53, description="The version's serial.")],
    ) -> StateVersionStateOut:
        return history_logic.get_version(history_stores(), projectId, serial)

    @router.post(
        "/api/deploy/state/<projectId>/rollback",
        summary="Write an old state version's content as a new version",
        description="Takes the project lock (409 while a job holds it), refuses another lineage "
        "(409 lineage_mismatch), writes serial = current + 1, records who and why. The resources "
        "are not touched: the next deploy plans against the rolled-back state.",
        responses={
            **success_response(200, RollbackOut, "The new version"),
            **error_responses(400, 404, 409, 415, 503),
        },
        tags=["state"],
    )
    def rollback(projectId: ProjectIdPath, body: RollbackRequest) -> RollbackOut:
        who = caller((router.current_event.raw_event.get("requestContext") or {}).get("identity"))
        result = history_logic.rollback(history_stores(), projectId, body.serial, by=who, reason=body.reason)
        logger.warning(
            "state rolled back",
            project_id=projectId,
            by=who,
            from_serial=result.fromSerial,
            serial=result.serial,
        )
        metrics.add_metric(name="StateRolledBack", unit=MetricUnit.Count, value=1)
        # The one place a post-rollback action runs (the lock is free again by now).
        if post_rollback is not None:
            result = post_rollback(result, who)
        return result

    return router
