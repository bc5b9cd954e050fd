"""Notification subscriptions: create (the signing secret returned this once), list, delete,
and a subscription's delivery log."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from core.requests import SubscriptionRequest
from core.responses import (
    DeliveryListOut,
    DeliveryOut,
    SubscriptionCreatedOut,
    SubscriptionDeletedOut,
    SubscriptionListOut,
    SubscriptionOut,
)
from functions.dal.notifications import NotificationStore, SigningSecrets
from functions.logic.notify_signing import new_secret
from functions.logic.notify_urls import Resolver, check_url, resolve
from functions.models.exceptions import InvalidRequest, SubscriptionNotFound

SUBSCRIPTION_PREFIX = "sub_"
MAX_SUBSCRIPTIONS = 100


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def subscription_out(item: dict[str, Any]) -> SubscriptionOut:
    return SubscriptionOut(
        subscriptionId=str(item["subscriptionId"]),
        url=str(item["url"]),
        events=[str(e) for e in item.get("events") or []],
        scope="project" if item.get("projectId") else "install",
        projectId=item.get("projectId"),
        description=str(item.get("description") or ""),
        createdAt=str(item.get("createdAt") or ""),
        createdBy=item.get("createdBy"),
    )


def create_subscription(
    store: NotificationStore,
    signing: SigningSecrets,
    request: SubscriptionRequest,
    *,
    by: str,
    allow_loopback_http: bool,
    resolver: Resolver = resolve,
) -> SubscriptionCreatedOut:
    url = check_url(request.url, allow_loopback_http=allow_loopback_http, resolver=resolver)
    if len(store.subscriptions()) >= MAX_SUBSCRIPTIONS:
        raise InvalidRequest(f"at most {MAX_SUBSCRIPTIONS} subscriptions; delete one first")
    subscription_id = SUBSCRIPTION_PREFIX + secrets.token_hex(12)
    secret = new_secret()
    reference = signing.save(subscription_id, secret)
    item: dict[str, Any] = {
        "subscriptionId": subscription_id,
        "url": url,
        "events": sorted(set(request.events)),
        "description": request.description,
        "createdAt": _now(),
        "createdBy": by,
        "secretRef": reference,
    }
    if request.projectId:
        item["projectId"] = request.projectId
    store.put_subscription(item)
    return SubscriptionCreatedOut(**subscription_out(item).model_dump(), secret=secret)


def list_subscriptions(store: NotificationStore, project_id: str | None) -> SubscriptionListOut:
    """The install's subscriptions; with a project, that project's as well (both get its events)."""
    items = [
        item
        for item in store.subscriptions()
        if not item.get("projectId") or (project_id is not None and item.get("projectId") == project_id)
    ]
    items.sort(key=lambda item: str(item.get("createdAt")))
    return SubscriptionListOut(projectId=project_id, subscriptions=[subscription_out(i) for i in items])


def delete_subscription(
    store: NotificationStore, signing: SigningSecrets, subscription_id: str
) -> SubscriptionDeletedOut:
    item = store.subscription(subscription_id)
    if item is None or not store.delete_subscription(subscription_id):
        raise SubscriptionNotFound(f"no notification subscription {subscription_id}")
    signing.delete(str(item["secretRef"]))
    return SubscriptionDeletedOut(subscriptionId=subscription_id, deleted=True)


def _iso_seconds(value: Any) -> str | None:
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")


def subscription_deliveries(store: NotificationStore, subscription_id: str) -> DeliveryListOut:
    if store.subscription(subscription_id) is None:
        raise SubscriptionNotFound(f"no notification subscription {subscription_id}")
    items = sorted(store.deliveries(subscription_id), key=lambda i: str(i.get("createdAt")), reverse=True)
    return DeliveryListOut(
        subscriptionId=subscription_id,
        deliveries=[
            DeliveryOut(
                deliveryId=str(item["deliveryId"]),
                eventId=str(item["eventId"]),
                type=str(item["type"]),
                projectId=str(item["projectId"]),
                jobId=item.get("jobId"),
                status=item.get("status", "pending"),
                attempts=int(item.get("attempts", 0)),
                lastStatusCode=item.get("lastStatusCode"),
                lastError=item.get("lastError") or None,
                createdAt=str(item.get("createdAt") or ""),
                lastAttemptAt=item.get("lastAttemptAt"),
                nextAttemptAt=_iso_seconds(item.get("nextAttemptAt"))
                if item.get("status") == "pending"
                else None,
                deliveredAt=item.get("deliveredAt"),
            )
            for item in items
        ],
    )
