"""What every Lambda entry point does around its resolver: env check, logging, metrics, tracing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.utils.env import init_environment_variables
from functions.utils.observability import logger, metrics, tracer
from functions.utils.rest_api_resolver import build_resolver, resolve

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def entry_point(env_model: type[BaseModel], routers: Iterable[Router]) -> LambdaHandler:
    app = build_resolver(routers)

    @init_environment_variables(model=env_model)
    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return resolve(app, event, context)

    return lambda_handler
