"""Delivering events to subscribers: one delivery record per event per subscription, sent at
most once at a time and never again once delivered.

The first attempt goes out as the event is derived, and a failed one is retried once after a
second; later retries are the periodic pass's (``retry_due``), with the delay growing, until
``MAX_ATTEMPTS`` have failed and the delivery is marked failed. Each attempt is claimed with a
conditional write (the attempt count it read, and a short lease), so a stream record handled
twice, or the periodic pass racing the first attempt, never sends the same attempt twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from functions.dal.notifications import PENDING, NotificationStore, SigningSecrets
from functions.logic.notify_events import Event
from functions.logic.notify_signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)
from functions.models.exceptions import ProvisionerError

MAX_ATTEMPTS: Final = 6
# Seconds before attempt 2, 3, ...: the first retry inline, the rest by the periodic pass.
RETRY_DELAYS: Final = (1, 30, 120, 600, 1800)
LEASE_SECONDS: Final = 30
TIMEOUT_SECONDS: Final = 5
TIMESTAMP_HEADER: Final = "X-Provisioner-Timestamp"
USER_AGENT: Final = "terraform-provisioner-webhooks/1"


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None = None
    error: str | None = None


# (url, body, headers, timeout seconds) -> what the receiver answered.
Sender = Callable[[str, bytes, dict[str, str], float], Outcome]
# Raises (InvalidRequest) when the URL may no longer be called (its host now resolves privately).
UrlCheck = Callable[[str], object]
Publisher = Callable[[Event], None]


def delivery_id(event_id: str, subscription_id: str) -> str:
    digest = hashlib.sha256(f"{event_id}\x1f{subscription_id}".encode()).hexdigest()
    return f"dlv_{digest[:32]}"


def matches(subscription: dict[str, Any], event: Event) -> bool:
    if event.type not in (subscription.get("events") or []):
        return False
    project = subscription.get("projectId")
    return project is None or project == event.projectId


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Notifier:
    def __init__(
        self,
        store: NotificationStore,
        secrets: SigningSecrets,
        sender: Sender,
        clock: Clock,
        *,
        url_check: UrlCheck = lambda _url: None,
        publisher: Publisher | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.sender = sender
        self.clock = clock
        self.url_check = url_check
        self.publisher = publisher
        self.max_attempts = max_attempts
        self.retry_delays = tuple(retry_delays)

    # --- fan-out ------------------------------------------------------------------------------

    def notify(self, events: Iterable[Event]) -> int:
        """Record and send each event to every matching subscription; returns deliveries made."""
        events = list(events)
        if not events:
            return 0
        subscriptions = self.store.subscriptions()
        made = 0
        for event in events:
            self._publish(event)
            for subscription in subscriptions:
                if matches(subscription, event) and self._create(subscription, event):
                    made += 1
                    self.attempt(str(subscription["subscriptionId"]), event.id, quick_retry=True)
        return made

    def _publish(self, event: Event) -> None:
        if self.publisher is None or not self.store.mark_event(event.id, _iso(self.clock.now())):
            return
        try:
            self.publisher(event)
        except Exception:
            # Unmarked, the stream's retry of this record publishes it again.
            self.store.unmark_event(event.id)
            raise

    def _create(self, subscription: dict[str, Any], event: Event) -> bool:
        now = self.clock.now()
        subscription_id = str(subscription["subscriptionId"])
        return self.store.create_delivery(
            {
                "subscriptionId": subscription_id,
                "eventId": event.id,
                "deliveryId": delivery_id(event.id, subscription_id),
                "type": event.type,
                "projectId": event.projectId,
                **({"jobId": event.jobId} if event.jobId else {}),
                "body": json.dumps(event.payload(), separators=(",", ":"), sort_keys=True, default=str),
                "status": PENDING,
                PENDING: PENDING,
                "attempts": 0,
                "nextAttemptAt": int(now),
                "createdAt": _iso(now),
            }
        )

    # --- attempts -----------------------------------------------------------------------------

    def attempt(self, subscription_id: str, event_id: str, *, quick_retry: bool = False) -> None:
        """One attempt (and, with ``quick_retry``, the first retry a second later)."""
        while True:
            item = self.store.delivery(subscription_id, event_id)
            if item is None or item.get("status") != PENDING:
                return
            attempts = int(item.get("attempts", 0))
            now = self.clock.now()
            if not self.store.claim(subscription_id, event_id, attempts, int(now), int(now) + LEASE_SECONDS):
                return  # someone else has this attempt
            outcome = self._send(subscription_id, item)
            done = outcome.delivered or attempts + 1 >= self.max_attempts
            fields: dict[str, Any] = {
                "lastAttemptAt": _iso(now),
                "lastStatusCode": outcome.status_code,
                "lastError": outcome.error or "",
                "status": "delivered" if outcome.delivered else ("failed" if done else PENDING),
            }
            if outcome.delivered:
                fields["deliveredAt"] = _iso(self.clock.now())
            delay = self._delay(attempts + 1)
            if not done:
                fields["nextAttemptAt"] = int(now + delay)
            self.store.settle(subscription_id, event_id, attempts, fields, done=done)
            if done or not quick_retry or attempts > 0:
                return
            self.clock.sleep(delay)

    def _delay(self, attempts_made: int) -> float:
        index = min(attempts_made - 1, len(self.retry_delays) - 1)
        return self.retry_delays[index] if self.retry_delays else 0

    def _send(self, subscription_id: str, item: dict[str, Any]) -> Outcome:
        subscription = self.store.subscription(subscription_id)
        if subscription is None:
            return Outcome(False, error="the subscription was deleted")
        try:
            self.url_check(str(subscription["url"]))
            secret = self.secrets.load(str(subscription["secretRef"]))
        except ProvisionerError as exc:
            return Outcome(False, error=exc.message)
        body = str(item["body"]).encode()
        timestamp = int(self.clock.now())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_HEADER: str(item["type"]),
            DELIVERY_HEADER: str(item["deliveryId"]),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature_header(secret, timestamp, body),
        }
        try:
            return self.sender(str(subscription["url"]), body, headers, TIMEOUT_SECONDS)
        except Exception as exc:  # a sender must not end the batch: the attempt counts as failed
            return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:500])

    def retry_due(self, limit: int = 100) -> int:
        """The periodic pass: one attempt at every delivery whose retry is due."""
        due = self.store.due(int(self.clock.now()), limit)
        for subscription_id, event_id in due:
            self.attempt(subscription_id, event_id)
        return len(due)
