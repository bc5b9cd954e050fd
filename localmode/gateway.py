"""What API Gateway does in front of the handlers, for local mode and tests: match the route,
build the REST proxy event, call the route's Lambda handler, and turn its answer into HTTP.

Also the frames local mode's front process and its API workers exchange (one request, one
response, over a private socket pair): see ``localmode.server.WorkerPool``.
"""

from __future__ import annotations

import base64
import getpass
import importlib
import json
import os
import re
import struct
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import parse_qs

from functions.handlers.routing import HANDLERS, Route, route_for, routes_for_path

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


LOCAL_USER_HEADER = "x-local-user"
_USER_NAME = re.compile(r"[A-Za-z0-9_.@+=,-]{1,64}")


def local_user() -> str:
    """Who calls the API in local mode: LOCAL_USER, else the account running make local."""
    try:
        return os.environ.get("LOCAL_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "local-user"


@dataclass
class LocalContext:
    """The parts of a Lambda context the handlers read."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    log_group_name: str = "local"
    log_stream_name: str = "local"
    deadline_ms: int = field(default_factory=lambda: int(time.time() * 1000) + 29_000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def proxy_event(
    route: Route,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    query: str = "",
    body: bytes | None = None,
    source_ip: str = "127.0.0.1",
    user: str | None = None,
) -> dict[str, Any]:
    """A REST API (v1) proxy event, as API Gateway sends it to a Lambda proxy integration."""
    parsed = parse_qs(query, keep_blank_values=True)
    path_parameters = _path_parameters(route, path)
    text_body: str | None = None
    is_base64 = False
    if body is not None and body != b"":
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            # Binary bodies reach Lambda base64-encoded, as API Gateway does for binary media types.
            text_body, is_base64 = base64.b64encode(body).decode(), True
    request_id = str(uuid.uuid4())
    user = user or local_user()
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers or {}),
        "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
        "queryStringParameters": {k: v[-1] for k, v in parsed.items()} or None,
        "multiValueQueryStringParameters": parsed or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/local{path}",
            "stage": "local",
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {
                "sourceIp": source_ip,
                "userArn": f"arn:aws:iam::000000000000:user/{user}",
                "user": user,
            },
        },
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


def _path_parameters(route: Route, path: str) -> dict[str, str]:
    names = [part[1:-1] for part in route.path.split("/") if part.startswith("{")]
    values = [
        actual
        for template, actual in zip(route.path.split("/"), path.split("/"), strict=False)
        if template.startswith("{")
    ]
    return dict(zip(names, values, strict=False))


# Health and the OpenAPI document: no AWS access, a millisecond or so (30 ms for the document).
FRONT_HANDLER = "openapi_handler"


def invokes_handler(method: str, path: str) -> bool:
    """Whether answering takes an invocation that reads AWS or parses code: health and the
    OpenAPI document do not, nor do unknown routes and methods (404, 405: no handler runs)."""
    route = route_for(method, path)
    return route is not None and route.handler != FRONT_HANDLER


class Gateway:
    """Routes requests to the handlers, one invocation at a time per process.

    A Lambda container serves one request at a time, and Powertools relies on it: the resolver
    keeps the current event on a class attribute, shared by every resolver in the process. Two
    invocations at once would read each other's request. Local mode runs more API processes
    instead (``API_WORKERS``), each with a gateway of its own.
    """

    def __init__(self) -> None:
        self._invoke = threading.Lock()

    def warm(self) -> None:
        """Import every handler now, as Lambda's init phase would, and build what their first
        requests would (the HCL parser, the AWS clients), so no request pays for it: a worker's
        first deploy took ~0.5 s longer than the next."""
        from core.hcl.native import warm_parser  # noqa: PLC0415
        from functions.dal import aws  # noqa: PLC0415

        for module in HANDLERS:
            importlib.import_module(f"functions.handlers.{module}")
        warm_parser()
        aws.dynamodb()
        aws.s3()
        aws.stepfunctions()
        aws.scheduler()

    @staticmethod
    def _handler(module: str) -> LambdaHandler:
        handler: LambdaHandler = importlib.import_module(f"functions.handlers.{module}").lambda_handler
        return handler

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], query: str, body: bytes | None
    ) -> HttpResponse:
        route = route_for(method, path)
        if route is None:
            allowed = sorted({r.method for r in routes_for_path(path)})
            if allowed:
                response = _error(405, "method_not_allowed", f"{method} is not allowed on {path}")
                response.headers["Allow"] = ", ".join(allowed)
                return response
            return _error(404, "not_found", "no such route")
        # Local mode's caller is the machine's user; a request may name another (a second person
        # approving a plan), as IAM would name a different principal in AWS.
        named = next((v for k, v in headers.items() if k.lower() == LOCAL_USER_HEADER), None)
        user = named if named and _USER_NAME.fullmatch(named) else None
        event = proxy_event(route, method, path, headers=headers, query=query, body=body, user=user)
        handler = self._handler(route.handler)
        with self._invoke:
            result = handler(event, LocalContext(function_name=route.handler))
        return _http_response(result)


def _error(status: int, error: str, message: str) -> HttpResponse:
    body = json.dumps({"error": error, "message": message}).encode()
    return HttpResponse(status, {"Content-Type": "application/json"}, body)


def _http_response(result: Mapping[str, Any]) -> HttpResponse:
    headers: dict[str, str] = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(name)] = ", ".join(str(v) for v in values)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return HttpResponse(int(result.get("statusCode", 500)), headers, body)


# --- frames between local mode's front process and its API workers ----------------------------
#
# A frame is a 4-byte big-endian length, that many bytes of JSON (the request line and headers,
# or the status and headers), then ``bodyLength`` raw bytes of body (-1: no body at all).

_LENGTH = struct.Struct(">I")


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    query: str
    body: bytes | None


def _write_frame(stream: BinaryIO, header: dict[str, Any], body: bytes | None) -> None:
    encoded = json.dumps({**header, "bodyLength": -1 if body is None else len(body)}).encode()
    stream.write(_LENGTH.pack(len(encoded)) + encoded)
    if body:
        stream.write(body)
    stream.flush()


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other process closed the connection mid-frame")
    return data


def _read_frame(stream: BinaryIO) -> tuple[dict[str, Any], bytes | None] | None:
    """The next frame; None if the other side closed the connection between frames."""
    prefix = stream.read(_LENGTH.size)
    if not prefix:
        return None
    if len(prefix) < _LENGTH.size:
        raise EOFError("the other process closed the connection mid-frame")
    header: dict[str, Any] = json.loads(_read_exact(stream, _LENGTH.unpack(prefix)[0]))
    size = int(header.pop("bodyLength"))
    return header, (None if size < 0 else _read_exact(stream, size))


def write_request(stream: BinaryIO, request: HttpRequest) -> None:
    header = {
        "method": request.method,
        "path": request.path,
        "headers": request.headers,
        "query": request.query,
    }
    _write_frame(stream, header, request.body)


def read_request(stream: BinaryIO) -> HttpRequest | None:
    frame = _read_frame(stream)
    if frame is None:
        return None
    header, body = frame
    return HttpRequest(
        str(header["method"]), str(header["path"]), dict(header["headers"]), str(header["query"]), body
    )


def announce_ready(stream: BinaryIO) -> None:
    """A worker's first frame: its handlers are imported and it takes requests."""
    _write_frame(stream, {"ready": True}, None)


def await_ready(stream: BinaryIO) -> bool:
    frame = _read_frame(stream)
    return frame is not None and frame[0].get("ready") is True


def acknowledge(stream: BinaryIO) -> None:
    """A worker has read a request whole and is about to run it."""
    _write_frame(stream, {"received": True}, None)


def await_acknowledgement(stream: BinaryIO) -> bool:
    """False when the worker ended before it took the request: the request never ran."""
    try:
        frame = _read_frame(stream)
    except (OSError, EOFError, ValueError):
        return False
    return frame is not None and frame[0].get("received") is True


def write_response(stream: BinaryIO, response: HttpResponse) -> None:
    _write_frame(stream, {"status": response.status, "headers": response.headers}, response.body)


def read_response(stream: BinaryIO) -> HttpResponse:
    frame = _read_frame(stream)
    if frame is None:
        raise EOFError("the other process closed the connection before it answered")
    header, body = frame
    return HttpResponse(int(header["status"]), dict(header["headers"]), body or b"")
