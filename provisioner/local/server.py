"""The HTTP side of local mode: requests in, API Gateway proxy events to the handlers, responses out,
one log line per request and one per job transition."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from provisioner.emulator import ServiceResources, emulator_session
from provisioner.local.control import LocalControl
from provisioner.local.gateway import Gateway

# Reading more than this is refused before it reaches memory; the handlers' own limit is lower.
MAX_READ_BYTES = 8 * 1024 * 1024


def log(message: str) -> None:
    print(f"{datetime.now().strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


class ApiRequestHandler(BaseHTTPRequestHandler):
    gateway: ClassVar[Gateway]
    control: ClassVar[LocalControl | None] = None
    # In a worker process: where the main process answers /_local/ (it holds the emulator).
    control_url: ClassVar[str] = ""
    server_version = "terraform-provisioner-local"
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes; without this, Nagle's algorithm and the client's
        # delayed ACK hold every keep-alive response back by some 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        started = time.perf_counter()
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_READ_BYTES:
            self._reply(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {"error": "payload_too_large", "message": "the body is too large"},
            )
            self.close_connection = True
            status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        elif path.startswith("/_local/") and self.control is not None:
            body = self.rfile.read(length) if length else None
            code, reply = self.control.handle(self.command, path, body)
            status = HTTPStatus(code)
            self._reply(status, reply)
        elif path.startswith("/_local/") and self.control_url:
            body = self.rfile.read(length) if length else None
            code, reply = _forward(self.control_url + self.path, self.command, body)
            status = HTTPStatus(code)
            self._reply(status, reply)
        else:
            body = self.rfile.read(length) if length else None
            headers = dict(self.headers.items())
            try:
                response = self.gateway.handle(self.command, path, headers, query, body)
                status = HTTPStatus(response.status)
                self.send_response(response.status)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)
            except Exception as exc:  # the handlers answer errors themselves; this is the gateway failing
                status = HTTPStatus.INTERNAL_SERVER_ERROR
                self._reply(status, {"error": "internal_error", "message": f"{type(exc).__name__}: {exc}"})
        elapsed = (time.perf_counter() - started) * 1000
        log(f"{self.command:6} {path} {int(status)} {elapsed:.0f}ms")

    def _reply(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def __getattr__(self, name: str) -> Any:
        """Every method (GET, TRACE, QUERY, ...) goes to the gateway, which answers 405 where a
        path has no route for it, as API Gateway does, rather than http.server's 501."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        """One line per request is written by _serve, with the status and the time taken."""


class _Server(ThreadingHTTPServer):
    # http.server's default backlog of 5 resets connections when clients burst (20 deploys at once).
    request_queue_size = 128
    daemon_threads = True

    def server_bind(self) -> None:
        # Worker processes listen on the same port; the kernel spreads connections between them.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


def _forward(url: str, method: str, body: bytes | None) -> tuple[int, dict[str, Any]]:
    # url is the main process's own loopback address, built by local mode, never a client's.
    request = urllib.request.Request(  # noqa: S310
        url, data=body, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback only
            return int(response.status), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read() or b"{}")


class ApiServer:
    def __init__(
        self, host: str, port: int, control: LocalControl | None = None, control_url: str = ""
    ) -> None:
        ApiRequestHandler.control = control
        ApiRequestHandler.control_url = control_url
        ApiRequestHandler.gateway = Gateway()
        ApiRequestHandler.gateway.warm()
        self._server = _Server((host, port), ApiRequestHandler)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class JobWatcher:
    """Logs each job's transitions (status, phase) as the records change."""

    def __init__(self, endpoint_url: str, resources: ServiceResources, interval: float = 1.0) -> None:
        self.table = (
            emulator_session(resources.region)
            .resource("dynamodb", endpoint_url=endpoint_url)
            .Table(resources.jobs_table)
        )
        self.interval = interval
        self._seen: dict[str, tuple[str, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-watcher", daemon=True)

    def start(self) -> None:
        for item in self._scan():
            self._seen[str(item["jobId"])] = (str(item.get("status")), str(item.get("phase")))
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _scan(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {}
        while True:
            page = self.table.scan(**arguments)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                items = self._scan()
            except Exception as exc:  # the emulator may be going away at shutdown
                log(f"watch  cannot read jobs: {type(exc).__name__}")
                continue
            for item in sorted(items, key=lambda i: int(i.get("createdAt", 0))):
                job_id = str(item["jobId"])
                now = (str(item.get("status")), str(item.get("phase")))
                if self._seen.get(job_id) == now:
                    continue
                self._seen[job_id] = now
                detail = f"{now[0]} ({now[1]}, {int(item.get('progress', 0))}%)"
                if now[0] == "failed":
                    detail += f": {item.get('error', '')}"
                log(f"job    {job_id} [{item.get('projectId')}] {detail}")
