"""Lambda entry point: a project's infrastructure, outputs, state (and its history), validation and costs."""

from core.responses import RollbackOut
from functions.dal.drift_trigger import drift_trigger
from functions.handlers._entry import LambdaHandler, entry_point
from functions.models.env_vars import ProjectsEnv
from functions.models.exceptions import StoreUnavailable
from functions.routes import backup, projects, state_history
from functions.utils.env import environment
from functions.utils.observability import logger

# What this function's environment must hold; CDK gives it exactly these.
ENVIRONMENT = ProjectsEnv


def check_drift_after(result: RollbackOut, by: str) -> RollbackOut:
    """A rollback is followed at once by a drift check, so its caller sees what now differs from
    reality. The rollback stands whatever happens here: a check that cannot start is said so."""
    try:
        drift_trigger(environment(ENVIRONMENT).DRIFT_FUNCTION_ARN).start(
            result.projectId, trigger="rollback", caller=by
        )
    except StoreUnavailable as exc:
        logger.warning(
            "drift check after rollback not started", project_id=result.projectId, error=exc.message
        )
        return result.model_copy(update={"driftCheck": f"not started: {exc.message}"})
    return result.model_copy(
        update={"driftCheck": f"started: GET /api/deploy/drift/{result.projectId} shows what now differs"}
    )


def build_handler() -> LambdaHandler:
    return entry_point(
        ENVIRONMENT,
        [projects.build_router(), state_history.build_router(check_drift_after), backup.build_router()],
    )


lambda_handler = build_handler()
