"""Running the command line in-process (``provisioner.cli.main``) with its output captured."""

from __future__ import annotations

import io
import json
import os
import re
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioner.cli import main
from tests.support.jobs import REPO_ROOT

CONSOLE_SCRIPT = REPO_ROOT / ".venv" / "bin" / "provisioner"
JOB_ID = re.compile(r"\b(?:deploy|destroy)-\d{13}-[a-z0-9]+\b")


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def job_id(self) -> str:
        """The first job id the command printed (it names the job on stderr)."""
        found = JOB_ID.search(self.err) or JOB_ID.search(self.out)
        assert found, (self.out, self.err)
        return found.group(0)


def invoke(*argv: str, endpoint: str | None = None) -> Run:
    """main(argv), with ``--endpoint`` first when given; rich writes to whatever sys.stdout is."""
    out, err = io.StringIO(), io.StringIO()
    arguments = [*(["--endpoint", endpoint] if endpoint else []), *argv]
    # The width a CI log gets: a COLUMNS left by the machine (or another test) must not fold tables.
    saved = os.environ.pop("COLUMNS", None)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(arguments)
    finally:
        if saved is not None:
            os.environ["COLUMNS"] = saved
    return Run(code, out.getvalue(), err.getvalue())


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Files under root (relative path -> text or bytes); returns root."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root
