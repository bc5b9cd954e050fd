"""The only ways out of a job's network namespace: HTTP relays run by the runner, each with a policy.

- The **state bridge** relays terraform's S3 backend to the service's own emulator, for this
  project's state object and lock items only: locally, it is what the job's IAM session policy is
  in AWS (an allow-list of keys), since the emulator itself checks no policy.
- The **sandbox bridge** relays the AWS providers to the sandbox emulator and puts every request in
  this project's emulated account, whatever credentials it carries: the emulator picks the account
  from the access key, and the bridge writes the project's key into every request. Requests that
  would bypass that (unsigned, pre-signed, the emulator's own control API) are refused.
- The **egress proxy** (target ``aws`` in local mode) tunnels HTTPS to AWS endpoints only.

Each relay parses the request fully before anything is forwarded, and rewrites the Host header to
the upstream, so what the policy judged is what the upstream sees.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import select
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, unquote_to_bytes, urlsplit

from core.records import LOCKFILE_SUFFIX

MAX_BODY_BYTES = 512 * 1024 * 1024
UPSTREAM_TIMEOUT_SECONDS = 600
# How often a relay's accept loop checks for shutdown (socketserver's poll_interval).
BRIDGE_POLL_SECONDS = 0.01
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
        "content-length",
        "host",
    }
)

Log = Callable[[str], None]


@dataclass
class Request:
    method: str
    target: str  # path and query, as sent
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.target).path)

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.target).query, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def set_header(self, name: str, value: str | None) -> None:
        wanted = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != wanted]
        if value is not None:
            self.headers.append((name, value))


class Refused(Exception):
    """The request is outside what the job may do; the reason goes to the job's log."""


Policy = Callable[[Request], None]


# --- policies ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatePolicy:
    """This project's state object (and its S3 lock file) and its DynamoDB lock items, nothing else."""

    bucket: str
    key: str
    lock_table: str
    lock_ids: frozenset[str]

    def __call__(self, request: Request) -> None:
        target = request.header("X-Amz-Target") or ""
        if target.startswith("DynamoDB_"):
            self._dynamodb(target.partition(".")[2], request)
        elif request.method == "POST" and request.path == "/":
            form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
            if form.get("Action") != "GetCallerIdentity":
                raise Refused(f"{form.get('Action') or 'this request'} is not part of a state backend")
        else:
            self._s3(request)

    def _dynamodb(self, operation: str, request: Request) -> None:
        if operation not in ("GetItem", "PutItem", "DeleteItem", "UpdateItem", "DescribeTable"):
            raise Refused(f"DynamoDB {operation} is not part of a state backend")
        try:
            document = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise Refused("an unreadable DynamoDB request") from exc
        if not isinstance(document, dict) or document.get("TableName") != self.lock_table:
            raise Refused("only the lock table may be used")
        if operation == "DescribeTable":
            return
        item = document.get("Item" if operation == "PutItem" else "Key")
        lock_id = ((item or {}).get("LockID") or {}).get("S") if isinstance(item, dict) else None
        if lock_id not in self.lock_ids:
            raise Refused(f"lock item {lock_id!r} is not this project's")

    def _s3(self, request: Request) -> None:
        parts = request.path.lstrip("/").split("/", 1)
        bucket, key = parts[0], (parts[1] if len(parts) > 1 else "")
        if bucket != self.bucket:
            raise Refused(f"bucket {bucket!r} is not the state bucket")
        query = dict(request.query)
        if not key:
            # The backend lists workspaces under its workspace prefix; nothing else is listed.
            if request.method == "GET" and query.get("prefix") == "env:/":
                return
            raise Refused("the state bucket may not be listed")
        if set(query) - {"x-id"}:
            raise Refused(f"sub-resources {sorted(set(query) - {'x-id'})} of the state are not allowed")
        lockfile = self.key + LOCKFILE_SUFFIX
        allowed = {self.key: ("GET", "HEAD", "PUT"), lockfile: ("GET", "HEAD", "PUT", "DELETE")}
        if request.method not in allowed.get(key, ()):
            raise Refused(f"{request.method} of {key!r} is not allowed: only this project's state")
        if key == lockfile and request.method == "PUT" and request.header("If-None-Match") != "*":
            # As the job's IAM policy in AWS: a lock file is only written where none is, so a held
            # lock is never overwritten (terraform 1.10+ always asks so).
            raise Refused("the lock file may only be written where none is (If-None-Match: *)")


