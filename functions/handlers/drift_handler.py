"""Lambda entry point, invoked by EventBridge Scheduler (or, after a rollback, by the projects
function): one project's drift check.

The input is ``{"projectId": ..., "trigger": "schedule" | "rollback", "caller"?}``. A project with nothing
deployed any more (destroyed) loses its schedule instead of being checked.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.hcl.preflight import PreflightPolicy
from core.records import PROJECT_ID_PATTERN
from functions.dal.jobs import job_store
from functions.dal.objects import code_store, state_reader
from functions.dal.projects import project_store
from functions.dal.variables import variable_store
from functions.dal.workflow import workflow
from functions.logic.drift import scheduled_check
from functions.logic.submit import SubmitStores
from functions.logic.wiring import lock_services, schedules_of
from functions.models.env_vars import DriftEnv
from functions.utils.env import environment, init_environment_variables
from functions.utils.observability import logger, metrics, tracer

ENVIRONMENT = DriftEnv


def _stores(env: DriftEnv) -> SubmitStores:
    """What starting a check takes: no policy store, no variables written (it reuses the project's)."""
    return SubmitStores(
        jobs=job_store(env.JOBS_TABLE),
        projects=project_store(env.PROJECTS_TABLE),
        code=code_store(env.WORKSPACES_BUCKET),
        variables=variable_store(None),
        workflow=workflow(env.STATE_MACHINE_ARN),
        run_timeout_seconds=env.RUN_TIMEOUT_SECONDS,
        policy=PreflightPolicy(),
        locks=lock_services(env),
        states=state_reader(env.STATE_BUCKET),
    )


def run_scheduled(event: dict[str, Any]) -> dict[str, Any]:
    """The handler's work, also what local mode's scheduler calls in process."""
    project_id = str(event.get("projectId") or "")
    if not re.fullmatch(PROJECT_ID_PATTERN, project_id):
        logger.error("scheduled drift check without a valid projectId", event_keys=sorted(event))
        return {"started": False, "reason": "no valid projectId"}
    env = environment(ENVIRONMENT)
    schedules = schedules_of(env)
    trigger = "rollback" if event.get("trigger") == "rollback" else "schedule"
    who = str(event.get("caller") or "scheduler")[:256]
    accepted = scheduled_check(_stores(env), schedules, project_id, trigger=trigger, caller=who)
    if accepted is None:
        logger.info("nothing deployed any more: schedule removed", project_id=project_id)
        return {"started": False, "reason": "nothing deployed"}
    metrics.add_metric(
        name=f"ScheduledDriftCheck{accepted.status.capitalize()}", unit=MetricUnit.Count, value=1
    )
    return {"started": accepted.status == "accepted", "jobId": accepted.jobId, "status": accepted.status}


@init_environment_variables(model=ENVIRONMENT)
@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_scheduled(event)
