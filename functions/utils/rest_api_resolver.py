"""The REST resolver every handler uses, and the one place domain errors become HTTP responses.

Error bodies are ``{"error": <code>, "message": <text>}`` (the seed's client reads ``error``),
with ``field`` naming the request field at fault where there is one.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.requests import CODE_TOO_LARGE, MAX_CODE_BYTES, MAX_REQUEST_BYTES
from core.responses import ErrorOut
from functions.models.exceptions import (
    ApprovalWaitEnded,
    CodeTooLarge,
    InvalidConfiguration,
    InvalidPolicy,
    InvalidRequest,
    JobAlreadyFinished,
    JobNotFound,
    LineageMismatch,
    NotAwaitingApproval,
    NotDeployed,
    NotDrifted,
    NothingToShow,
    PlanNotReady,
    PolicyConflict,
    PolicyNotFound,
    ProjectBusy,
    ProjectNotFound,
    ProvisionerError,
    RestoreRefused,
    SecondIdentityRequired,
    StaleDriftCheck,
    StalePlan,
    StateVersionNotFound,
    StoreUnavailable,
    SubscriptionNotFound,
    WorkflowUnavailable,
    WrongPassphrase,
)
from functions.utils.observability import logger

API_TITLE = "Terraform provisioner"
API_VERSION = "1.0.0"
JSON = content_types.APPLICATION_JSON


# Domain error -> (status, error code): the one table. Looked up along the error's class
# hierarchy, so a subclass answers as its parent unless it has a row of its own.
DOMAIN_ERRORS: Mapping[type[ProvisionerError], tuple[HTTPStatus, str]] = {
    InvalidRequest: (HTTPStatus.BAD_REQUEST, "bad_request"),
    InvalidConfiguration: (HTTPStatus.BAD_REQUEST, "invalid_configuration"),
    CodeTooLarge: (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload_too_large"),
    JobNotFound: (HTTPStatus.NOT_FOUND, "job_not_found"),
    ProjectNotFound: (HTTPStatus.NOT_FOUND, "project_not_found"),
    NothingToShow: (HTTPStatus.NOT_FOUND, "not_found"),
    ProjectBusy: (HTTPStatus.CONFLICT, "conflict"),
    JobAlreadyFinished: (HTTPStatus.CONFLICT, "conflict"),
    NotAwaitingApproval: (HTTPStatus.CONFLICT, "not_awaiting_approval"),
    ApprovalWaitEnded: (HTTPStatus.CONFLICT, "not_awaiting_approval"),
    PlanNotReady: (HTTPStatus.CONFLICT, "plan_not_ready"),
    StalePlan: (HTTPStatus.CONFLICT, "stale_plan"),
    InvalidPolicy: (HTTPStatus.BAD_REQUEST, "invalid_policy"),
    PolicyNotFound: (HTTPStatus.NOT_FOUND, "policy_not_found"),
    PolicyConflict: (HTTPStatus.CONFLICT, "policy_conflict"),
    SecondIdentityRequired: (HTTPStatus.FORBIDDEN, "second_identity_required"),
    NotDeployed: (HTTPStatus.CONFLICT, "not_deployed"),
    NotDrifted: (HTTPStatus.CONFLICT, "not_drifted"),
    StaleDriftCheck: (HTTPStatus.CONFLICT, "stale_drift_check"),
    StateVersionNotFound: (HTTPStatus.NOT_FOUND, "state_version_not_found"),
    LineageMismatch: (HTTPStatus.CONFLICT, "lineage_mismatch"),
    RestoreRefused: (HTTPStatus.CONFLICT, "restore_refused"),
    WrongPassphrase: (HTTPStatus.BAD_REQUEST, "wrong_passphrase"),
    SubscriptionNotFound: (HTTPStatus.NOT_FOUND, "subscription_not_found"),
    StoreUnavailable: (HTTPStatus.SERVICE_UNAVAILABLE, "service_unavailable"),
    WorkflowUnavailable: (HTTPStatus.SERVICE_UNAVAILABLE, "service_unavailable"),
}


def http_error(exc: ProvisionerError) -> tuple[HTTPStatus, str]:
    for kind in type(exc).__mro__:
        if kind in DOMAIN_ERRORS:
            return DOMAIN_ERRORS[kind]
    return HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error"


def error_response(status: HTTPStatus, error: str, message: str, **extra: Any) -> Response[dict[str, Any]]:
    body = ErrorOut(error=error, message=message, **extra)
    return Response(status_code=status, content_type=JSON, body=body.model_dump(exclude_none=True))


def error_responses(*statuses: int) -> dict[int, OpenAPIResponse]:
    """OpenAPI entries for the error statuses a route can answer with."""
    descriptions = {
        400: "The request is malformed or a field is invalid",
        403: "The decision must come from someone other than the job's submitter",
        404: "No such job or project",
        409: "The project has a job in progress, or the job has already ended",
        413: f"The body is over {MAX_REQUEST_BYTES} bytes or the code over {MAX_CODE_BYTES} bytes",
        415: "The body is not application/json",
        422: "The Idempotency-Key was used before with a different request",
        503: "A backing service is unavailable; nothing was changed",
    }
    return {
        status: {"description": descriptions[status], "content": {JSON: {"model": ErrorOut}}}
        for status in statuses
    }


def success_response(status: int, model: type[Any], description: str) -> dict[int, OpenAPIResponse]:
    return {status: {"description": description, "content": {JSON: {"model": model}}}}


def build_resolver(routers: Iterable[Router]) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    app.configure_openapi(title=API_TITLE, version=API_VERSION, description=__doc__)
    for router in routers:
        app.include_router(router)
    _register_error_handlers(app)
    return app


# pydantic names the member of a union it tried in the error location: not a field.
_UNION_TAG = re.compile(r"^(constrained-\w+|str|int|bool|float|dict\[.*\]|list\[.*\]|function-\w+\[.*\])$")


def _field_name(location: Iterable[Any]) -> str:
    parts = [
        str(part)
        for part in location
        if part not in ("body", "query", "path", "header") and not _UNION_TAG.match(str(part))
    ]
    return ".".join(parts) or "body"


def _register_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response[dict[str, Any]]:
        errors = list(exc.errors())
        first: dict[str, Any] = (
            dict(errors[0]) if errors else {"loc": ("body",), "msg": "invalid", "type": "value_error"}
        )
        kind = str(first.get("type", ""))
        field = _field_name(first.get("loc", ()))
        if kind == "json_invalid":
            detail = (first.get("ctx") or {}).get("error", "invalid JSON")
            return error_response(
                HTTPStatus.BAD_REQUEST, "bad_request", f"malformed JSON: {detail}", field="body"
            )
        if kind == CODE_TOO_LARGE or (kind == "string_too_long" and field == "iacCode"):
            return error_response(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "payload_too_large",
                f"the code is over the {MAX_CODE_BYTES}-byte limit",
                field=field,
            )
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        if kind == "string_pattern_mismatch" and field == "iacCode":
            message = "the Terraform code is empty"
        elif kind == "missing":
            message = "this field is required"
        elif kind == "extra_forbidden":
            message = "unknown field"
        return error_response(HTTPStatus.BAD_REQUEST, "bad_request", f"{field}: {message}", field=field)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_type(_: RequestUnsupportedContentType) -> Response[dict[str, Any]]:
        return error_response(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send the body as application/json"
        )

    @app.exception_handler(RecursionError)
    def _too_deep(_: RecursionError) -> Response[dict[str, Any]]:
        return error_response(
            HTTPStatus.BAD_REQUEST, "bad_request", "the JSON body is nested too deeply", field="body"
        )

    @app.exception_handler(ProvisionerError)
    def _domain_error(exc: ProvisionerError) -> Response[dict[str, Any]]:
        status, code = http_error(exc)
        if status is HTTPStatus.SERVICE_UNAVAILABLE:
            logger.warning("backing service unavailable", error=exc.message)
        elif status is HTTPStatus.INTERNAL_SERVER_ERROR:
            logger.exception("domain error with no HTTP mapping")
        return error_response(status, code, exc.message, **exc.details())

    @app.exception_handler(IdempotencyValidationError)
    def _key_reused(_: IdempotencyValidationError) -> Response[dict[str, Any]]:
        return error_response(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request; use a new key",
            field="Idempotency-Key",
        )

    @app.exception_handler(IdempotencyAlreadyInProgressError)
    def _key_in_flight(_: IdempotencyAlreadyInProgressError) -> Response[dict[str, Any]]:
        return error_response(
            HTTPStatus.CONFLICT, "conflict", "a request with this Idempotency-Key is still being processed"
        )

    @app.not_found
    def _no_route(_: Exception) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.NOT_FOUND, "not_found", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[dict[str, Any]]:
        logger.exception("unhandled error")
        return error_response(
            HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", f"unexpected error ({type(exc).__name__})"
        )


def _proxy_error(status: HTTPStatus, error: str, message: str, field: str | None = None) -> dict[str, Any]:
    body = ErrorOut(error=error, message=message, field=field).model_dump_json(exclude_none=True)
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": JSON},
        "body": body,
        "isBase64Encoded": False,
    }


def precheck(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """Refuse what must be refused before parsing: oversized, binary or non-JSON bodies."""
    body = event.get("body")
    if body is None or event.get("httpMethod") not in ("POST", "PUT", "PATCH"):
        return None
    raw = body.encode("utf-8", errors="surrogatepass") if isinstance(body, str) else b""
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return _proxy_error(HTTPStatus.BAD_REQUEST, "bad_request", "the body is not valid base64", "body")
    if len(raw) > MAX_REQUEST_BYTES:
        return _proxy_error(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "payload_too_large",
            f"the body is {len(raw)} bytes; the limit is {MAX_REQUEST_BYTES} bytes",
        )
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if raw.strip() and content_type not in ("application/json", ""):
        return _proxy_error(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send the body as application/json"
        )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return _proxy_error(HTTPStatus.BAD_REQUEST, "bad_request", "the body is not UTF-8 text", "body")
    return None


def resolve(app: APIGatewayRestResolver, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    refused = precheck(event)
    if refused is not None:
        return refused
    return app.resolve(event, context)