_CREDENTIAL = re.compile(r"(Credential=)([^/,\s]+)(/)")
_CONTROL_PATHS = ("/moto-api", "/_")
# An account named in an ARN (arn:aws:sqs:us-east-1:111122223333:q) or a queue URL (/111122223333/q).
_ACCOUNT_REFERENCE = re.compile(rb"(?:arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:|/)(\d{12})(?=[:/])")


@dataclass(frozen=True)
class SandboxPolicy:
    """Every request, signed as anyone, lands in the project's own emulated account, and names no
    other sandbox account's resources (the emulator checks no resource policies)."""

    access_key_id: str
    account_id: str
    sandbox_accounts: re.Pattern[str] = re.compile(r"^10{5}\d{6}$")

    def __call__(self, request: Request) -> None:
        if request.path.startswith(_CONTROL_PATHS):
            raise Refused("the emulator's control API is not part of AWS")
        # Form-encoded bodies (SQS, SNS, IAM) carry ARNs and queue URLs percent-encoded.
        for text in (unquote(request.target).encode(), request.body, unquote_to_bytes(request.body)):
            for found in _ACCOUNT_REFERENCE.findall(text):
                account = found.decode()
                if account != self.account_id and self.sandbox_accounts.fullmatch(account):
                    raise Refused(f"account {account} is another project's")
        names = {name.lower() for name, _ in request.query}
        if names & {"x-amz-credential", "awsaccesskeyid", "x-amz-signature", "signature"}:
            raise Refused("pre-signed requests are not accepted in the sandbox")
        authorization = request.header("Authorization") or ""
        if not authorization.startswith("AWS4-HMAC-SHA256 ") or not _CREDENTIAL.search(authorization):
            raise Refused("unsigned requests are not accepted in the sandbox")
        request.set_header(
            "Authorization", _CREDENTIAL.sub(rf"\g<1>{self.access_key_id}\g<3>", authorization)
        )
        request.set_header("X-Amz-Security-Token", None)


# --- the relay --------------------------------------------------------------------------------


