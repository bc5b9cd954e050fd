"""Lambda entry point: cancel a job; approve, discard or override its plan; project settings;
policies; admin unlock."""

from functions.handlers._entry import LambdaHandler, entry_point
from functions.models.env_vars import CancelEnv
from functions.routes import admin, cancel, policies

# What this function's environment must hold; CDK gives it exactly these.
ENVIRONMENT = CancelEnv


def build_handler() -> LambdaHandler:
    return entry_point(ENVIRONMENT, [cancel.build_router(), admin.build_router(), policies.build_router()])


lambda_handler = build_handler()
