"""The HTTP side of local mode: requests in, API Gateway proxy events to the handlers, responses out,
one log line per request and one per job transition.

This process is the only listener. It answers health, the OpenAPI document, unknown routes and
``/_local/`` itself, and hands every other request to an idle API worker process (``WorkerPool``)
over a private socket pair, waiting only while every worker is busy. A worker runs one handler
invocation at a time (Powertools keeps the current event process-wide), so a deploy being parsed
holds up only its own worker: health checks and status polls are answered meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, cast

from localmode.control import LocalControl
from localmode.emulator import ServiceResources, emulator_session
from localmode.gateway import (
    Gateway,
    HttpRequest,
    HttpResponse,
    await_acknowledgement,
    await_ready,
    invokes_handler,
    read_response,
    write_request,
)

# Reading more than this is refused before it reaches memory; the handlers' own limit is lower.
MAX_READ_BYTES = 8 * 1024 * 1024
# Importing the handlers takes a second or two; far longer means the worker is broken.
WORKER_START_SECONDS = 120


def log(message: str) -> None:
    print(f"{datetime.now().strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _json_response(status: HTTPStatus, error: str, message: str) -> HttpResponse:
    body = json.dumps({"error": error, "message": message}).encode()
    return HttpResponse(int(status), {"Content-Type": "application/json"}, body)


class NoWorkers(Exception):
    """Every API worker has stopped and none is starting."""


class _Worker:
    """One API worker process and this process's end of the socket pair to it."""

    def __init__(self, process: subprocess.Popen[bytes], connection: socket.socket) -> None:
        self.process = process
        self.connection = connection
        self.stream = cast(BinaryIO, connection.makefile("rwb"))
        self.alive = True

    def wait_ready(self, timeout: float) -> bool:
        self.connection.settimeout(timeout)
        try:
            ready = await_ready(self.stream)
        except (OSError, EOFError, ValueError):
            return False
        self.connection.settimeout(None)  # an invocation takes as long as it takes (a 5 MiB parse)
        return ready

    def close(self) -> None:
        for closable in (self.stream, self.connection):
            with contextlib.suppress(OSError):
                closable.close()


class _NotDelivered(Exception):
    """The request never reached the worker whole, so it never ran: safe to give to another."""


