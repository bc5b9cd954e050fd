"""Read the environment, install the signal path, run the job; the exit code is the result."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import NoReturn

from pydantic import ValidationError

from core.toolchain import ToolchainError, find_toolchain
from runner.credentials import runner_session
from runner.pipeline import Run
from runner.settings import RunnerSettings, describe_settings_error
from runner.store import RunStore

EXIT_BAD_SETTINGS = 2


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = RunnerSettings.from_environment()
    except ValidationError as exc:
        print(describe_settings_error(exc), file=sys.stderr)
        return EXIT_BAD_SETTINGS
    # The service's endpoint is passed to each client explicitly: AWS SDKs would otherwise send
    # every client this process makes there, real deployments' included.
    os.environ.pop("AWS_ENDPOINT_URL", None)
    session = runner_session(settings)
    store = RunStore(settings, session)
    try:
        toolchain = find_toolchain()
    except ToolchainError as exc:
        store.mark_started()
        store.fail(
            error=f"no terraform available: {exc}", log_tail="", diagnostics=[], deployment_status=None
        )
        return 1
    run = Run(settings, toolchain, store, session)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("runner").warning(
            "received %s: stopping terraform gracefully", signal.Signals(signum).name
        )
        run.cancel()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return run.execute()


def exit_with(code: int) -> NoReturn:
    """The job is over: every record is written and terraform has exited. The interpreter's
    teardown (freeing every module and botocore's models) took ~0.09 s of each job; only flushing
    is left. A thread still running (none should be) gets the ordinary exit, which waits for it."""
    if threading.active_count() == 1:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)
