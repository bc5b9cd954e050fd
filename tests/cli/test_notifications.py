"""Notifications from the command line, against the fake of the contract in the test's process
(tests.cli.fake_api): notifications list/add/remove/deliveries, the bodies they send, the secret
shown once, --json, and the API's errors."""

from __future__ import annotations

from typing import Any

from tests.cli.fake_api import PROJECT, FakeApi
from tests.cli.helpers import Run, invoke

# The fake API runs in this process: the fast lane runs these (tests/conftest.py).
IN_PROCESS = True

NOTIFICATIONS = "/api/deploy/notifications"
SUB = "sub_0123456789abcdef01234567"
SECRET = "whsec_" + "ab" * 32
ALL_EVENTS = [
    "job_completed",
    "job_failed",
    "approval_needed",
    "policy_failed",
    "lock_cleared",
    "drift_detected",
    "drift_resolved",
]


def cli(fake: FakeApi, *argv: str) -> Run:
    return invoke(*argv, endpoint=fake.url)


def subscription(**fields: Any) -> dict[str, Any]:
    return {
        "subscriptionId": SUB,
        "url": "https://hooks.example.com/provisioner",
        "events": ["job_completed", "job_failed"],
        "scope": "project",
        "projectId": PROJECT,
        "description": "",
        "createdAt": "2026-12-02T07:00:00.000Z",
        "createdBy": "arn:aws:iam::123456789012:user/alice",
        **fields,
    }


def test_add_sends_the_url_events_and_project_and_prints_the_secret_once(fake: FakeApi) -> None:
    fake.route("POST", NOTIFICATIONS, (201, {**subscription(), "secret": SECRET}))
    run = cli(
        fake,
        "notifications",
        "add",
        "https://hooks.example.com/provisioner",
        "-e",
        "job_completed",
        "--event",
        "job_failed",
        "-p",
        PROJECT,
    )
    assert run.code == 0, run.err
    assert fake.sent("POST", NOTIFICATIONS) == [
        {
            "url": "https://hooks.example.com/provisioner",
            "events": ["job_completed", "job_failed"],
            "projectId": PROJECT,
        }
    ]
    assert SUB in run.out and SECRET in run.out and "shown only now" in run.out


def test_add_with_no_event_subscribes_to_all_and_an_unknown_one_is_a_usage_error(fake: FakeApi) -> None:
    fake.route(
        "POST", NOTIFICATIONS, (201, {**subscription(projectId=None, scope="install"), "secret": SECRET})
    )
    assert cli(fake, "notifications", "add", "https://hooks.example.com/x").code == 0
    assert fake.sent("POST", NOTIFICATIONS) == [{"url": "https://hooks.example.com/x", "events": ALL_EVENTS}]
    fake.requests.clear()
    bad = cli(fake, "notifications", "add", "https://hooks.example.com/x", "-e", "job_exploded")
    assert bad.code == 2 and "unknown event type job_exploded" in bad.err
    assert fake.requests == []


def test_add_shows_the_apis_refusal_and_is_never_retried(fake: FakeApi) -> None:
    refusal = {"error": "bad_request", "message": "url: must be https", "field": "url"}
    fake.route("POST", NOTIFICATIONS, (400, refusal))
    run = cli(fake, "notifications", "add", "http://hooks.example.com/x")
    assert run.code != 0 and "must be https" in run.err
    fake.requests.clear()
    fake.route("POST", NOTIFICATIONS, (503, {"error": "service_unavailable", "message": "busy"}))
    assert cli(fake, "notifications", "add", "https://hooks.example.com/x").code != 0
    assert len(fake.sent("POST", NOTIFICATIONS)) == 1


def test_list_shows_each_subscription_and_json_prints_the_api_answer(fake: FakeApi) -> None:
    listing = {"projectId": PROJECT, "subscriptions": [subscription()]}
    fake.route("GET", f"{NOTIFICATIONS}?projectId={PROJECT}", (200, listing))
    run = cli(fake, "notifications", "list", "-p", PROJECT)
    assert run.code == 0, run.err
    assert SUB in run.out and f"project:{PROJECT}" in run.out and "job_completed" in run.out
    as_json = cli(fake, "--json", "notifications", "list", "-p", PROJECT)
    assert as_json.json() == listing
    fake.route("GET", NOTIFICATIONS, (200, {"projectId": None, "subscriptions": []}))
    assert "No notification subscriptions" in cli(fake, "notifications", "list").out


def test_remove_deletes_and_a_missing_one_says_so(fake: FakeApi) -> None:
    fake.route("DELETE", f"{NOTIFICATIONS}/{SUB}", (200, {"subscriptionId": SUB, "deleted": True}))
    run = cli(fake, "notifications", "remove", SUB)
    assert run.code == 0 and f"Removed {SUB}" in run.out
    missing = {"error": "subscription_not_found", "message": "no notification subscription sub_x"}
    fake.route("DELETE", f"{NOTIFICATIONS}/sub_x", (404, missing))
    gone = cli(fake, "notifications", "remove", "sub_x")
    assert gone.code != 0 and "no notification subscription" in gone.err


def test_deliveries_show_status_attempts_and_the_last_answer(fake: FakeApi) -> None:
    log = {
        "subscriptionId": SUB,
        "deliveries": [
            {
                "deliveryId": "dlv_1",
                "eventId": "evt_1",
                "type": "job_failed",
                "projectId": PROJECT,
                "jobId": "deploy-1764166000000-ab12cd34e",
                "status": "pending",
                "attempts": 2,
                "lastStatusCode": 500,
                "lastError": "the receiver answered 500",
                "createdAt": "2026-12-02T07:00:00.000Z",
                "lastAttemptAt": "2026-12-02T07:00:01.000Z",
                "nextAttemptAt": "2026-12-02T07:00:31Z",
                "deliveredAt": None,
            }
        ],
    }
    fake.route("GET", f"{NOTIFICATIONS}/{SUB}/deliveries", (200, log))
    run = cli(fake, "notifications", "deliveries", SUB)
    assert run.code == 0, run.err
    assert "evt_1" in run.out and "pending" in run.out and "500" in run.out and "job_failed" in run.out
    fake.route("GET", f"{NOTIFICATIONS}/{SUB}/deliveries", (200, {"subscriptionId": SUB, "deliveries": []}))
    assert "Nothing delivered" in cli(fake, "notifications", "deliveries", SUB).out
