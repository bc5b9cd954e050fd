"""Notification subscriptions: POST /api/deploy/notifications, GET (the install's, and a
project's with ?projectId=), DELETE /api/deploy/notifications/{id}, and its delivery log."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from core.records import PROJECT_ID_PATTERN
from core.requests import SubscriptionRequest
from core.responses import (
    DeliveryListOut,
    SubscriptionCreatedOut,
    SubscriptionDeletedOut,
    SubscriptionListOut,
)
from functions.dal.notifications import notification_store, signing_secrets
from functions.logic.notifications import (
    create_subscription,
    delete_subscription,
    list_subscriptions,
    subscription_deliveries,
)
from functions.models.env_vars import NotificationsEnv
from functions.utils.env import environment
from functions.utils.identity import caller
from functions.utils.observability import logger
from functions.utils.rest_api_resolver import error_responses, success_response

SUBSCRIPTION_ID_PATTERN = r"^sub_[0-9a-f]{24}$"
SubscriptionId = Annotated[str, Path(pattern=SUBSCRIPTION_ID_PATTERN)]
ProjectQuery = Annotated[
    str | None,
    Query(pattern=PROJECT_ID_PATTERN, description="The install's subscriptions and this project's."),
]


def build_router() -> Router:
    router = Router()

    def who() -> str:
        return caller((router.current_event.raw_event.get("requestContext") or {}).get("identity"))

    @router.post(
        "/api/deploy/notifications",
        summary="Subscribe a webhook to events",
        description="The signing secret is in this response only. projectId: that project's events; "
        "absent: every project's.",
        responses={
            **success_response(201, SubscriptionCreatedOut, "The subscription, with its secret"),
            **error_responses(400, 415, 503),
        },
        tags=["notifications"],
    )
    def subscribe(body: SubscriptionRequest) -> Response[SubscriptionCreatedOut]:
        env = environment(NotificationsEnv)
        by = who()
        created = create_subscription(
            notification_store(env.NOTIFICATIONS_TABLE),
            signing_secrets(env.SECRETS_KMS_KEY_ID),
            body,
            by=by,
            allow_loopback_http=env.NOTIFY_ALLOW_LOOPBACK_HTTP,
        )
        logger.info(
            "notification subscription created",
            subscription_id=created.subscriptionId,
            project_id=body.projectId,
            events=created.events,
            by=by,
        )
        return Response(
            status_code=HTTPStatus.CREATED, content_type=content_types.APPLICATION_JSON, body=created
        )

    @router.get(
        "/api/deploy/notifications",
        summary="The webhook subscriptions",
        responses={
            **success_response(200, SubscriptionListOut, "The subscriptions"),
            **error_responses(400, 503),
        },
        tags=["notifications"],
    )
    def subscriptions(projectId: ProjectQuery = None) -> SubscriptionListOut:
        return list_subscriptions(
            notification_store(environment(NotificationsEnv).NOTIFICATIONS_TABLE), projectId
        )

    @router.delete(
        "/api/deploy/notifications/<subscriptionId>",
        summary="Delete a subscription: no event is sent to it any more",
        responses={
            **success_response(200, SubscriptionDeletedOut, "Deleted"),
            **error_responses(400, 404, 503),
        },
        tags=["notifications"],
    )
    def unsubscribe(subscriptionId: SubscriptionId) -> SubscriptionDeletedOut:
        env = environment(NotificationsEnv)
        result = delete_subscription(
            notification_store(env.NOTIFICATIONS_TABLE),
            signing_secrets(env.SECRETS_KMS_KEY_ID),
            subscriptionId,
        )
        logger.info("notification subscription deleted", subscription_id=subscriptionId, by=who())
        return result

    @router.get(
        "/api/deploy/notifications/<subscriptionId>/deliveries",
        summary="A subscription's delivery log, newest first",
        responses={
            **success_response(200, DeliveryListOut, "The deliveries"),
            **error_responses(400, 404, 503),
        },
        tags=["notifications"],
    )
    def deliveries(subscriptionId: SubscriptionId) -> DeliveryListOut:
        return subscription_deliveries(
            notification_store(environment(NotificationsEnv).NOTIFICATIONS_TABLE), subscriptionId
        )

    return router
