"""Lambda entry point, on a schedule: fail jobs whose workflow ended without recording them, free
projects whose job is gone or over, and clear terraform state locks whose owner job is no longer
running."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.records import epoch_ms
from functions.dal.build_slots import build_slot_store
from functions.logic.locks import reap, reap_build_slots
from functions.logic.wiring import lock_services
from functions.models.env_vars import ReaperEnv
from functions.models.exceptions import StoreUnavailable, WorkflowUnavailable
from functions.utils.env import environment, init_environment_variables
from functions.utils.observability import logger, metrics, tracer

ENVIRONMENT = ReaperEnv


@init_environment_variables(model=ENVIRONMENT)
@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = environment(ENVIRONMENT)
    services = lock_services(env)
    report = reap(services, epoch_ms())
    slots: list[str] = []
    try:
        slots = reap_build_slots(services, build_slot_store(env.LOCK_TABLE), epoch_ms())
    except (StoreUnavailable, WorkflowUnavailable) as exc:  # the other passes' report still goes out
        report.skipped.append(f"build slots: {exc.message}")
    metrics.add_metric(name="BuildSlotsReclaimed", unit=MetricUnit.Count, value=len(slots))
    metrics.add_metric(name="StuckJobsFailed", unit=MetricUnit.Count, value=len(report.failed_jobs))
    metrics.add_metric(name="StaleLocksCleared", unit=MetricUnit.Count, value=len(report.cleared_locks))
    metrics.add_metric(
        name="StaleProjectLocksReleased", unit=MetricUnit.Count, value=len(report.released_projects)
    )
    if report.failed_jobs or report.cleared_locks or report.released_projects or slots:
        logger.warning(
            "reaped",
            failed_jobs=report.failed_jobs,
            cleared_locks=report.cleared_locks,
            released_projects=report.released_projects,
            reclaimed_build_slots=slots,
        )
    for skipped in report.skipped:
        logger.error("reaper pass skipped", reason=skipped)
    return {
        "failedJobs": report.failed_jobs,
        "clearedLocks": report.cleared_locks,
        "releasedProjects": report.released_projects,
        "reclaimedBuildSlots": slots,
        "skipped": report.skipped,
    }
