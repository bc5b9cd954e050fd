"""The client's HTTP exchange against a loopback server that misbehaves on purpose: bounded retries
on 429/502-504 and on a connection closed without an answer, none for a cancel, and never a proxy
for this machine's own server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from provisioner.client import ApiError, ProvisionerClient, ServiceUnreachable

HEALTH = b'{"status": "ok", "version": "1.0.0"}'


class _Flaky(BaseHTTPRequestHandler):
    """Answers each request with the next scripted status (then 200s); 0 closes without answering."""

    script: ClassVar[list[int]] = []
    seen: ClassVar[list[str]] = []
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.seen.append(f"{self.command} {self.path}")
        status = self.script.pop(0) if self.script else 200
        if status == 0:
            self.close_connection = True
            self.connection.close()
            return
        body = HEALTH if status == 200 else b'{"error": "busy", "message": "try again"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def flaky_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def flaky(flaky_url: str) -> Iterator[tuple[str, list[int], list[str]]]:
    _Flaky.script.clear()
    _Flaky.seen.clear()
    yield flaky_url, _Flaky.script, _Flaky.seen
    _Flaky.script.clear()


def test_throttling_and_gateway_errors_are_retried_a_bounded_number_of_times(
    flaky: tuple[str, list[int], list[str]],
) -> None:
    url, script, seen = flaky
    # Given a server that is busy twice, then answers
    script.extend([503, 429])
    assert ProvisionerClient(url, retries=2).health().status == "ok"
    assert seen == ["GET /api/health"] * 3
    # When it stays busy: the third answer is the one reported, after 1 + retries tries
    seen.clear()
    script.extend([502, 503, 504])
    with pytest.raises(ApiError) as raised:
        ProvisionerClient(url, retries=2).health()
    assert raised.value.status == 504 and raised.value.error == "busy"
    assert len(seen) == 3
    # Other errors are answers, not tried again
    seen.clear()
    script.extend([404])
    with pytest.raises(ApiError):
        ProvisionerClient(url).health()
    assert len(seen) == 1


def test_a_cancel_is_never_retried(flaky: tuple[str, list[int], list[str]]) -> None:
    url, script, seen = flaky
    script.extend([503])
    with pytest.raises(ApiError) as raised:
        ProvisionerClient(url, retries=2).cancel("deploy-1700000000000-abcdef123")
    assert raised.value.status == 503
    assert seen == ["POST /api/deploy/cancel/deploy-1700000000000-abcdef123"]


def test_a_connection_closed_without_an_answer_is_retried_then_reported(
    flaky: tuple[str, list[int], list[str]],
) -> None:
    url, script, seen = flaky
    script.extend([0])
    assert ProvisionerClient(url, retries=1).health().version == "1.0.0"
    assert len(seen) == 2
    seen.clear()
    script.extend([0, 0])
    with pytest.raises(ServiceUnreachable) as raised:
        ProvisionerClient(url, retries=1).health()
    assert "the connection was closed" in raised.value.reason
    assert len(seen) == 2


def test_loopback_never_goes_through_a_proxy(
    flaky: tuple[str, list[int], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _, seen = flaky
    # Proxies nobody listens on: a request sent there would fail
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert ProvisionerClient(url).health().status == "ok"
    assert ProvisionerClient(url.replace("127.0.0.1", "localhost")).health().status == "ok"
    assert seen == ["GET /api/health"] * 2
