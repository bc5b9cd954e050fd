"""Route groups; each Lambda handler serves some of them, the OpenAPI document lists all."""

from functions.routes import admin, cancel, deploy, jobs, meta, notifications, policies, projects

ALL_ROUTE_MODULES = (meta, deploy, jobs, cancel, admin, policies, notifications, projects)
