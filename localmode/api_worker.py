"""An API worker of local mode: runs the handlers for the front process, one invocation at a time
(as a Lambda container does), on requests read from a private socket pair; it listens on no port.

Started by the front process (localmode.server.WorkerPool) with the handlers' environment
and one end of the socket pair as ``--fd``. It stops when told (SIGTERM: after the invocation in
hand, if any) or when the front process goes away (its end of the pair closes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import socket
from types import FrameType
from typing import BinaryIO, cast

from localmode.gateway import (
    Gateway,
    HttpResponse,
    acknowledge,
    announce_ready,
    read_request,
    write_response,
)


def serve(gateway: Gateway, stream: BinaryIO) -> int:
    """Answer requests until the front process closes the connection (or this worker stops)."""
    while True:
        try:
            request = read_request(stream)
        except (OSError, EOFError, ValueError):
            return 0  # closed mid-frame: the front process went away, or this worker is stopping
        if request is None:
            return 0
        try:
            acknowledge(stream)
        except OSError:
            return 0
        try:
            response = gateway.handle(
                request.method, request.path, request.headers, request.query, request.body
            )
        except Exception as exc:  # the handlers answer errors themselves; this is the gateway failing
            body = json.dumps({"error": "internal_error", "message": f"{type(exc).__name__}: {exc}"})
            response = HttpResponse(500, {"Content-Type": "application/json"}, body.encode())
        try:
            write_response(stream, response)
        except OSError:
            return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m localmode.api_worker")
    parser.add_argument("--fd", type=int, required=True, help="this worker's end of the socket pair")
    options = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    connection = socket.socket(fileno=options.fd)
    stream = cast(BinaryIO, connection.makefile("rwb"))

    def on_terminate(_signum: int, _frame: FrameType | None) -> None:
        # Take no more requests: a read waiting for one ends (EOF), the one in hand is answered,
        # and the front process gets an error writing the next, which it then gives to another.
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RD)

    signal.signal(signal.SIGTERM, on_terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the front process decides when workers stop
    gateway = Gateway()
    gateway.warm()
    announce_ready(stream)
    return serve(gateway, stream)


if __name__ == "__main__":
    raise SystemExit(main())
