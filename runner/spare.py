"""A runner started before its build: ``python -m runner.spare``.

Local mode's CodeBuild stand-in keeps one waiting, past the interpreter's start, the runner's
imports and the HCL parser's tables (~0.3 s of CPU that every build paid before its first step).
When a build starts, the stand-in writes the build's order on its stdin, one JSON line: the
environment (the whole of it, as a fresh process would get), the working directory and the log
file. The process becomes that build's runner from then on: same pid, same session, the same
signals and exit code as ``python -m runner``. End of input without an order: nothing to run.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from core.hcl.native import warm_parser
from runner.app import exit_with, main


def take_order(order: Mapping[str, Any]) -> None:
    """Become the build's process: its environment, directory, stdin and output."""
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(order["environment"]).items()})
    os.chdir(str(order["cwd"]))
    log = os.open(str(order["log"]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)


def serve() -> int:
    warm_parser()
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    take_order(json.loads(line))
    return main()


if __name__ == "__main__":
    exit_with(serve())
