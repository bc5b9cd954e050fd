"""Lambda entry point: a project's infrastructure, outputs, state (and its history), validation and costs."""

from functions.handlers._entry import LambdaHandler, entry_point
from functions.models.env_vars import ProjectsEnv
from functions.routes import backup, projects, state_history

# What this function's environment must hold; CDK gives it exactly these.
ENVIRONMENT = ProjectsEnv


def build_handler() -> LambdaHandler:
    return entry_point(
        ENVIRONMENT, [projects.build_router(), state_history.build_router(), backup.build_router()]
    )


lambda_handler = build_handler()
