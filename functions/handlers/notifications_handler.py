"""Lambda entry point: notification subscriptions and their delivery logs."""

from functions.handlers._entry import LambdaHandler, entry_point
from functions.models.env_vars import NotificationsEnv
from functions.routes import notifications

# What this function's environment must hold; CDK gives it exactly these.
ENVIRONMENT = NotificationsEnv


def build_handler() -> LambdaHandler:
    return entry_point(ENVIRONMENT, [notifications.build_router()])


lambda_handler = build_handler()
