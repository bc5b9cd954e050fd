"""Lambda entry point: health and the OpenAPI document, which lists every route of every handler."""

from functions.handlers._entry import LambdaHandler, entry_point
from functions.models.env_vars import Observability
from functions.routes import ALL_ROUTE_MODULES

# What this function's environment must hold; CDK gives it exactly these.
ENVIRONMENT = Observability


def build_handler() -> LambdaHandler:
    return entry_point(ENVIRONMENT, [module.build_router() for module in ALL_ROUTE_MODULES])


lambda_handler = build_handler()
