"""Delivery: once per event per subscription, signed, retried with backoff on a fake clock until
delivered or out of attempts; a stream record handled twice sends nothing twice."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from functions.logic.notify_delivery import MAX_ATTEMPTS, RETRY_DELAYS, Notifier, Outcome, delivery_id
from functions.logic.notify_events import Event
from functions.logic.notify_signing import verify
from functions.models.exceptions import InvalidRequest
from tests.support.fakes import FakeNotificationStore, FakeSigningSecrets

T0 = 1_764_000_000.0
SECRET = "whsec_unit"


@dataclass
class FakeClock:
    t: float = T0
    slept: list[float] = field(default_factory=list)

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


@dataclass
class Receiver:
    """Answers each POST with the next status (the last one repeats); records what it got."""

    statuses: list[int | None]
    got: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        assert timeout == 5
        self.got.append((url, body, headers))
        status = self.statuses[min(len(self.got) - 1, len(self.statuses) - 1)]
        if status is None:
            return Outcome(False, error="TimeoutError: timed out")
        return Outcome(200 <= status < 300, status_code=status, error=None if status < 300 else f"{status}")


def event(type_: str = "job_completed", project: str = "p1", id_: str = "evt_1") -> Event:
    return Event(id_, type_, "2026-12-02T10:00:00Z", project, "deploy-1", {"status": "completed"})


def setup(
    statuses: list[int | None], *, events: list[str] | None = None, project: str | None = None
) -> tuple[Notifier, FakeNotificationStore, Receiver, FakeClock]:
    store, secrets, clock, receiver = (
        FakeNotificationStore(),
        FakeSigningSecrets(),
        FakeClock(),
        Receiver(statuses),
    )
    reference = secrets.save("sub_1", SECRET)
    store.put_subscription(
        {
            "subscriptionId": "sub_1",
            "url": "https://hooks.example.com/x",
            "events": events or ["job_completed", "job_failed"],
            "secretRef": reference,
            **({"projectId": project} if project else {}),
        }
    )
    return Notifier(store, secrets, receiver, clock), store, receiver, clock


def test_an_event_is_delivered_once_signed_with_the_subscriptions_secret() -> None:
    notifier, store, receiver, clock = setup([200])
    assert notifier.notify([event()]) == 1
    [(url, body, headers)] = receiver.got
    assert url == "https://hooks.example.com/x"
    assert json.loads(body)["id"] == "evt_1" and json.loads(body)["type"] == "job_completed"
    assert verify(SECRET, headers["X-Provisioner-Signature"], body, now=int(clock.t))
    assert headers["X-Provisioner-Delivery"] == delivery_id("evt_1", "sub_1")
    assert headers["X-Provisioner-Event"] == "job_completed"
    [item] = store.deliveries("sub_1")
    assert item["status"] == "delivered" and item["attempts"] == 1 and item["lastStatusCode"] == 200
    assert store.due(int(clock.t) + 10**6) == []


def test_the_same_event_again_sends_nothing() -> None:
    notifier, _, receiver, _ = setup([500, 500])
    notifier.notify([event()])
    sent = len(receiver.got)
    # A stream record delivered twice, or the same event derived twice.
    assert notifier.notify([event()]) == 0
    assert len(receiver.got) == sent


def test_events_go_only_to_subscriptions_of_their_type_and_project() -> None:
    notifier, _, receiver, _ = setup([200], events=["job_failed"], project="p1")
    assert notifier.notify([event("job_completed")]) == 0
    assert notifier.notify([event("job_failed", project="p2", id_="evt_2")]) == 0
    assert notifier.notify([event("job_failed", id_="evt_3")]) == 1
    assert len(receiver.got) == 1


def test_a_failure_is_retried_quickly_once_then_by_the_periodic_pass_with_growing_delays() -> None:
    notifier, store, receiver, clock = setup([500])
    notifier.notify([event()])
    # The first attempt and the quick retry, a second apart.
    assert len(receiver.got) == 2 and clock.slept == [RETRY_DELAYS[0]]
    [item] = store.deliveries("sub_1")
    assert item["status"] == "pending" and item["attempts"] == 2
    assert item["nextAttemptAt"] == int(clock.t) + RETRY_DELAYS[1]
    # Not yet due: nothing is sent.
    clock.t += RETRY_DELAYS[1] - 1
    assert notifier.retry_due() == 0 and len(receiver.got) == 2
    for attempt in range(3, MAX_ATTEMPTS + 1):
        clock.t = store.deliveries("sub_1")[0]["nextAttemptAt"]
        assert notifier.retry_due() == 1
        assert len(receiver.got) == attempt
    [item] = store.deliveries("sub_1")
    assert item["status"] == "failed" and item["attempts"] == MAX_ATTEMPTS and item["lastStatusCode"] == 500
    clock.t += 10**6
    assert notifier.retry_due() == 0 and len(receiver.got) == MAX_ATTEMPTS
    # Every retry carries the same body and delivery id, and a fresh signature that verifies.
    bodies = {body for _, body, _ in receiver.got}
    assert len(bodies) == 1
    assert {h["X-Provisioner-Delivery"] for _, _, h in receiver.got} == {delivery_id("evt_1", "sub_1")}


def test_a_receiver_that_fails_first_gets_it_again_and_it_is_logged_delivered() -> None:
    notifier, store, receiver, _ = setup([500, 204])
    notifier.notify([event()])
    assert len(receiver.got) == 2
    [item] = store.deliveries("sub_1")
    assert item["status"] == "delivered" and item["attempts"] == 2 and item["lastStatusCode"] == 204


def test_timeouts_and_connection_errors_count_as_failures() -> None:
    notifier, store, _receiver, _ = setup([None])
    notifier.notify([event()])
    [item] = store.deliveries("sub_1")
    assert item["status"] == "pending" and "timed out" in item["lastError"]

    def broken(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        raise ConnectionRefusedError("refused")

    notifier.sender = broken
    notifier.notify([event(id_="evt_2")])
    second = store.delivery("sub_1", "evt_2")
    assert second is not None and "ConnectionRefusedError" in second["lastError"]


def test_an_attempt_someone_else_holds_is_not_sent_twice() -> None:
    notifier, store, receiver, clock = setup([500])
    notifier.notify([event()])
    clock.t = store.deliveries("sub_1")[0]["nextAttemptAt"]
    # Another pass claimed this attempt a moment ago (its lease holds).
    assert store.claim("sub_1", "evt_1", 2, int(clock.t), int(clock.t) + 30)
    assert notifier.retry_due() == 1
    assert len(receiver.got) == 2


def test_a_deleted_subscription_gets_no_retry() -> None:
    notifier, store, receiver, clock = setup([500])
    notifier.notify([event()])
    store.delete_subscription("sub_1")
    clock.t += 10**6
    notifier.retry_due()
    assert len(receiver.got) == 2
    [item] = store.deliveries("sub_1")
    assert "deleted" in item["lastError"]


def test_a_url_that_now_resolves_privately_is_not_called() -> None:
    notifier, store, receiver, _ = setup([200])

    def private(url: str) -> None:
        raise InvalidRequest("url: resolves to a private address", "url")

    notifier.url_check = private
    notifier.notify([event()])
    assert receiver.got == []
    assert "private" in store.deliveries("sub_1")[0]["lastError"]


def test_each_event_is_published_once_and_a_failed_publish_is_tried_again() -> None:
    notifier, _store, _, _ = setup([200])
    published: list[str] = []
    fail = [True]

    def publisher(e: Event) -> None:
        if fail[0]:
            fail[0] = False
            raise RuntimeError("sns down")
        published.append(e.id)

    notifier.publisher = publisher
    with pytest.raises(RuntimeError):
        notifier.notify([event()])
    notifier.notify([event()])
    notifier.notify([event()])
    assert published == ["evt_1"]
