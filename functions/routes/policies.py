"""Policies: GET /api/deploy/policies (the install's, and a project's with ?projectId=), one
policy and its versions, PUT a new version, DELETE (a version of its own), and a dry run of a
policy against a stored plan."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from core.records import PROJECT_ID_PATTERN
from core.requests import POLICY_NAME_PATTERN, PolicyDryRunRequest, PolicyRequest
from core.responses import DryRunOut, PolicyListOut, PolicyOut, PolicyVersionsOut
from functions.dal.jobs import job_store
from functions.dal.objects import artifact_reader
from functions.dal.policies import policy_store
from functions.logic.policies import (
    delete_policy,
    dry_run,
    get_policy,
    list_policies,
    policy_versions,
    put_policy,
)
from functions.models.env_vars import CancelEnv
from functions.utils.env import environment
from functions.utils.identity import caller
from functions.utils.observability import logger
from functions.utils.rest_api_resolver import error_responses, success_response

ProjectQuery = Annotated[
    str | None,
    Query(pattern=PROJECT_ID_PATTERN, description="The project's policies; absent: the install's."),
]
PolicyName = Annotated[str, Path(pattern=POLICY_NAME_PATTERN)]


def build_router() -> Router:
    """A fresh router per resolver: a router included in two resolvers would share one current event."""
    router = Router()

    def who() -> str:
        return caller((router.current_event.raw_event.get("requestContext") or {}).get("identity"))

    @router.get(
        "/api/deploy/policies",
        summary="The policies every plan is checked against, and the built-ins",
        description="The install's policies; with ?projectId= the project's too (they add to the install's).",
        responses={**success_response(200, PolicyListOut, "The policies"), **error_responses(400, 503)},
        tags=["policies"],
    )
    def policies(projectId: ProjectQuery = None) -> PolicyListOut:
        return list_policies(policy_store(environment(CancelEnv).POLICIES_TABLE), projectId)

    @router.post(
        "/api/deploy/policies/dry-run",
        summary="Evaluate a policy against a stored plan, enforcing nothing",
        description="A policy given inline (rego, or a built-in's settings), a stored one (name, version), "
        "or with neither the project's whole set.",
        responses={
            **success_response(200, DryRunOut, "What the policies say of the plan"),
            **error_responses(400, 404, 409, 415, 503),
        },
        tags=["policies"],
    )
    def try_policy(body: PolicyDryRunRequest) -> DryRunOut:
        env = environment(CancelEnv)
        return dry_run(
            policy_store(env.POLICIES_TABLE),
            job_store(env.JOBS_TABLE),
            artifact_reader(env.LOGS_BUCKET),
            body,
            caller=who(),
            default_region=env.DEFAULT_REGION,
        )

    @router.get(
        "/api/deploy/policies/<name>",
        summary="A policy: its current version, or the version asked for",
        responses={**success_response(200, PolicyOut, "The policy"), **error_responses(400, 404, 503)},
        tags=["policies"],
    )
    def policy(
        name: PolicyName,
        projectId: ProjectQuery = None,
        version: Annotated[int | None, Query(ge=1)] = None,
    ) -> PolicyOut:
        return get_policy(policy_store(environment(CancelEnv).POLICIES_TABLE), name, projectId, version)

    @router.get(
        "/api/deploy/policies/<name>/versions",
        summary="Every version of a policy, oldest first",
        responses={
            **success_response(200, PolicyVersionsOut, "The versions"),
            **error_responses(400, 404, 503),
        },
        tags=["policies"],
    )
    def versions(name: PolicyName, projectId: ProjectQuery = None) -> PolicyVersionsOut:
        return policy_versions(policy_store(environment(CancelEnv).POLICIES_TABLE), name, projectId)

    @router.put(
        "/api/deploy/policies/<name>",
        summary="Store a new version of a policy",
        description="A built-in's name takes settings; any other name takes a Rego module, compiled "
        "before it is stored (a 400 gives the line and column of an error). projectId in the body: "
        "the project's policy; absent: the install's.",
        responses={
            **success_response(200, PolicyOut, "The new version"),
            **success_response(201, PolicyOut, "The first version"),
            **error_responses(400, 409, 415, 503),
        },
        tags=["policies"],
    )
    def put(name: PolicyName, body: PolicyRequest) -> Response[PolicyOut]:
        by = who()
        result, created = put_policy(policy_store(environment(CancelEnv).POLICIES_TABLE), name, body, by)
        logger.info(
            "policy stored",
            policy=name,
            project_id=body.projectId,
            version=result.version,
            level=result.level,
            by=by,
        )
        return Response(
            status_code=HTTPStatus.CREATED if created else HTTPStatus.OK,
            content_type=content_types.APPLICATION_JSON,
            body=result,
        )

    @router.delete(
        "/api/deploy/policies/<name>",
        summary="Delete a policy: a last version, off and marked deleted; the history stays",
        responses={
            **success_response(200, PolicyOut, "The deleting version"),
            **error_responses(400, 404, 409, 503),
        },
        tags=["policies"],
    )
    def delete(name: PolicyName, projectId: ProjectQuery = None) -> PolicyOut:
        by = who()
        result = delete_policy(policy_store(environment(CancelEnv).POLICIES_TABLE), name, projectId, by)
        logger.info("policy deleted", policy=name, project_id=projectId, version=result.version, by=by)
        return result

    return router
