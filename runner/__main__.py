"""``python -m runner``: the entry point the CodeBuild build (and local mode's stand-in) calls."""

from runner.app import exit_with, main

exit_with(main())
