"""Which Lambda serves which route: API Gateway is wired from this table, and local mode reads it too."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway style: /api/deploy/status/{jobId}
    handler: str  # module under functions.handlers exposing lambda_handler
    body_model: str | None = None  # the request model API Gateway checks before the handler runs

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.sub(r"\\\{[A-Za-z]+\\\}", "[^/]+", re.escape(self.path)) + "$")


ROUTES: Final = (
    Route("GET", "/api/health", "openapi_handler"),
    Route("GET", "/api/openapi.json", "openapi_handler"),
    Route("POST", "/api/deploy", "deploy_handler", "DeployRequest"),
    Route("POST", "/api/deploy/destroy", "deploy_handler", "DestroyRequest"),
    Route("POST", "/api/deploy/plan", "deploy_handler", "PlanRequest"),
    Route("POST", "/api/deploy/apply/{planJobId}", "deploy_handler"),
    Route("POST", "/api/deploy/drift/{projectId}", "deploy_handler"),
    Route("POST", "/api/deploy/drift/{projectId}/remediate", "deploy_handler", "RemediateRequest"),
    Route("GET", "/api/deploy/drift", "jobs_handler"),
    Route("GET", "/api/deploy/drift/{projectId}", "jobs_handler"),
    Route("POST", "/api/deploy/cancel/{jobId}", "cancel_handler"),
    Route("POST", "/api/deploy/approve/{jobId}", "cancel_handler"),
    Route("POST", "/api/deploy/discard/{jobId}", "cancel_handler"),
    Route("POST", "/api/deploy/override/{jobId}", "cancel_handler", "OverrideRequest"),
    Route("GET", "/api/deploy/policies", "cancel_handler"),
    Route("POST", "/api/deploy/policies/dry-run", "cancel_handler", "PolicyDryRunRequest"),
    Route("GET", "/api/deploy/policies/{name}", "cancel_handler"),
    Route("GET", "/api/deploy/policies/{name}/versions", "cancel_handler"),
    Route("PUT", "/api/deploy/policies/{name}", "cancel_handler", "PolicyRequest"),
    Route("DELETE", "/api/deploy/policies/{name}", "cancel_handler"),
    Route("POST", "/api/admin/unlock/{projectId}", "cancel_handler"),
    Route("POST", "/api/deploy/notifications", "notifications_handler", "SubscriptionRequest"),
    Route("GET", "/api/deploy/notifications", "notifications_handler"),
    Route("DELETE", "/api/deploy/notifications/{subscriptionId}", "notifications_handler"),
    Route("GET", "/api/deploy/notifications/{subscriptionId}/deliveries", "notifications_handler"),
    Route("GET", "/api/deploy/settings/{projectId}", "cancel_handler"),
    Route("PUT", "/api/deploy/settings/{projectId}", "cancel_handler", "ProjectSettingsRequest"),
    Route("GET", "/api/deploy/status/{jobId}", "jobs_handler"),
    Route("GET", "/api/deploy/jobs", "jobs_handler"),
    Route("GET", "/api/deploy/logs/{jobId}", "jobs_handler"),
    Route("GET", "/api/deploy/plan/{jobId}", "jobs_handler"),
    Route("GET", "/api/deploy/infrastructure/{projectId}", "projects_handler"),
    Route("GET", "/api/deploy/outputs/{projectId}", "projects_handler"),
    Route("GET", "/api/deploy/state/{projectId}", "projects_handler"),
    Route("GET", "/api/deploy/state/{projectId}/versions", "projects_handler"),
    Route("GET", "/api/deploy/state/{projectId}/versions/{serial}", "projects_handler"),
    Route("POST", "/api/deploy/state/{projectId}/rollback", "projects_handler", "RollbackRequest"),
    Route("GET", "/api/deploy/backup/{projectId}", "projects_handler"),
    Route("POST", "/api/deploy/restore/{projectId}", "projects_handler", "RestoreRequest"),
    Route("GET", "/api/deploy/validate/{projectId}", "projects_handler"),
    Route("GET", "/api/deploy/costs/{projectId}", "projects_handler"),
)
HANDLERS: Final = tuple(sorted({route.handler for route in ROUTES}))


def route_for(method: str, path: str) -> Route | None:
    """The route API Gateway would match; None for an unknown path or method."""
    return next((r for r in routes_for_path(path) if r.method == method), None)


def routes_for_path(path: str) -> list[Route]:
    """The routes of the resource API Gateway would pick: a literal path (``/policies/dry-run``)
    wins over a parameter (``/policies/{name}``) at the same place, whatever the method."""
    matching = [r for r in ROUTES if r.pattern.match(path)]
    literal = [r for r in matching if r.path == path]
    return literal or matching
