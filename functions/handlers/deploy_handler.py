"""Lambda entry point: POST /api/deploy, /api/deploy/destroy, plan and apply; drift checks started
and remediated."""

from functions.handlers._entry import LambdaHandler, entry_point
from functions.models.env_vars import DeployEnv
from functions.routes import deploy, drift

# What this function's environment must hold; CDK gives it exactly these.
ENVIRONMENT = DeployEnv


def build_handler() -> LambdaHandler:
    return entry_point(ENVIRONMENT, [deploy.build_router(), drift.build_router("submit")])


lambda_handler = build_handler()
