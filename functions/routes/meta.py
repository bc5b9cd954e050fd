"""GET /api/health and GET /api/openapi.json."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import Router

from core.responses import HealthOut
from functions.utils.rest_api_resolver import API_VERSION


def build_router() -> Router:
    """A fresh router per resolver: a router included in two resolvers would share one current event."""
    router = Router()

    @router.get("/api/health", summary="Liveness", tags=["meta"])
    def health() -> HealthOut:
        return HealthOut(version=API_VERSION)

    @router.get(
        "/api/openapi.json", summary="This API's OpenAPI document", tags=["meta"], include_in_schema=False
    )
    def openapi() -> dict[str, Any]:
        resolver = router.api_resolver
        assert isinstance(resolver, APIGatewayRestResolver)
        document: dict[str, Any] = json.loads(resolver.get_openapi_json_schema())
        return document

    return router
