"""Backup and restore of a project; the state in a bundle is sealed with the caller's passphrase."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.metrics import MetricUnit

from core.records import PROJECT_ID_PATTERN
from core.requests import RestoreRequest
from core.responses import BackupOut, RestoreOut
from functions.dal.objects import code_store
from functions.logic.backup import BackupStores, export_project, restore_project
from functions.models.env_vars import ProjectsEnv
from functions.models.exceptions import InvalidRequest
from functions.routes.state_history import history_stores
from functions.utils.env import environment
from functions.utils.identity import caller
from functions.utils.observability import logger, metrics
from functions.utils.rest_api_resolver import error_responses, success_response

ProjectIdPath = Annotated[str, Path(pattern=PROJECT_ID_PATTERN, description="Letters, digits, '-' and '_'.")]
PASSPHRASE_HEADER = "x-backup-passphrase"  # noqa: S105 - a header name, not a secret
MIN_PASSPHRASE = 12


def _stores() -> BackupStores:
    return BackupStores(history=history_stores(), code=code_store(environment(ProjectsEnv).WORKSPACES_BUCKET))


def _passphrase(router: Router, given: str | None) -> str:
    headers = {k.lower(): v for k, v in (router.current_event.headers or {}).items()}
    passphrase = given or headers.get(PASSPHRASE_HEADER) or ""
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidRequest(
            f"a passphrase of at least {MIN_PASSPHRASE} characters is needed (the X-Backup-Passphrase "
            'header, or "passphrase" in a restore\'s body): the state is sealed with it',
            "passphrase",
        )
    return passphrase


def build_router() -> Router:
    """A fresh router per resolver: a router included in two resolvers would share one current event."""
    router = Router()

    @router.get(
        "/api/deploy/backup/<projectId>",
        summary="A project's backup: code, variables reference, state history, sealed state",
        description="The X-Backup-Passphrase header seals the state (scrypt + AES-256-GCM); "
        "variable values are never exported.",
        responses={**success_response(200, BackupOut, "The bundle"), **error_responses(400, 404, 503)},
        tags=["state"],
    )
    def backup(projectId: ProjectIdPath) -> BackupOut:
        who = caller((router.current_event.raw_event.get("requestContext") or {}).get("identity"))
        bundle = export_project(_stores(), projectId, _passphrase(router, None), by=who)
        logger.info("project backed up", project_id=projectId, by=who, serial=bundle.state["serial"])
        metrics.add_metric(name="ProjectBackedUp", unit=MetricUnit.Count, value=1)
        return bundle

    @router.post(
        "/api/deploy/restore/<projectId>",
        summary="Restore a backup bundle into a project with no state",
        description="409 when the project already has state or is busy; 400 for a wrong passphrase.",
        responses={
            **success_response(200, RestoreOut, "What was restored"),
            **error_responses(400, 409, 413, 415, 503),
        },
        tags=["state"],
    )
    def restore(projectId: ProjectIdPath, body: RestoreRequest) -> RestoreOut:
        who = caller((router.current_event.raw_event.get("requestContext") or {}).get("identity"))
        result = restore_project(
            _stores(), projectId, body.bundle, _passphrase(router, body.passphrase), by=who
        )
        logger.warning("project restored", project_id=projectId, source=result.sourceProjectId, by=who)
        metrics.add_metric(name="ProjectRestored", unit=MetricUnit.Count, value=1)
        return result

    return router