class WorkerPool:
    """API worker processes, each running one invocation at a time, handed requests when idle.

    ``processes`` is kept current as workers stop and are replaced: app.py stops what it lists.
    A worker that dies is replaced, unless the pool is closing or the worker stopped cleanly.
    """

    def __init__(self, size: int, command: Sequence[str], cwd: Path) -> None:
        self.size = size
        self.command = list(command)
        self.cwd = cwd
        self.processes: list[subprocess.Popen[bytes]] = []
        self._idle: deque[_Worker] = deque()
        self._live = 0  # workers running or starting: while there are some, a request waits
        self._closing = False
        self._condition = threading.Condition()

    def start(self) -> int:
        """Start every worker and wait until each is ready (in parallel); returns how many are."""
        with self._condition:
            self._live += self.size
        starting = [threading.Thread(target=self._spawn, daemon=True) for _ in range(self.size)]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        with self._condition:
            return len(self._idle)

    def close(self) -> None:
        """Stop replacing workers: the server is shutting down (app.py then stops the processes)."""
        with self._condition:
            self._closing = True
            self._condition.notify_all()

    @property
    def idle(self) -> int:
        with self._condition:
            return len(self._idle)

    def invoke(self, request: HttpRequest) -> HttpResponse:
        for _ in range(self.size + 1):
            worker = self._acquire()
            try:
                response = self._call(worker, request)
            except _NotDelivered:
                # That worker died while idle, or is stopping; its watcher retires it. Another
                # one takes the request.
                continue
            except (OSError, EOFError, ValueError):
                # It died mid-invocation (killed, out of memory): what it did is unknown, as when
                # a Lambda container dies. Its watcher replaces it.
                self._retire(worker, "stopped while handling a request")
                return _json_response(
                    HTTPStatus.BAD_GATEWAY, "bad_gateway", "the API worker stopped while handling the request"
                )
            self._release(worker)
            return response
        raise NoWorkers

    @staticmethod
    def _call(worker: _Worker, request: HttpRequest) -> HttpResponse:
        try:
            write_request(worker.stream, request)
        except OSError as exc:
            # A worker reads a whole frame before it invokes anything, and one that is stopping
            # refuses frames: an unwritten request did not run.
            raise _NotDelivered from exc
        # A request written into the pair of a worker that had just died sits in a buffer: only
        # the worker's acknowledgement says it took the request.
        if not await_acknowledgement(worker.stream):
            raise _NotDelivered
        return read_response(worker.stream)

    def _acquire(self) -> _Worker:
        with self._condition:
            while True:
                while self._idle:
                    worker = self._idle.popleft()
                    if worker.alive:
                        return worker
                if self._live == 0:
                    raise NoWorkers
                self._condition.wait()

    def _release(self, worker: _Worker) -> None:
        with self._condition:
            if worker.alive:
                self._idle.append(worker)
                self._condition.notify()

    def _spawn(self) -> None:
        """Start one worker (already counted in ``_live``) and add it to the idle ones when ready."""
        parent, child = socket.socketpair()
        try:
            process = subprocess.Popen(
                [*self.command, "--fd", str(child.fileno())], cwd=self.cwd, pass_fds=[child.fileno()]
            )
        except OSError as exc:
            log(f"worker could not start: {exc}")
            parent.close()
            with self._condition:
                self._live -= 1
                self._condition.notify_all()
            return
        finally:
            child.close()
        worker = _Worker(process, parent)
        with self._condition:
            self.processes.append(process)
        if not worker.wait_ready(WORKER_START_SECONDS):
            log(f"worker pid {process.pid} did not start; running without it")
            process.kill()
            process.wait()
            self._retire(worker, "did not start", replace=False)
            return
        threading.Thread(
            target=self._watch, args=(worker,), name=f"worker-{process.pid}", daemon=True
        ).start()
        self._release(worker)

    def _watch(self, worker: _Worker) -> None:
        code = worker.process.wait()
        # 0: it was told to stop (SIGTERM) and did; anything else is a crash or a kill.
        self._retire(worker, f"exited ({code})", replace=code != 0)

    def _retire(self, worker: _Worker, why: str, *, replace: bool = True) -> None:
        with self._condition:
            if not worker.alive:
                return
            worker.alive = False
            if worker in self._idle:
                self._idle.remove(worker)
            if worker.process in self.processes:
                self.processes.remove(worker.process)
            replace = replace and not self._closing
            if not replace:
                self._live -= 1  # a replacement keeps the count: waiting requests keep waiting
            self._condition.notify_all()
        worker.close()
        if worker.process.poll() is None:
            worker.process.kill()
        if replace:
            log(f"worker pid {worker.process.pid} {why}; starting another")
            threading.Thread(target=self._spawn, daemon=True).start()


class ApiRequestHandler(BaseHTTPRequestHandler):
    gateway: ClassVar[Gateway]
    control: ClassVar[LocalControl | None] = None
    # Where invocations go; None: this process runs them itself (API_WORKERS=0).
    pool: ClassVar[WorkerPool | None] = None
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
        else:
            body = self.rfile.read(length) if length else None
            request = HttpRequest(self.command, path, dict(self.headers.items()), query, body)
            try:
                response = self._invoke(request)
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

    def _invoke(self, request: HttpRequest) -> HttpResponse:
        pool = self.pool
        if pool is None or not invokes_handler(request.method, request.path):
            return self.gateway.handle(
                request.method, request.path, request.headers, request.query, request.body
            )
        try:
            return pool.invoke(request)
        except NoWorkers:
            return _json_response(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "service_unavailable",
                "no API worker process is running; see the local server's log",
            )

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


class ApiServer:
    def __init__(self, host: str, port: int, control: LocalControl | None = None) -> None:
        ApiRequestHandler.control = control
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
        if ApiRequestHandler.pool is not None:
            ApiRequestHandler.pool.close()
        self._server.shutdown()
        self._server.server_close()


def dispatch_to(pool: WorkerPool | None) -> None:
    """Send this process's invocations to the pool's workers (None: run them here)."""
    ApiRequestHandler.pool = pool


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
