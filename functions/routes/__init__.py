"""Route groups; each Lambda handler serves one or two of them, local mode serves all."""

from functions.routes import admin, cancel, deploy, jobs, meta, projects

ALL_ROUTE_MODULES = (meta, deploy, jobs, cancel, admin, projects)
