"""``python -m runner``: the entry point the CodeBuild build (and local mode's stand-in) calls."""

import logging
import os
import sys
import threading

from runner.app import main

code = main()
# The job is over: every record is written and terraform has exited. The interpreter's teardown
# (freeing every module and botocore's models) took ~0.09 s of each job; only flushing is left.
# A thread still running (none should be) gets the ordinary exit, which waits for it.
if threading.active_count() == 1:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
raise SystemExit(code)
