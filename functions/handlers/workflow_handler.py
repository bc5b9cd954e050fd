"""Lambda entry point of the workflow's own steps (the state machine invokes it; no API route):
a queued job's turn, the review of a plan, its policy check, the approval wait, discard, expiry
and the stop a policy makes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core.records import epoch_ms
from functions.dal.build_slots import build_slot_store
from functions.dal.jobs import job_store
from functions.dal.objects import artifact_reader, code_store
from functions.dal.policies import policy_store
from functions.dal.projects import project_store
from functions.logic.build_slots import release_build_slot, take_build_slot
from functions.logic.wiring import lock_services
from functions.logic.workflow_steps import StepServices, run_step
from functions.models.env_vars import WorkflowStepsEnv
from functions.utils.env import environment, init_environment_variables
from functions.utils.observability import logger, metrics, tracer

ENVIRONMENT = WorkflowStepsEnv


def services() -> StepServices:
    env = environment(ENVIRONMENT)
    return StepServices(
        jobs=job_store(env.JOBS_TABLE),
        projects=project_store(env.PROJECTS_TABLE),
        policies=policy_store(env.POLICIES_TABLE),
        code=code_store(env.WORKSPACES_BUCKET),
        artifacts=artifact_reader(env.LOGS_BUCKET),
        locks=lock_services(env),
        default_region=env.DEFAULT_REGION,
        plan_expiry_seconds=env.PLAN_EXPIRY_SECONDS,
    )


def build_slot_step(event: dict[str, Any]) -> dict[str, Any]:
    """Take or hand back one of the install's build slots (the item sits in the lock table)."""
    env = environment(ENVIRONMENT)
    slots = build_slot_store(env.LOCK_TABLE)
    job_id = str((event.get("job") or {}).get("jobId", ""))
    if event.get("step") == "take_build_slot":
        jobs = job_store(env.JOBS_TABLE)
        return take_build_slot(slots, jobs, job_id, env.MAX_CONCURRENT_BUILDS, epoch_ms()).as_dict()
    return {"released": release_build_slot(slots, job_id)}


BUILD_SLOT_STEPS = frozenset({"take_build_slot", "release_build_slot"})


@init_environment_variables(model=ENVIRONMENT)
@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # An error propagates: the state machine's Retry and Catch decide what it means.
    if event.get("step") in BUILD_SLOT_STEPS:
        return build_slot_step(event)
    return run_step(services(), event)