class _RelayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body are two writes: with Nagle's algorithm the body waited for the
    # client's delayed ACK, ~40 ms on every relayed request.
    disable_nagle_algorithm = True
    bridge: ClassVar[Bridge]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_") and name != "do_CONNECT":
            return self._relay
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        """Refusals are reported to the job's log; the rest is not worth a line."""

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise Refused("the request body is too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise Refused("the request body is too large")
        return self.rfile.read(length) if length else b""

    def _relay(self) -> None:
        bridge = self.bridge
        try:
            body = self._read_body()
            request = Request(self.command, self.path, list(self.headers.items()), body)
            bridge.policy(request)
        except Refused as refusal:
            bridge.refused(f"{self.command} {self.path[:200]}: {refusal}")
            self._answer(403, json.dumps({"message": f"refused by the job's policy: {refusal}"}).encode())
            return
        except (ValueError, OSError):
            self._answer(400, b'{"message": "malformed request"}')
            self.close_connection = True
            return
        headers = {k: v for k, v in request.headers if k.lower() not in HOP_BY_HOP}
        headers["Host"] = bridge.upstream_host
        connection = http.client.HTTPConnection(
            bridge.upstream[0], bridge.upstream[1], timeout=UPSTREAM_TIMEOUT_SECONDS
        )
        try:
            connection.request(request.method, request.target, body=request.body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            reply_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            status = response.status
        except OSError as exc:
            self._answer(502, json.dumps({"message": f"upstream unavailable: {exc}"}).encode())
            return
        finally:
            connection.close()
        self.send_response(status)
        for name, value in reply_headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _answer(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


class _ConnectHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as the relays': a tunnel's small writes go out at once
    proxy: ClassVar[EgressProxy]

    def log_message(self, format: str, *args: Any) -> None:
        """Refusals are reported to the job's log."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_") and name != "do_CONNECT":
            return self._refuse_plain
        raise AttributeError(name)

    def _refuse_plain(self) -> None:
        self.proxy.refused(f"{self.command} {self.path[:200]}: only HTTPS (CONNECT) leaves the job")
        self.send_error(403, "only CONNECT to allowed hosts")

    def do_CONNECT(self) -> None:
        host, _, port_text = self.path.rpartition(":")
        if not self.proxy.allows(host, port_text):
            self.proxy.refused(f"CONNECT {self.path[:200]}: not an allowed destination")
            self.send_error(403, "destination not allowed")
            return
        try:
            upstream = socket.create_connection(self.proxy.resolve(host, int(port_text)), timeout=30)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            self.send_error(502, "cannot reach the destination")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        _pump(self.connection, upstream)
        self.close_connection = True


def _pump(left: socket.socket, right: socket.socket) -> None:
    with contextlib.closing(right):
        sockets = [left, right]
        while True:
            readable, _, _ = select.select(sockets, [], [], 300)
            if not readable:
                return
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return
                (right if source is left else left).sendall(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@dataclass
class _Serving:
    server: _Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _serve(listener: socket.socket, handler: type[BaseHTTPRequestHandler], name: str) -> _Serving:
    server = _Server(listener.getsockname(), handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    # shutdown() waits for the loop's next wake-up: at 0.2 s a job's end waited ~0.1 s per bridge.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": BRIDGE_POLL_SECONDS}, name=name, daemon=True
    )
    thread.start()
    return _Serving(server, thread)


@dataclass
class Bridge:
    """An HTTP relay from a listening socket (in the job's network) to one upstream (the host's)."""

    name: str
    upstream: tuple[str, int]
    policy: Policy
    log: Log
    _serving: _Serving | None = field(default=None, repr=False)

    @property
    def upstream_host(self) -> str:
        return f"{self.upstream[0]}:{self.upstream[1]}"

    def refused(self, what: str) -> None:
        self.log(f"{self.name}: refused {what}")

    def start(self, listener: socket.socket) -> None:
        handler = type(f"{self.name}-handler", (_RelayHandler,), {"bridge": self})
        self._serving = _serve(listener, handler, self.name)

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.stop()
            self._serving = None


@dataclass
class EgressProxy:
    """HTTPS tunnels to hosts under the allowed suffixes (AWS endpoints by default), port 443 only."""

    allowed_suffixes: Sequence[str]
    log: Log
    resolve: Callable[[str, int], tuple[str, int]] = lambda host, port: (host, port)
    _serving: _Serving | None = field(default=None, repr=False)

    def allows(self, host: str, port: str) -> bool:
        host = host.strip("[]").lower().rstrip(".")
        if port != "443" or not re.fullmatch(r"[a-z0-9.-]+", host):
            return False
        return any(host == s.lstrip(".") or host.endswith("." + s.lstrip(".")) for s in self.allowed_suffixes)

    def refused(self, what: str) -> None:
        self.log(f"egress: refused {what}")

    def start(self, listener: socket.socket) -> None:
        handler = type("egress-handler", (_ConnectHandler,), {"proxy": self})
        self._serving = _serve(listener, handler, "egress")

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.stop()
            self._serving = None


def parse_endpoint(url: str) -> tuple[str, int]:
    """``http://127.0.0.1:5000`` -> ("127.0.0.1", 5000); the emulators speak plain HTTP on loopback."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.port is None:
        raise ValueError(f"not an http://host:port endpoint: {url}")
    return parts.hostname, parts.port
