"""Local mode's sandbox: where deployments with target ``sandbox`` create their AWS resources.

It is a second emulator, apart from the one holding the service's records and state: its own
process (so its own moto backends), its own port, and one emulated account per project. Runners
ask it for a project's account (``POST /_sandbox/accounts``) and relay terraform's requests to it
through their sandbox bridge, which puts every request in that account (runner/bridges.py).
Nothing of a job reaches it directly: jobs run in a network namespace of their own.

``python -m localmode.sandbox --port 0`` prints ``ready http://127.0.0.1:<port>``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from moto.iam.models import iam_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

FIRST_ACCOUNT = 100_000_000_001
SANDBOX_USER = "sandbox-deployer"
_PROJECT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Account:
    account_id: str
    access_key_id: str
    secret_access_key: str

    def as_dict(self) -> dict[str, str]:
        return {
            "accountId": self.account_id,
            "accessKeyId": self.access_key_id,
            "secretAccessKey": self.secret_access_key,
        }


class Accounts:
    """One emulated account per project, numbered in order of first use and remembered on disk."""

    def __init__(self, registry: Path | None) -> None:
        self.registry = registry
        # Held while an account is made (it writes IAM) and by SandboxApp around every request.
        self.lock = threading.RLock()
        self._accounts: dict[str, Account] = {}
        self._numbers: dict[str, str] = {}
        if registry is not None and registry.is_file():
            self._numbers = dict(json.loads(registry.read_text()))

    def for_project(self, project_id: str) -> Account:
        with self.lock:
            if project_id in self._accounts:
                return self._accounts[project_id]
            number = self._numbers.get(project_id)
            if number is None:
                number = str(FIRST_ACCOUNT + len(self._numbers))
                self._numbers[project_id] = number
                self._save()
            backend = iam_backends[number]["aws"]
            if SANDBOX_USER not in backend.users:
                backend.create_user("us-east-1", SANDBOX_USER)
            key = backend.create_access_key(SANDBOX_USER)
            account = Account(number, key.access_key_id, key.secret_access_key)
            self._accounts[project_id] = account
            return account

    def _save(self) -> None:
        if self.registry is None:
            return
        partial = self.registry.with_suffix(".tmp")
        partial.write_text(json.dumps(self._numbers, indent=2))
        partial.replace(self.registry)


class SandboxApp:
    """moto's server, one request at a time, and the accounts endpoint.

    moto's backends are plain dicts that requests iterate while others write them: concurrent
    IAM creates fail with "dictionary changed size during iteration" (``get_role`` and
    ``attach_role_policy`` iterate the roles and policies a ``create_role`` or ``create_policy``
    adds to). The lock is one for every service, not one per service: backends read each other
    (Lambda and STS look roles up in IAM, the accounts endpoint writes IAM), and under the GIL
    one lock serves as many requests a second as one per service (50 threads of IAM, S3, SQS and
    DynamoDB creates: 91 requests/s with one lock, 102 with one per service, 92 with none).
    """

    def __init__(self, accounts: Accounts) -> None:
        self.app = DomainDispatcherApplication(create_backend_app)
        self.accounts = accounts
        self.lock = accounts.lock

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")) == "/_sandbox/accounts":
            return self._account(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))

    def _account(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            project = str(body["projectId"])
        except (ValueError, KeyError, TypeError):
            project = ""
        if environ.get("REQUEST_METHOD") != "POST" or not _PROJECT.fullmatch(project):
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [b'{"message": "POST {\\"projectId\\": ...}"}']
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(self.accounts.for_project(project).as_dict()).encode()]


class SandboxProcess:
    """The sandbox emulator as a child process; ``endpoint_url`` once it is ready."""

    def __init__(self, data_dir: Path | None = None, port: int = 0) -> None:
        command = [sys.executable, "-m", "localmode.sandbox", "--port", str(port)]
        if data_dir is not None:
            command += ["--data-dir", str(data_dir)]
        repo = Path(__file__).resolve().parents[1]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        environment["PYTHONPATH"] = str(repo)
        self.process = subprocess.Popen(
            command, cwd=repo, env=environment, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("ready "):
            self.process.kill()
            raise RuntimeError(f"the sandbox emulator did not start: {line!r}")
        self.endpoint_url = line.split()[1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m localmode.sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=None)
    options = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    # As in AWS without bucket policies: a bucket is reachable from its own account only (moto
    # otherwise finds any account's bucket by its name).
    os.environ["MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS"] = "false"
    registry = None
    if options.data_dir is not None:
        options.data_dir.mkdir(parents=True, exist_ok=True)
        options.data_dir.chmod(0o700)
        registry = options.data_dir / "accounts.json"
    server = make_server(options.host, options.port, SandboxApp(Accounts(registry)), threaded=True)
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Ends with its parent: local mode holds our stdin open for as long as it runs.
    threading.Thread(target=_exit_when_orphaned, args=(server,), daemon=True).start()
    print(f"ready http://{options.host}:{server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.2)
    return 0


def _exit_when_orphaned(server: Any) -> None:
    while sys.stdin.read(1):
        time.sleep(0)
    server.shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
