"""Lambda entry point: job status, history and logs; drift checks read back."""

from functions.handlers._entry import LambdaHandler, entry_point
from functions.models.env_vars import JobsEnv
from functions.routes import drift, jobs

# What this function's environment must hold; CDK gives it exactly these.
ENVIRONMENT = JobsEnv


def build_handler() -> LambdaHandler:
    return entry_point(ENVIRONMENT, [jobs.build_router(), drift.build_router("read")])


lambda_handler = build_handler()
