"""Lambda entry point: POST /api/deploy/cancel/{jobId}."""

from functions.handlers._entry import LambdaHandler, entry_point
from functions.models.env_vars import CancelEnv
from functions.routes import cancel


def build_handler() -> LambdaHandler:
    return entry_point(CancelEnv, [cancel.build_router()])


lambda_handler = build_handler()
