"""Route groups; each Lambda handler serves some of them, the OpenAPI document lists all."""

from functions.routes import admin, cancel, deploy, drift, jobs, meta, policies, projects

ALL_ROUTE_MODULES = (meta, deploy, drift, jobs, cancel, admin, policies, projects)
