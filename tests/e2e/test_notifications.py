"""Notifications through make local's HTTP API, with real terraform and the emulator's streams:
a receiver on loopback gets exactly one signed job_completed for a deploy, a job_failed for a
failing one, a retry after a 500 (then logged delivered), and nothing once unsubscribed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.toolchain import Toolchain
from functions.logic.notify_signing import verify
from tests.support.local_server import LocalServer

pytestmark = pytest.mark.terraform

FAILING = 'resource "null_resource" "bad" {\n  triggers = { v = tonumber("not-a-number") }\n}\n'


def marker(value: str) -> str:
    return f'resource "null_resource" "marker" {{\n  triggers = {{ v = "{value}" }}\n}}\n'


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """A webhook receiver on loopback: each path answers the statuses queued for it, then 200."""

    requests: list[Received] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait(self, path: str, count: int, timeout: float = 60) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.at(path)
            if len(got) >= count:
                return got
            time.sleep(0.2)
        raise AssertionError(f"{path}: {len(self.at(path))} of {count} deliveries arrived")


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                state.requests.append(Received(self.path, dict(self.headers.items()), body))
                queued = state.statuses.get(self.path) or []
                status = queued.pop(0) if queued else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Iterator[LocalServer]:
    data_dir: Path = tmp_path_factory.mktemp("notify") / "data"
    running = LocalServer(data_dir, extra_env={"NOTIFY_RETRY_INTERVAL_SECONDS": "2"})
    running.start()
    yield running
    running.stop()


def subscribe(server: LocalServer, url: str, events: list[str], project: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, "events": events}
    if project:
        body["projectId"] = project
    reply = server.post("/api/deploy/notifications", body)
    assert reply.status == 201, reply.body
    return dict(reply.body)


def run(server: LocalServer, project: str, code: str) -> tuple[str, dict[str, Any]]:
    reply = server.post("/api/deploy", {"projectId": project, "iacCode": code})
    assert reply.status == 202, reply.body
    job_id = str(reply.body["jobId"])
    status, _ = server.wait_job(job_id)
    return job_id, status


def test_a_deploy_sends_exactly_one_signed_job_completed(
    server: LocalServer, receiver: tuple[Receiver, str]
) -> None:
    state, base = receiver
    # Given a project subscription to completions and failures
    sub = subscribe(server, f"{base}/ok", ["job_completed", "job_failed"], "notify-ok")
    secret = sub["secret"]
    assert secret.startswith("whsec_")
    # When the project deploys
    job_id, status = run(server, "notify-ok", marker("1"))
    assert status["status"] == "completed", status
    # Then exactly one job_completed arrives, signed with the subscription's secret
    [got] = state.wait("/ok", 1)
    time.sleep(3)
    assert len(state.at("/ok")) == 1
    event = got.event
    assert event["type"] == "job_completed" and event["jobId"] == job_id and event["projectId"] == "notify-ok"
    assert set(event) == {"id", "type", "occurredAt", "projectId", "jobId", "data"}
    assert verify(secret, got.headers["X-Provisioner-Signature"], got.body, now=int(time.time()))
    assert not verify(secret, got.headers["X-Provisioner-Signature"], got.body + b" ", now=int(time.time()))
    assert got.headers["X-Provisioner-Delivery"].startswith("dlv_")
    # And the delivery log says so; the secret is never shown again
    log = server.get(f"/api/deploy/notifications/{sub['subscriptionId']}/deliveries")
    assert log.status == 200, log.body
    [entry] = log.body["deliveries"]
    assert entry["status"] == "delivered" and entry["attempts"] == 1 and entry["lastStatusCode"] == 200
    assert entry["eventId"] == event["id"] and entry["deliveryId"] == got.headers["X-Provisioner-Delivery"]
    listing = server.get("/api/deploy/notifications?projectId=notify-ok")
    assert listing.status == 200
    assert sub["subscriptionId"] in [s["subscriptionId"] for s in listing.body["subscriptions"]]
    assert secret not in json.dumps(listing.body) and secret not in json.dumps(log.body)


def test_a_failing_deploy_sends_job_failed(server: LocalServer, receiver: tuple[Receiver, str]) -> None:
    state, base = receiver
    subscribe(server, f"{base}/bad", ["job_failed"], "notify-bad")
    job_id, status = run(server, "notify-bad", FAILING)
    assert status["status"] == "failed", status
    [got] = state.wait("/bad", 1)
    assert got.event["type"] == "job_failed" and got.event["jobId"] == job_id
    assert got.event["data"]["error"]


def test_a_receiver_that_answers_500_gets_it_again_and_it_is_logged_delivered(
    server: LocalServer, receiver: tuple[Receiver, str]
) -> None:
    state, base = receiver
    state.statuses["/flaky"] = [500]
    sub = subscribe(server, f"{base}/flaky", ["job_completed"], "notify-flaky")
    run(server, "notify-flaky", marker("1"))
    first, second = state.wait("/flaky", 2)
    assert first.body == second.body
    assert first.headers["X-Provisioner-Delivery"] == second.headers["X-Provisioner-Delivery"]
    assert verify(sub["secret"], second.headers["X-Provisioner-Signature"], second.body, now=int(time.time()))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        [entry] = server.get(f"/api/deploy/notifications/{sub['subscriptionId']}/deliveries").body[
            "deliveries"
        ]
        if entry["status"] == "delivered":
            break
        time.sleep(0.5)
    assert entry["status"] == "delivered" and entry["attempts"] == 2 and entry["lastStatusCode"] == 200
    time.sleep(3)
    assert len(state.at("/flaky")) == 2


def test_a_deleted_subscription_gets_nothing(server: LocalServer, receiver: tuple[Receiver, str]) -> None:
    state, base = receiver
    sub = subscribe(server, f"{base}/gone", ["job_completed"], "notify-gone")
    reply = server.request("DELETE", f"/api/deploy/notifications/{sub['subscriptionId']}")
    assert reply.status == 200 and reply.body["deleted"] is True
    # A sibling subscription shows the events did flow meanwhile.
    subscribe(server, f"{base}/gone-witness", ["job_completed"], "notify-gone")
    run(server, "notify-gone", marker("1"))
    state.wait("/gone-witness", 1)
    time.sleep(2)
    assert state.at("/gone") == []
    again = server.request("DELETE", f"/api/deploy/notifications/{sub['subscriptionId']}")
    assert again.status == 404 and again.body["error"] == "subscription_not_found"
    gone_log = server.get(f"/api/deploy/notifications/{sub['subscriptionId']}/deliveries")
    assert gone_log.status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # IP literals: no name is looked up (only loopback traffic)
        ({"url": "http://93.184.216.34/hook", "events": ["job_failed"]}, "url"),
        ({"url": "https://169.254.169.254/latest", "events": ["job_failed"]}, "url"),
        ({"url": "https://10.0.0.1/hook", "events": ["job_failed"]}, "url"),
        ({"url": "http://127.0.0.1:1/hook", "events": ["no_such_event"]}, "events"),
        ({"url": "http://127.0.0.1:1/hook", "events": []}, "events"),
        ({"url": "http://127.0.0.1:1/hook", "events": ["job_failed"], "projectId": "bad id!"}, "projectId"),
        ({"url": "http://127.0.0.1:1/hook", "events": ["job_failed"], "secret": "mine"}, "secret"),
    ],
)
def test_bad_subscriptions_are_refused_with_400(
    server: LocalServer, body: dict[str, Any], field: str
) -> None:
    reply = server.post("/api/deploy/notifications", body)
    assert reply.status == 400, reply.body
    assert reply.body["error"] == "bad_request" and reply.body["field"].startswith(field), reply.body
