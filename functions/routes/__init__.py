"""Route groups; each Lambda handler serves some of them, the OpenAPI document lists all."""

from functions.routes import (
    admin,
    backup,
    cancel,
    deploy,
    drift,
    jobs,
    meta,
    notifications,
    policies,
    projects,
    state_history,
)

ALL_ROUTE_MODULES = (
    meta,
    deploy,
    drift,
    jobs,
    cancel,
    admin,
    policies,
    notifications,
    projects,
    state_history,
    backup,
)
