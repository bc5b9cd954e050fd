"""An extra API process of local mode: the same handlers on the same port (SO_REUSEPORT), so
requests are served on more than one core; the main process keeps the emulator and the builds.

Started by the main process with the handlers' environment; ``/_local/`` goes to the main one.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from types import FrameType

from provisioner.local.server import ApiServer


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m provisioner.local.api_worker")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control-url", required=True)
    options = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    api = ApiServer(options.host, options.port, control_url=options.control_url)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=api.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when workers stop
    threading.Thread(target=_exit_with_parent, args=(api,), name="parent-watch", daemon=True).start()
    api.serve_forever()
    return 0


def _exit_with_parent(api: ApiServer) -> None:
    """A worker outliving a killed main process would answer with a dead emulator behind it."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    api.shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
